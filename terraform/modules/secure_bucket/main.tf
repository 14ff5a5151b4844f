# A private S3 bucket with the hardening every bucket here shares: public
# access blocked, versioned, ACLs disabled (BucketOwnerEnforced), default
# encryption, TLS-only bucket policy, server access logging and lifecycle
# rules. Only the S3 access-log target bucket (is_access_log_target) goes
# without SSE-KMS and without logging of its own; see the preconditions.

data "aws_caller_identity" "current" {}

locals {
  # Every bucket logs under this prefix of the target; the target admits
  # log delivery there only.
  access_log_prefix = "s3-access/"
}

resource "aws_s3_bucket" "this" {
  # checkov skips that depend on the bucket (replication, event
  # notifications, and for the log target: no logging, SSE-S3) sit on each
  # module call with that bucket's reason, so they cover only that instance.
  bucket        = var.bucket_name
  force_destroy = false

  tags = merge(var.tags, { Name = var.bucket_name, DataClass = var.data_class })

  # Decisions hang on is_access_log_target (known at plan time), not on
  # whether a key or log bucket is null (often unknown until apply).
  lifecycle {
    precondition {
      condition     = var.is_access_log_target ? var.kms_key_arn == null : var.kms_key_arn != null
      error_message = "kms_key_arn is required, except for the access-log target, which must use SSE-S3."
    }

    precondition {
      condition     = var.is_access_log_target ? var.access_log_bucket_name == null : var.access_log_bucket_name != null
      error_message = "access_log_bucket_name is required, except for the access-log target, which does not log into itself."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    # S3 cannot deliver server access logs into an SSE-KMS bucket, so the log
    # target (and only it, see the preconditions) uses SSE-S3.
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.is_access_log_target ? "AES256" : "aws:kms"
      kms_master_key_id = var.is_access_log_target ? null : var.kms_key_arn
    }
    # S3 Bucket Keys cut KMS request costs for many small objects.
    bucket_key_enabled = var.is_access_log_target ? null : true
  }
}

resource "aws_s3_bucket_logging" "this" {
  count = var.is_access_log_target ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket_name
  target_prefix = "${local.access_log_prefix}${var.bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # The caller's rules (tiering, expiry), e.g. only under a prefix.
  dynamic "rule" {
    for_each = var.lifecycle_rules

    content {
      id     = rule.value.id
      status = "Enabled"

      filter {
        prefix = rule.value.prefix
      }

      dynamic "transition" {
        for_each = rule.value.transitions

        content {
          days          = transition.value.days
          storage_class = transition.value.storage_class
        }
      }

      dynamic "expiration" {
        for_each = rule.value.expiration_days != null ? [rule.value.expiration_days] : []

        content {
          days = expiration.value
        }
      }
    }
  }

  # Every bucket: unfinished multipart uploads and replaced versions do not
  # accumulate (they are billed but never read); optionally current objects
  # expire too. (One rule: checkov 3.3 drops a static rule next to a rendered
  # dynamic one, so the whole-bucket settings stay out of var.lifecycle_rules.)
  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    dynamic "expiration" {
      for_each = var.expiration_days != null ? [var.expiration_days] : []

      content {
        days = expiration.value
      }
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_after_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# The caller's statements (policy_documents) come first; the TLS-only deny is
# always added and cannot be overridden: a statement of this document replaces
# a source statement with the same sid, never the other way round.
data "aws_iam_policy_document" "this" {
  source_policy_documents = var.policy_documents

  dynamic "statement" {
    for_each = var.is_access_log_target ? [1] : []

    content {
      sid       = "S3LogDeliveryWritesFromThisAccount"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this.arn}/${local.access_log_prefix}*"]

      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

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

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
