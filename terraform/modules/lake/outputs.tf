output "bucket_name" {
  description = "Name of the data lake bucket."
  value       = module.bucket.id
}

output "bucket_arn" {
  description = "ARN of the data lake bucket."
  value       = module.bucket.arn
}

output "lake_uri" {
  description = "Lake root for the job's SPACEX_LAKE_URI."
  value       = "s3://${module.bucket.id}/"
}

output "kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the lake."
  value       = module.key.arn
}

output "access_log_bucket_name" {
  description = "Name of the bucket holding S3 server access logs (other buckets log into s3-access/<bucket>/)."
  value       = module.access_log_bucket.id
}
