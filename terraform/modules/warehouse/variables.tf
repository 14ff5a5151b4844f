variable "cluster_identifier" {
  description = "Redshift cluster identifier (lowercase); also names its key, roles and log groups."
  type        = string
}

variable "database_name" {
  description = "Database created with the cluster; the job's SPACEX_REDSHIFT_DATABASE."
  type        = string
  default     = "spacex"
}

variable "master_username" {
  description = "Admin user name. Its password is generated and kept by Redshift in Secrets Manager."
  type        = string
  default     = "spacex_admin"
}

variable "load_user" {
  description = "Database user the ELT job loads as (writes the raw schema); gets temporary IAM credentials, is not a superuser. Created by the SQL bootstrap, not by Terraform."
  type        = string
  default     = "loader"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.load_user))
    error_message = "load_user must be a lowercase Redshift identifier."
  }
}

variable "dbt_user" {
  description = "Database user dbt runs as (owns the dbt schema, reads raw); gets temporary IAM credentials, is not a superuser. Created by the SQL bootstrap, not by Terraform."
  type        = string
  default     = "transformer"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.dbt_user))
    error_message = "dbt_user must be a lowercase Redshift identifier."
  }
}

variable "node_type" {
  description = "Node type. ra3.large / ra3.xlplus are the smallest current types (dc2 is being retired)."
  type        = string
  default     = "ra3.xlplus"
}

variable "number_of_nodes" {
  description = "Number of nodes; 1 gives a single-node cluster."
  type        = number
  default     = 1

  validation {
    condition     = var.number_of_nodes >= 1
    error_message = "number_of_nodes must be at least 1."
  }
}

variable "port" {
  description = "Port Redshift listens on."
  type        = number
  default     = 5439
}

variable "vpc_id" {
  description = "VPC the cluster's security group belongs to."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets (at least two AZs, no internet route) for the cluster subnet group."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two subnets in different AZs."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups admitted on the Redshift port, keyed by a static client name, e.g. { etl_job = \"sg-...\" }."
  type        = map(string)
}

variable "lake_bucket_arn" {
  description = "ARN of the data lake bucket the COPY role reads."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "ARN of the lake's KMS key; the COPY role may decrypt with it."
  type        = string
}

variable "copy_prefixes" {
  description = "Lake prefixes (with trailing slash) the COPY role may read: where the loader stages Parquet and COPY manifests."
  type        = list(string)
  default     = ["staged/spacex/"]

  validation {
    condition     = alltrue([for p in var.copy_prefixes : endswith(p, "/") && p != "/"])
    error_message = "Each prefix must be non-empty and end with a slash."
  }
}

variable "snapshot_retention_days" {
  description = "Days automated snapshots are kept."
  type        = number
  default     = 7
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC), ddd:hh24:mi-ddd:hh24:mi."
  type        = string
  default     = "sun:03:00-sun:03:30"
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on destroy. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the Redshift audit logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
