data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  log_group_name = "/ecs/${var.name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"
}

# Encrypts the container images in ECR and the job's log group.
module "key" {
  source = "../kms_key"

  alias       = var.name
  description = "${var.name}: ECR images and job logs"
  tags        = var.tags

  service_statements = [
    {
      sid      = "CloudWatchLogsEncryptsTheJobLogGroup"
      services = ["logs.${data.aws_region.current.name}.amazonaws.com"]
      # Only the job's log group.
      conditions = [
        {
          test     = "ArnEquals"
          variable = "kms:EncryptionContext:aws:logs:arn"
          values   = [local.log_group_arn]
        },
      ]
    },
  ]
}

moved {
  from = aws_kms_key.job
  to   = module.key.aws_kms_key.this
}

moved {
  from = aws_kms_alias.job
  to   = module.key.aws_kms_alias.this
}
