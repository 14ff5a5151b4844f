# envs/dev as a whole, MWAA included: the modules are wired so that the job
# logs in as the application users of this cluster, never as the admin.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "dev_environment_wiring" {
  command = apply

  variables {
    etl_image_tag = "0.1.0"
    enable_mwaa   = true
  }

  assert {
    condition = (
      output.etl_job_environment["SPACEX_REDSHIFT_USER"] == "loader" &&
      output.etl_job_environment["SPACEX_REDSHIFT_DBT_USER"] == "transformer" &&
      output.etl_job_environment["SPACEX_REDSHIFT_AUTH_METHOD"] == "iam" &&
      output.etl_job_environment["SPACEX_REDSHIFT_CLUSTER_ID"] == output.redshift_cluster_identifier &&
      output.etl_job_environment["SPACEX_REDSHIFT_IAM_ROLE_ARN"] == output.spacex_redshift_iam_role_arn
    )
    error_message = "env-wiring: the job must log in as loader/transformer on this cluster with IAM auth and COPY with the warehouse's role."
  }

  assert {
    condition     = !contains([output.spacex_redshift_user, output.spacex_redshift_dbt_user], "spacex_admin")
    error_message = "env-no-admin: neither the job nor dbt may log in as the admin user."
  }

  assert {
    condition     = output.mwaa_dags_bucket != null && output.mwaa_webserver_url != null
    error_message = "env-mwaa: enable_mwaa = true must create the MWAA environment and its DAGs bucket."
  }
}
