data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  environment_arn       = "arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${var.name}"
  airflow_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${var.name}-*"
}

# Encrypts the MWAA environment (its metadata database, Celery queue, logs)
# and the DAGs bucket.
module "key" {
  source = "../kms_key"

  alias       = "${var.name}-mwaa"
  description = "${var.name}: MWAA environment and DAGs bucket"
  tags        = var.tags

  service_statements = [
    {
      sid      = "CloudWatchLogsEncryptsAirflowLogs"
      services = ["logs.${local.region}.amazonaws.com"]
      # Only this environment's log groups.
      conditions = [
        {
          test     = "ArnLike"
          variable = "kms:EncryptionContext:aws:logs:arn"
          values   = [local.airflow_log_group_arn]
        },
      ]
    },
  ]
}

moved {
  from = aws_kms_key.mwaa
  to   = module.key.aws_kms_key.this
}

moved {
  from = aws_kms_alias.mwaa
  to   = module.key.aws_kms_alias.this
}
