variable "name" {
  description = "Name of the MWAA environment; also prefixes its key and role."
  type        = string
}

variable "airflow_version" {
  description = "Airflow version of the environment; must be one MWAA offers in the region (the DAGs target Airflow 3)."
  type        = string
  default     = "3.0.6"
}

variable "environment_class" {
  description = "MWAA environment class (mw1.micro, mw1.small, mw1.medium, ...); sets scheduler/worker size and the hourly price."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum number of Celery workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum number of Celery workers MWAA scales out to."
  type        = number
  default     = 2
}

variable "airflow_configuration_options" {
  description = "Airflow configuration overrides, e.g. { \"core.load_examples\" = \"false\" }. Nothing secret."
  type        = map(string)
  default = {
    "core.load_examples" = "false"
  }
}

variable "airflow_environment" {
  description = "Environment exported to Airflow by the MWAA startup script (how the DAG finds the ECS task). Nothing secret."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Exactly two private subnets (different AZs) with outbound access through NAT."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 2
    error_message = "MWAA needs exactly two private subnets."
  }
}

variable "security_group_id" {
  description = "Security group of the environment (must allow traffic between its own members)."
  type        = string
}

variable "dags_bucket_name" {
  description = "Name of the DAGs bucket; MWAA requires it to start with \"airflow-\"."
  type        = string

  validation {
    condition     = startswith(var.dags_bucket_name, "airflow-")
    error_message = "MWAA source bucket names must start with \"airflow-\"."
  }
}

variable "access_log_bucket_name" {
  description = "Bucket receiving the DAGs bucket's server access logs (the lake module's log bucket)."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days an old DAG file version is kept."
  type        = number
  default     = 90
}

variable "ecs_cluster_arn" {
  description = "ARN of the ECS cluster the DAG may run the ELT task on."
  type        = string
}

variable "ecs_cluster_name" {
  description = "Name of that ECS cluster (task ARNs contain it)."
  type        = string
}

variable "task_definition_family" {
  description = "Family of the ELT task definition the DAG may run (any revision)."
  type        = string
}

variable "ecs_task_role_arn" {
  description = "Task role of the ELT task; the only role besides the execution role MWAA may pass."
  type        = string
}

variable "ecs_execution_role_arn" {
  description = "Execution role of the ELT task; MWAA may pass it to ECS."
  type        = string
}

variable "ecs_log_group_arn" {
  description = "Log group of the ELT task, which the ECS operator tails."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
