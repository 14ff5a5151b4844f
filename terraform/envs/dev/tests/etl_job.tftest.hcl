# modules/etl_job: the task role writes the lake's own prefixes and gets IAM
# database credentials for the two application users; it reads no secret.
# The container runs read-only and is told to use IAM auth as those users.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                        = "spacex-elt-test-etl"
  image_tag                   = "0.1.0"
  lake_bucket_name            = "spacex-elt-test-lake"
  lake_bucket_arn             = "arn:aws:s3:::spacex-elt-test-lake"
  lake_kms_key_arn            = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  redshift_host               = "spacex-elt-test-redshift.abc123xyz789.eu-west-1.redshift.amazonaws.com"
  redshift_database           = "spacex"
  redshift_cluster_identifier = "spacex-elt-test-redshift"
  redshift_load_user          = "loader"
  redshift_dbt_user           = "transformer"
  redshift_copy_role_arn      = "arn:aws:iam::123456789012:role/spacex-elt-test-redshift-copy-from-lake"
  redshift_credential_arns = [
    "arn:aws:redshift:eu-west-1:123456789012:dbuser:spacex-elt-test-redshift/loader",
    "arn:aws:redshift:eu-west-1:123456789012:dbuser:spacex-elt-test-redshift/transformer",
    "arn:aws:redshift:eu-west-1:123456789012:dbname:spacex-elt-test-redshift/spacex",
  ]
}

run "task_role_and_container" {
  command = apply

  module {
    source = "../../modules/etl_job"
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.task.statement : s.actions])) == toset([
      "s3:PutObject", "s3:GetObject", "s3:ListBucket", "kms:GenerateDataKey", "kms:Decrypt", "redshift:GetClusterCredentials",
    ]) && alltrue([for s in data.aws_iam_policy_document.task.statement : s.effect == "Allow"])
    error_message = "task-role-actions: the task role may only put/get/list lake objects, use the lake key and get database credentials (no secretsmanager, no delete)."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.task.statement : s.resources if contains(s.actions, "redshift:GetClusterCredentials")
    ])) == toset(var.redshift_credential_arns)
    error_message = "task-role-db-credentials: GetClusterCredentials only for the loader and transformer users of this cluster's database."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.task.statement : alltrue([
        for r in s.resources : !strcontains(r, "secretsmanager") && !strcontains(r, ":dbuser:spacex-elt-test-redshift/spacex_admin")
      ])
    ])
    error_message = "task-role-no-admin-secret: the task role must not reach the admin secret or the admin user."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.task.statement : s.resources if contains(s.actions, "s3:PutObject")
      ])) == toset([
      "arn:aws:s3:::spacex-elt-test-lake/raw/spacex/*",
      "arn:aws:s3:::spacex-elt-test-lake/staged/spacex/*",
      "arn:aws:s3:::spacex-elt-test-lake/quarantine/spacex/*",
      "arn:aws:s3:::spacex-elt-test-lake/reports/spacex/*",
    ])
    error_message = "task-role-lake-prefixes: the task writes only the lake's raw/, staged/, quarantine/ and reports/ spacex prefixes."
  }

  assert {
    condition = (
      output.environment["SPACEX_REDSHIFT_AUTH_METHOD"] == "iam" &&
      output.environment["SPACEX_REDSHIFT_USER"] == var.redshift_load_user &&
      output.environment["SPACEX_REDSHIFT_DBT_USER"] == var.redshift_dbt_user &&
      output.environment["SPACEX_REDSHIFT_CLUSTER_ID"] == var.redshift_cluster_identifier &&
      length([for k in keys(output.environment) : k if strcontains(k, "SECRET") || strcontains(k, "PASSWORD")]) == 0
    )
    error_message = "task-env-iam-auth: the container must log in with IAM auth as the two users and get no secret or password variable."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true &&
      aws_ecs_task_definition.this.task_role_arn == aws_iam_role.task.arn
    )
    error_message = "task-read-only: the container's root file system must be read-only, running with the task role."
  }
}
