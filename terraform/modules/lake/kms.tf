# The lake key encrypts every object (SSE-KMS). Its policy only delegates to
# IAM: who may encrypt or decrypt is decided by the role policies (the job's
# task role, the Redshift COPY role), each of which names this key.
module "key" {
  source = "../kms_key"

  alias       = var.bucket_name
  description = "${var.bucket_name}: SSE-KMS for the data lake objects"
  tags        = var.tags
}

moved {
  from = aws_kms_key.lake
  to   = module.key.aws_kms_key.this
}

moved {
  from = aws_kms_alias.lake
  to   = module.key.aws_kms_alias.this
}
