data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  log_group_arn_prefix = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/redshift/cluster/${var.cluster_identifier}/"
}

# One key for everything the warehouse owns at rest: the cluster's data
# blocks and snapshots, the master-password secret, and its audit log groups.
module "key" {
  source = "../kms_key"

  alias       = var.cluster_identifier
  description = "${var.cluster_identifier}: Redshift storage, master secret and audit logs"
  tags        = var.tags

  service_statements = [
    {
      sid      = "CloudWatchLogsEncryptsRedshiftAuditLogs"
      services = ["logs.${data.aws_region.current.name}.amazonaws.com"]
      # Only this cluster's audit log groups.
      conditions = [
        {
          test     = "ArnLike"
          variable = "kms:EncryptionContext:aws:logs:arn"
          values   = ["${local.log_group_arn_prefix}*"]
        },
      ]
    },
  ]
}

moved {
  from = aws_kms_key.warehouse
  to   = module.key.aws_kms_key.this
}

moved {
  from = aws_kms_alias.warehouse
  to   = module.key.aws_kms_alias.this
}
