data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  redshift_arn_prefix = "arn:${data.aws_partition.current.partition}:redshift:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  cluster_arn         = "${local.redshift_arn_prefix}:cluster:${var.cluster_identifier}"

  # redshift:GetClusterCredentials is authorized on the database user and on
  # the database: these are the only resources the job's role gets it on.
  load_user_arn = "${local.redshift_arn_prefix}:dbuser:${var.cluster_identifier}/${var.load_user}"
  dbt_user_arn  = "${local.redshift_arn_prefix}:dbuser:${var.cluster_identifier}/${var.dbt_user}"
  app_user_credential_arns = concat(
    [local.load_user_arn, local.dbt_user_arn],
    ["${local.redshift_arn_prefix}:dbname:${var.cluster_identifier}/${var.database_name}"],
  )

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
