variable "bucket_name" {
  description = "Globally unique name of the data lake bucket (raw/, staged/, quarantine/, reports/ prefixes)."
  type        = string
}

variable "access_log_bucket_name" {
  description = "Globally unique name of the bucket that receives S3 server access logs."
  type        = string
}

variable "raw_infrequent_access_after_days" {
  description = "Days after which raw/ objects move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.raw_infrequent_access_after_days >= 30
    error_message = "S3 only transitions to STANDARD_IA after 30 days or more."
  }
}

variable "raw_glacier_after_days" {
  description = "Days after which raw/ objects move to GLACIER (Flexible Retrieval)."
  type        = number
  default     = 180
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept before S3 removes it."
  type        = number
  default     = 90
}

variable "abort_incomplete_multipart_after_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts cost money)."
  type        = number
  default     = 7
}

variable "access_log_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
