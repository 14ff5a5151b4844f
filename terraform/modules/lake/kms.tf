data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The lake key encrypts every object (SSE-KMS). Its policy only delegates to
# IAM: who may encrypt or decrypt is decided by the role policies (the job's
# task role, the Redshift COPY role), each of which names this key.
data "aws_iam_policy_document" "lake_key" {
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
}

resource "aws_kms_key" "lake" {
  description             = "${var.bucket_name}: SSE-KMS for the data lake objects"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.lake_key.json

  tags = var.tags
}

resource "aws_kms_alias" "lake" {
  name          = "alias/${var.bucket_name}"
  target_key_id = aws_kms_key.lake.key_id
}
