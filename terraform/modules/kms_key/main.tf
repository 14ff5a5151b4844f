# A customer managed KMS key with rotation and an alias. Its policy delegates
# administration and use to IAM through the account root (AWS's default key
# policy) and lets only the AWS services the caller names use the key, each
# under the conditions the caller passes (e.g. one CloudWatch log group).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "this" {
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

  dynamic "statement" {
    for_each = var.service_statements

    content {
      sid     = statement.value.sid
      effect  = "Allow"
      actions = statement.value.actions
      # Wildcard: in a key policy "*" means "this key"; the caller's conditions
      # (at least one, see the variable) pin use to its own resources.
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = statement.value.services
      }

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.this.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
