variable "name" {
  description = "Name prefix for every network resource, e.g. \"spacex-elt-dev\"."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 range of the VPC. A /16 leaves room for the /20 private subnets the tasks use."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 16
    error_message = "cidr_block must be a valid IPv4 CIDR of size /16 or larger."
  }
}

variable "availability_zones" {
  description = "Two or three AZ names to spread the subnets over, e.g. [\"eu-west-1a\", \"eu-west-1b\"] (Redshift subnet groups and MWAA need two)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give two or three distinct availability zone names."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all AZs (cheaper, fine for dev) instead of one per AZ (survives an AZ outage)."
  type        = bool
  default     = true
}

variable "redshift_port" {
  description = "Port the workload security groups may reach inside the VPC for Redshift."
  type        = number
  default     = 5439
}

variable "flow_log_retention_days" {
  description = "Days CloudWatch keeps VPC flow logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = map(string)
  default     = {}
}
