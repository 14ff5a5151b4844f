output "lake_bucket_name" {
  description = "Data lake bucket."
  value       = module.lake.bucket_name
}

output "spacex_lake_uri" {
  description = "SPACEX_LAKE_URI for the job."
  value       = module.lake.lake_uri
}

output "spacex_redshift_host" {
  description = "SPACEX_REDSHIFT_HOST for the job (private DNS name, reachable inside the VPC only)."
  value       = module.warehouse.host
}

output "spacex_redshift_port" {
  description = "SPACEX_REDSHIFT_PORT for the job."
  value       = module.warehouse.port
}

output "spacex_redshift_database" {
  description = "SPACEX_REDSHIFT_DATABASE for the job."
  value       = module.warehouse.database_name
}

output "spacex_redshift_user" {
  description = "SPACEX_REDSHIFT_USER for the job: the load user (IAM auth, not a superuser)."
  value       = module.warehouse.load_user
}

output "spacex_redshift_dbt_user" {
  description = "SPACEX_REDSHIFT_DBT_USER for the job: the user dbt runs as (IAM auth, not a superuser)."
  value       = module.warehouse.dbt_user
}

output "spacex_redshift_iam_role_arn" {
  description = "SPACEX_REDSHIFT_IAM_ROLE_ARN: the role Redshift assumes for COPY."
  value       = module.warehouse.copy_role_arn
}

output "redshift_admin_secret_arn" {
  description = "ARN of the Secrets Manager secret with the admin password (not the password), for the admin who runs the SQL bootstrap; the job never reads it."
  value       = module.warehouse.master_password_secret_arn
}

output "redshift_cluster_identifier" {
  description = "Redshift cluster identifier."
  value       = module.warehouse.cluster_identifier
}

output "ecr_repository_url" {
  description = "Where to push the etl image."
  value       = module.etl_job.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster to run the task in."
  value       = module.etl_job.cluster_name
}

output "ecs_task_definition_arn" {
  description = "ELT task definition (aws ecs run-task --task-definition)."
  value       = module.etl_job.task_definition_arn
}

output "ecs_task_subnet_ids" {
  description = "Private subnets for the task's awsvpc network configuration."
  value       = module.network.private_subnet_ids
}

output "ecs_task_security_group_id" {
  description = "Security group for the task's awsvpc network configuration."
  value       = module.network.etl_job_security_group_id
}

output "etl_job_log_group" {
  description = "CloudWatch log group of the ELT job."
  value       = module.etl_job.log_group_name
}

output "etl_job_environment" {
  description = "The full non-secret environment the container receives."
  value       = module.etl_job.environment
}

output "airflow_ecs_environment" {
  description = "SPACEX_AIRFLOW_* / SPACEX_ECS_* settings for the DAG's ecs mode (MWAA gets them from its startup script)."
  value       = local.airflow_ecs_environment
}

output "mwaa_webserver_url" {
  description = "Private Airflow UI host, or null when enable_mwaa = false."
  value       = one(module.orchestration[*].webserver_url)
}

output "mwaa_dags_bucket" {
  description = "Bucket to sync dags/ into, or null when enable_mwaa = false."
  value       = one(module.orchestration[*].dags_bucket_name)
}
