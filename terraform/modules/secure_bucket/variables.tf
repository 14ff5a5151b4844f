variable "bucket_name" {
  description = "Globally unique name of the bucket."
  type        = string
}

variable "data_class" {
  description = "Value of the bucket's DataClass tag (lake, logs, code, ...)."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key for default encryption (SSE-KMS, with an S3 Bucket Key). Required unless is_access_log_target = true; the log target must leave it null and gets SSE-S3, because S3 cannot deliver server access logs into an SSE-KMS bucket."
  type        = string
  default     = null
}

variable "access_log_bucket_name" {
  description = "Bucket receiving this bucket's server access logs (under s3-access/<bucket_name>/). Required unless is_access_log_target = true (the target does not log into itself)."
  type        = string
  default     = null
}

variable "is_access_log_target" {
  description = "This bucket receives S3 server access logs: the policy admits log delivery from this account under s3-access/, it uses SSE-S3 and has no access logging of its own (leave kms_key_arn and access_log_bucket_name null)."
  type        = bool
  default     = false
}

variable "policy_documents" {
  description = "JSON policy documents (aws_iam_policy_document.json) whose statements are added to the bucket policy next to the TLS-only deny, e.g. deny deletes under a prefix. Sids must be unique."
  type        = list(string)
  default     = []
}

variable "lifecycle_rules" {
  description = "Extra lifecycle rules (all enabled) before the module's own housekeeping rule; prefix = null applies a rule to the whole bucket."
  type = list(object({
    id     = string
    prefix = optional(string)
    transitions = optional(list(object({
      days          = number
      storage_class = string
    })), [])
    expiration_days = optional(number)
  }))
  default = []
}

variable "expiration_days" {
  description = "Days after which current objects of the whole bucket expire (e.g. access logs); null keeps them."
  type        = number
  default     = null
}

variable "abort_incomplete_multipart_after_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts cost money)."
  type        = number
  default     = 7
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept before S3 removes it."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags added to the bucket (with Name and DataClass)."
  type        = map(string)
  default     = {}
}
