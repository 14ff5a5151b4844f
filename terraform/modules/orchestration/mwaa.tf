resource "aws_mwaa_environment" "this" {
  name               = var.name
  airflow_version    = var.airflow_version
  environment_class  = var.environment_class
  min_workers        = var.min_workers
  max_workers        = var.max_workers
  execution_role_arn = aws_iam_role.mwaa.arn
  kms_key            = aws_kms_key.mwaa.arn

  source_bucket_arn = aws_s3_bucket.dags.arn
  dag_s3_path       = "dags/"

  # The web server has no public endpoint; reach it through the VPC
  # (VPN, bastion or SSM port forwarding).
  webserver_access_mode = "PRIVATE_ONLY"

  network_configuration {
    security_group_ids = [var.security_group_id]
    subnet_ids         = var.subnet_ids
  }

  airflow_configuration_options = var.airflow_configuration_options

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = "INFO"
    }

    scheduler_logs {
      enabled   = true
      log_level = "INFO"
    }

    task_logs {
      enabled   = true
      log_level = "INFO"
    }

    webserver_logs {
      enabled   = true
      log_level = "INFO"
    }

    worker_logs {
      enabled   = true
      log_level = "INFO"
    }
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.mwaa,
    aws_s3_bucket_public_access_block.dags,
    aws_s3_bucket_versioning.dags,
    aws_s3_bucket_policy.dags,
  ]
}
