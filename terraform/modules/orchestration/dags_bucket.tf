# MWAA reads DAGs (and requirements.txt) from its own bucket: a separate
# bucket keeps "who may change the code that runs" apart from "who may
# write data". CI syncs dags/ into s3://<bucket>/dags/.

resource "aws_s3_bucket" "dags" {
  #checkov:skip=CKV_AWS_144:DAG code is rebuilt from git on every deploy; a cross-region replica adds nothing.
  #checkov:skip=CKV2_AWS_62:MWAA polls the bucket itself; no event consumer is needed.
  bucket        = var.dags_bucket_name
  force_destroy = false

  tags = merge(var.tags, { Name = var.dags_bucket_name, DataClass = "code" })
}

resource "aws_s3_bucket_ownership_controls" "dags" {
  bucket = aws_s3_bucket.dags.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "dags" {
  bucket = aws_s3_bucket.dags.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# MWAA requires versioning on its source bucket.
resource "aws_s3_bucket_versioning" "dags" {
  bucket = aws_s3_bucket.dags.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "dags" {
  bucket = aws_s3_bucket.dags.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.mwaa.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "dags" {
  bucket        = aws_s3_bucket.dags.id
  target_bucket = var.access_log_bucket_name
  target_prefix = "s3-access/${var.dags_bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "dags" {
  bucket = aws_s3_bucket.dags.id

  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.dags]
}

data "aws_iam_policy_document" "dags_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.dags.arn, "${aws_s3_bucket.dags.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "dags" {
  bucket = aws_s3_bucket.dags.id
  policy = data.aws_iam_policy_document.dags_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.dags]
}
