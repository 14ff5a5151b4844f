variable "name" {
  description = "Name of the ECR repository, ECS cluster, task family and roles."
  type        = string
  default     = "spacex-etl"
}

variable "image_tag" {
  description = "Image tag the task definition runs. Tags are immutable: use a release or git SHA, not \"latest\"."
  type        = string

  validation {
    condition     = var.image_tag != "latest" && length(var.image_tag) > 0
    error_message = "Use an immutable release tag or git SHA, not \"latest\"."
  }
}

variable "container_name" {
  description = "Name of the container in the task definition (the DAG's SPACEX_ECS_CONTAINER_NAME)."
  type        = string
  default     = "etl"
}

variable "command" {
  description = "Container command after the spacex-etl entrypoint. Default: the live API (`--input api` = SPACEX_SOURCE_URL, through NAT on 443); the DAG overrides it per stage."
  type        = list(string)
  default     = ["run", "--input", "api", "--json"]
}

variable "cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Fargate task memory in MiB (must match the CPU size)."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "images_to_keep" {
  description = "How many images ECR keeps before expiring the oldest."
  type        = number
  default     = 30
}

variable "lake_bucket_name" {
  description = "Data lake bucket name; becomes SPACEX_LAKE_URI=s3://<name>/."
  type        = string
}

variable "lake_bucket_arn" {
  description = "ARN of the data lake bucket."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "ARN of the lake's KMS key (the task encrypts and decrypts objects with it)."
  type        = string
}

variable "lake_prefixes" {
  description = "Lake prefixes (with trailing slash) the job may write and read: one per zone the job writes (LAKE_ZONES in etl/spacex_etl/lake.py, joined by tests/aws/test_lake_zones.py)."
  type        = list(string)
  default     = ["raw/spacex/", "staged/spacex/", "quarantine/spacex/", "reports/spacex/"]

  validation {
    condition     = alltrue([for p in var.lake_prefixes : endswith(p, "/") && p != "/"])
    error_message = "Each prefix must be non-empty and end with a slash."
  }
}

variable "redshift_host" {
  description = "Redshift endpoint host; SPACEX_REDSHIFT_HOST."
  type        = string
}

variable "redshift_port" {
  description = "Redshift port; SPACEX_REDSHIFT_PORT."
  type        = number
  default     = 5439
}

variable "redshift_database" {
  description = "Redshift database; SPACEX_REDSHIFT_DATABASE."
  type        = string
}

variable "redshift_cluster_identifier" {
  description = "Redshift cluster the job gets temporary credentials for; SPACEX_REDSHIFT_CLUSTER_ID."
  type        = string
}

variable "redshift_load_user" {
  description = "Database user the job loads as (IAM auth); SPACEX_REDSHIFT_USER."
  type        = string
}

variable "redshift_dbt_user" {
  description = "Database user dbt runs as (IAM auth); SPACEX_REDSHIFT_DBT_USER."
  type        = string
}

variable "redshift_credential_arns" {
  description = "The only resources of redshift:GetClusterCredentials for the task role: the dbuser ARNs of the two users and the dbname ARN of the database (the warehouse module's app_user_credential_arns)."
  type        = list(string)

  validation {
    condition     = length(var.redshift_credential_arns) > 0 && alltrue([for a in var.redshift_credential_arns : can(regex("^arn:[^:]+:redshift:[^:]+:[0-9]{12}:(dbuser|dbname):[^*]+$", a))])
    error_message = "Give dbuser/dbname ARNs without wildcards."
  }
}

variable "redshift_copy_role_arn" {
  description = "Role Redshift assumes for COPY; SPACEX_REDSHIFT_IAM_ROLE_ARN."
  type        = string
}

variable "extra_environment" {
  description = "Additional non-secret environment variables for the container (override the defaults)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the job's logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
