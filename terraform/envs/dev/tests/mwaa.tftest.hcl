# modules/orchestration: the MWAA environment has no public endpoint, is
# encrypted with its own key, logs everything, and may run only the ELT task.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "mwaa_is_private" {
  command = apply

  module {
    source = "../../modules/orchestration"
  }

  variables {
    name                   = "spacex-elt-test"
    subnet_ids             = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
    security_group_id      = "sg-0000000000000000b"
    dags_bucket_name       = "airflow-spacex-elt-test-dags"
    access_log_bucket_name = "spacex-elt-test-s3-access-logs"
    ecs_cluster_arn        = "arn:aws:ecs:eu-west-1:123456789012:cluster/spacex-elt-test-etl"
    ecs_cluster_name       = "spacex-elt-test-etl"
    task_definition_family = "spacex-elt-test-etl"
    ecs_task_role_arn      = "arn:aws:iam::123456789012:role/spacex-elt-test-etl-task"
    ecs_execution_role_arn = "arn:aws:iam::123456789012:role/spacex-elt-test-etl-execution"
    ecs_log_group_arn      = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/spacex-elt-test-etl"
  }

  assert {
    condition     = aws_mwaa_environment.this.webserver_access_mode == "PRIVATE_ONLY"
    error_message = "mwaa-private: the Airflow web server must have no public endpoint."
  }

  assert {
    condition     = aws_mwaa_environment.this.kms_key == module.key.arn && one(aws_mwaa_environment.this.network_configuration).security_group_ids == toset([var.security_group_id])
    error_message = "mwaa-encrypted: MWAA must use its own key and only the orchestrator security group."
  }

  assert {
    condition = alltrue([
      for l in one(aws_mwaa_environment.this.logging_configuration).task_logs : l.enabled
    ]) && alltrue([for l in one(aws_mwaa_environment.this.logging_configuration).scheduler_logs : l.enabled])
    error_message = "mwaa-logged: task and scheduler logs must be on."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.mwaa.statement : s.resources if contains(s.actions, "iam:PassRole")
    ])) == toset([var.ecs_task_role_arn, var.ecs_execution_role_arn])
    error_message = "mwaa-pass-role: MWAA may pass only the ELT task's two roles."
  }
}
