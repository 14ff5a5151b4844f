# The data lake bucket. Prefixes (see shared DESIGN.md):
#   raw/spacex/...         immutable API responses + _manifest.json
#   staged/spacex/...      Parquet of each batch + the COPY manifest
#   quarantine/spacex/...  records that failed validation
#   reports/spacex/...     each run's data-quality page

module "bucket" {
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage for a re-extractable public data set; versioning + raw immutability cover recovery. Add a replica bucket when an RPO demands it.
  #checkov:skip=CKV2_AWS_62:No consumer reacts to object events; Airflow passes object keys between tasks explicitly.
  source = "../secure_bucket"

  bucket_name            = var.bucket_name
  data_class             = "lake"
  kms_key_arn            = module.key.arn
  access_log_bucket_name = module.access_log_bucket.id
  policy_documents       = [data.aws_iam_policy_document.lake_bucket.json]
  tags                   = var.tags

  lifecycle_rules = [
    # Raw responses are kept for audit and replay but read rarely after the
    # first load. (Objects under 128 KB are not moved by S3 by default.)
    {
      id     = "raw-tiering"
      prefix = "raw/"
      transitions = [
        { days = var.raw_infrequent_access_after_days, storage_class = "STANDARD_IA" },
        { days = var.raw_glacier_after_days, storage_class = "GLACIER" },
      ]
    },
  ]
  # + the module's housekeeping rule (whole bucket):
  abort_incomplete_multipart_after_days = var.abort_incomplete_multipart_after_days
  noncurrent_version_expiration_days    = var.noncurrent_version_expiration_days
}

# Added to the module's TLS-only statement. The bucket ARN comes from the
# module's output: Terraform resolves it per resource, so feeding this
# document back into the module is no cycle (the policy waits for the bucket).
data "aws_iam_policy_document" "lake_bucket" {
  # Raw objects are the system of record: nobody deletes them through the API.
  # Removing raw data is a deliberate two-step change (edit this policy first);
  # lifecycle transitions and noncurrent-version expiry are not affected.
  statement {
    sid       = "DenyRawDeletes"
    effect    = "Deny"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = ["${module.bucket.arn}/raw/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }

  # Uploads that name a key other than the lake key are refused; uploads that
  # name none get the bucket default (the lake key).
  statement {
    sid       = "DenyOtherKmsKeys"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${module.bucket.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    # Only a request that names a key is checked: one without the header gets
    # the bucket's default key (this one). StringNotEqualsIfExists would deny
    # it too (IfExists holds when the key is absent), i.e. every PutObject
    # that relies on the default encryption, as the job's do.
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [module.key.arn]
    }
  }

  # Nor another kind of encryption: a request that names one must name SSE-KMS.
  statement {
    sid       = "DenyOtherEncryption"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${module.bucket.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }
}

moved {
  from = aws_s3_bucket.lake
  to   = module.bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.lake
  to   = module.bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.lake
  to   = module.bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.lake
  to   = module.bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.lake
  to   = module.bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_logging.lake
  to   = module.bucket.aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.lake
  to   = module.bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.lake
  to   = module.bucket.aws_s3_bucket_policy.this
}
