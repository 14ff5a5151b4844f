# modules/secure_bucket, which every bucket here instantiates (lake, access
# logs, MWAA DAGs): private, versioned, owner-enforced, SSE-KMS with the
# caller's key, TLS-only; only the access-log target may go without a key.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  bucket_name            = "spacex-elt-test-lake"
  data_class             = "lake"
  kms_key_arn            = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  access_log_bucket_name = "spacex-elt-test-s3-access-logs"
}

run "bucket_is_private_encrypted_and_tls_only" {
  command = apply

  module {
    source = "../../modules/secure_bucket"
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ]) && aws_s3_bucket_public_access_block.this.bucket == aws_s3_bucket.this.id
    error_message = "bucket-private: all four public access blocks must be on."
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "bucket-no-acls: ACLs must be disabled (BucketOwnerEnforced)."
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "bucket-versioned: versioning must be enabled."
  }

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : alltrue([
        for d in r.apply_server_side_encryption_by_default :
        d.sse_algorithm == "aws:kms" && d.kms_master_key_id == var.kms_key_arn
      ])
    ])
    error_message = "bucket-kms: default encryption must be SSE-KMS with the caller's key."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.effect == "Deny" && contains(s.actions, "s3:*") &&
      toset(s.resources) == toset([aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]) &&
      anytrue([for p in s.principals : p.type == "*" && contains(p.identifiers, "*")]) &&
      anytrue([for c in s.condition : c.test == "Bool" && c.variable == "aws:SecureTransport" && toset(c.values) == toset(["false"])])
    ]) && aws_s3_bucket_policy.this.policy == data.aws_iam_policy_document.this.json
    error_message = "bucket-tls-only: the bucket policy must deny every request made without TLS."
  }

  assert {
    condition     = one(aws_s3_bucket_logging.this).target_bucket == var.access_log_bucket_name
    error_message = "bucket-access-logged: server access logs must go to the access-log bucket."
  }
}

run "a_bucket_without_a_key_is_refused" {
  command = plan

  module {
    source = "../../modules/secure_bucket"
  }

  variables {
    kms_key_arn = null
  }

  expect_failures = [aws_s3_bucket.this]
}
