# MWAA reads DAGs (and requirements.txt) from its own bucket: a separate
# bucket keeps "who may change the code that runs" apart from "who may
# write data". CI syncs dags/ into s3://<bucket>/dags/. MWAA requires
# versioning on its source bucket (the module always enables it).

module "dags_bucket" {
  #checkov:skip=CKV_AWS_144:DAG code is rebuilt from git on every deploy; a cross-region replica adds nothing.
  #checkov:skip=CKV2_AWS_62:MWAA polls the bucket itself; no event consumer is needed.
  source = "../secure_bucket"

  bucket_name            = var.dags_bucket_name
  data_class             = "code"
  kms_key_arn            = module.key.arn
  access_log_bucket_name = var.access_log_bucket_name
  tags                   = var.tags

  # Lifecycle: the module's housekeeping rule only.
  abort_incomplete_multipart_after_days = 7
  noncurrent_version_expiration_days    = var.noncurrent_version_expiration_days
}

moved {
  from = aws_s3_bucket.dags
  to   = module.dags_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.dags
  to   = module.dags_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.dags
  to   = module.dags_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.dags
  to   = module.dags_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.dags
  to   = module.dags_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_logging.dags
  to   = module.dags_bucket.aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.dags
  to   = module.dags_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.dags
  to   = module.dags_bucket.aws_s3_bucket_policy.this
}
