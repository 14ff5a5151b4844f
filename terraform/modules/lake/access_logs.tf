# Server access logs of the lake (and of the MWAA DAGs bucket) land here. It is
# locked down like the lake, with two differences forced by S3 itself
# (is_access_log_target): the log delivery service writes through a bucket
# policy (ACLs are disabled), and a log target bucket cannot use SSE-KMS, so it
# uses SSE-S3. It does not log into itself (that would loop).

module "access_log_bucket" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop, and a third bucket only moves the problem.
  #checkov:skip=CKV_AWS_144:Access logs are audit evidence kept in-region; cross-region replication is not required for them.
  #checkov:skip=CKV_AWS_145:S3 server access logging does not deliver to buckets whose default encryption is SSE-KMS; SSE-S3 (AES256) is the supported option.
  #checkov:skip=CKV2_AWS_62:No consumer reacts to new log objects; they are queried on demand (Athena).
  source = "../secure_bucket"

  bucket_name          = var.access_log_bucket_name
  data_class           = "logs"
  is_access_log_target = true
  tags                 = var.tags

  # The module's housekeeping rule (whole bucket), with log expiry.
  expiration_days                       = var.access_log_expiration_days
  abort_incomplete_multipart_after_days = var.abort_incomplete_multipart_after_days
  noncurrent_version_expiration_days    = var.noncurrent_version_expiration_days
}

moved {
  from = aws_s3_bucket.access_logs
  to   = module.access_log_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.access_logs
  to   = module.access_log_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.access_logs
  to   = module.access_log_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.access_logs
  to   = module.access_log_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.access_logs
  to   = module.access_log_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.access_logs
  to   = module.access_log_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.access_logs
  to   = module.access_log_bucket.aws_s3_bucket_policy.this
}
