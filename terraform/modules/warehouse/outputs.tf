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

output "cluster_arn" {
  description = "ARN of the cluster (the COPY role's trust policy names it as aws:SourceArn)."
  value       = local.cluster_arn
}

output "load_user" {
  description = "Database user of the job's load; the job's SPACEX_REDSHIFT_USER."
  value       = var.load_user
}

output "dbt_user" {
  description = "Database user dbt runs as; the job's SPACEX_REDSHIFT_DBT_USER."
  value       = var.dbt_user
}

output "app_user_credential_arns" {
  description = "Resources of redshift:GetClusterCredentials for load_user and dbt_user: their dbuser ARNs and the database's dbname ARN."
  value       = local.app_user_credential_arns
}

output "master_password_secret_arn" {
  description = "ARN of the Secrets Manager secret Redshift manages for the admin user, for the admin who runs the SQL bootstrap; no workload role may read it. An ARN, not the password."
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
