data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  log_group_arn_prefix = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/redshift/cluster/${var.cluster_identifier}/"
}

# One key for everything the warehouse owns at rest: the cluster's data
# blocks and snapshots, the master-password secret, and its audit log groups.
data "aws_iam_policy_document" "warehouse_key" {
  #checkov:skip=CKV_AWS_109:This is a KMS key policy, not an identity policy: its "*" resource is the key itself and the root statement is AWS's default delegation to IAM.
  #checkov:skip=CKV_AWS_111:KMS key policy: "*" is the key itself; write access is granted by the scoped IAM role policies, not here.
  #checkov:skip=CKV_AWS_356:KMS key policy: a key policy's resource can only be "*" (this key).
  statement {
    sid    = "AccountAdministersKeyThroughIam"
    effect = "Allow"
    # Wildcard: in a key policy "*" means "this key"; the account root keeps
    # control so IAM policies (not this document) decide who may use the key.
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsRedshiftAuditLogs"
    effect = "Allow"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    # Wildcard: in a key policy "*" means "this key"; the condition below pins
    # use to this cluster's audit log groups.
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["${local.log_group_arn_prefix}*"]
    }
  }
}

resource "aws_kms_key" "warehouse" {
  description             = "${var.cluster_identifier}: Redshift storage, master secret and audit logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.warehouse_key.json

  tags = var.tags
}

resource "aws_kms_alias" "warehouse" {
  name          = "alias/${var.cluster_identifier}"
  target_key_id = aws_kms_key.warehouse.key_id
}
