output "ecr_repository_url" {
  description = "Push the etl image here (docker tag <image> <url>:<image_tag>)."
  value       = aws_ecr_repository.this.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository."
  value       = aws_ecr_repository.this.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster the task runs in."
  value       = aws_ecs_cluster.this.arn
}

output "task_definition_arn" {
  description = "ARN (with revision) of the ELT task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the ELT task definition (RunTask accepts it without a revision)."
  value       = aws_ecs_task_definition.this.family
}

output "container_name" {
  description = "Name of the container in the task, for RunTask overrides."
  value       = local.container.name
}

output "awslogs_stream_prefix" {
  description = "Log stream prefix of the container (<prefix>/<container name>), for the ECS operator to tail."
  value       = "${local.log_stream_prefix}/${local.container.name}"
}

output "task_role_arn" {
  description = "ARN of the task role (the ELT code's permissions)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role (image pull and logs)."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the job."
  value       = aws_cloudwatch_log_group.job.name
}

output "log_group_arn" {
  description = "ARN of the job's CloudWatch log group."
  value       = aws_cloudwatch_log_group.job.arn
}

output "environment" {
  description = "Non-secret environment the container gets (names are the Settings' SPACEX_* variables)."
  value       = local.environment
}
