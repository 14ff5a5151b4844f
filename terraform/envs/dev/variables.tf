variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "project" {
  description = "Project name; first part of every resource name."
  type        = string
  default     = "spacex-elt"
}

variable "environment" {
  description = "Environment name (dev, staging, prod); second part of every resource name."
  type        = string
  default     = "dev"
}

variable "availability_zones" {
  description = "Two AZ names in the region (default: <region>a and <region>b)."
  type        = list(string)
  default     = null
}

variable "vpc_cidr" {
  description = "IPv4 range of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheaper) instead of one per AZ (highly available)."
  type        = bool
  default     = true
}

variable "lake_bucket_name" {
  description = "Override the lake bucket name (default: <project>-<environment>-lake-<account id>)."
  type        = string
  default     = null
}

variable "access_log_bucket_name" {
  description = "Override the access-log bucket name (default: <project>-<environment>-s3-access-logs-<account id>)."
  type        = string
  default     = null
}

variable "dags_bucket_name" {
  description = "Override the MWAA DAGs bucket name; must start with \"airflow-\"."
  type        = string
  default     = null
}

variable "redshift_database" {
  description = "Database created in the cluster."
  type        = string
  default     = "spacex"
}

variable "redshift_node_type" {
  description = "Redshift node type."
  type        = string
  default     = "ra3.xlplus"
}

variable "redshift_number_of_nodes" {
  description = "Number of Redshift nodes (1 = single-node)."
  type        = number
  default     = 1
}

variable "redshift_skip_final_snapshot" {
  description = "Skip the final snapshot on destroy (true only for throwaway environments)."
  type        = bool
  default     = false
}

variable "etl_image_tag" {
  description = "Tag of the etl image in ECR that the task definition runs (a release or git SHA)."
  type        = string
}

variable "enable_mwaa" {
  description = "Create the MWAA environment (hundreds of USD a month even when idle). False: orchestrate from elsewhere."
  type        = bool
  default     = false
}

variable "mwaa_airflow_version" {
  description = "Airflow version for MWAA (one MWAA supports in the region)."
  type        = string
  default     = "3.0.6"
}

variable "mwaa_environment_class" {
  description = "MWAA environment class."
  type        = string
  default     = "mw1.small"
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps flow, audit and job logs."
  type        = number
  default     = 365
}
