# The role Redshift assumes to COPY from the lake. It can read the staged/
# prefix the loader copies from (Parquet + manifests) and nothing else: not
# raw/, not quarantine/, not other buckets, and it cannot write anywhere.
# Only the load user of this cluster may have Redshift assume it.

locals {
  copy_object_arns = [for p in var.copy_prefixes : "${var.lake_bucket_arn}/${p}*"]
  copy_list_prefix = [for p in var.copy_prefixes : "${p}*"]
}

data "aws_iam_policy_document" "copy_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com"]
    }

    # Redshift passes the ARN of the database user running COPY as the
    # external id (AWS's documented way to restrict a Redshift role): only
    # the load user of this cluster may use the role.
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.load_user_arn]
    }

    # Confused-deputy keys, enforced whenever Redshift sends them. IfExists, not
    # strict: Redshift's guide to restricting COPY roles ("Restricting access to
    # IAM roles", Redshift management guide) documents sts:ExternalId only, and no
    # AWS page says Redshift puts aws:SourceAccount / aws:SourceArn into the
    # AssumeRole it makes for COPY; a strict key it does not send would refuse
    # every COPY. The strict ExternalId above already pins the account and the
    # cluster (both are in the load user's ARN). Make these strict once a COPY on
    # a real cluster passes with them (README, "Not proven here").
    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnEqualsIfExists"
      variable = "aws:SourceArn"
      values   = [local.cluster_arn]
    }
  }
}

resource "aws_iam_role" "copy" {
  name               = "${var.cluster_identifier}-copy-from-lake"
  description        = "Assumed by this Redshift cluster for COPY from the lake's staged/ prefix."
  assume_role_policy = data.aws_iam_policy_document.copy_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "copy_read_lake" {
  statement {
    sid       = "ReadStagedPrefix"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = local.copy_object_arns
  }

  statement {
    sid       = "ListStagedPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.lake_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.copy_list_prefix
    }
  }

  statement {
    sid       = "DecryptLakeObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.lake_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "copy_read_lake" {
  name   = "read-lake-staged-prefix"
  role   = aws_iam_role.copy.id
  policy = data.aws_iam_policy_document.copy_read_lake.json
}
