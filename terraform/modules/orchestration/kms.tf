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
data "aws_iam_policy_document" "mwaa_key" {
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
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsAirflowLogs"
    effect = "Allow"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    # Wildcard: in a key policy "*" means "this key"; the condition below pins
    # use to this environment's log groups.
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.airflow_log_group_arn]
    }
  }
}

resource "aws_kms_key" "mwaa" {
  description             = "${var.name}: MWAA environment and DAGs bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.mwaa_key.json

  tags = var.tags
}

resource "aws_kms_alias" "mwaa" {
  name          = "alias/${var.name}-mwaa"
  target_key_id = aws_kms_key.mwaa.key_id
}
