output "cluster_identifier" {
  description = "Redshift cluster identifier."
  value       = aws_redshift_cluster.this.cluster_identifier
}

output "host" {
  description = "Private DNS name of the cluster; the job's SPACEX_REDSHIFT_HOST."
  value       = aws_redshift_cluster.this.dns_name
}

output "port" {
  description = "Port of the cluster; the job's SPACEX_REDSHIFT_PORT."
  value       = aws_redshift_cluster.this.port
}

output "database_name" {
  description = "Database name; the job's SPACEX_REDSHIFT_DATABASE."
  value       = aws_redshift_cluster.this.database_name
}

output "master_username" {
  description = "Admin user name (the password is only in Secrets Manager)."
  value       = aws_redshift_cluster.this.master_username
}

output "master_password_secret_arn" {
  description = "ARN of the Secrets Manager secret Redshift manages for the admin user; the job's SPACEX_REDSHIFT_SECRET_ARN. An ARN, not the password."
  value       = aws_redshift_cluster.this.master_password_secret_arn
}

output "copy_role_arn" {
  description = "Role Redshift assumes for COPY from the lake; the job's SPACEX_REDSHIFT_IAM_ROLE_ARN."
  value       = aws_iam_role.copy.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the cluster, its secret and its audit logs."
  value       = module.key.arn
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.redshift.id
}
