variable "alias" {
  description = "Alias of the key, without the \"alias/\" prefix."
  type        = string

  validation {
    condition     = !startswith(var.alias, "alias/") && !startswith(var.alias, "aws/")
    error_message = "Give the alias without \"alias/\"; the \"aws/\" prefix is reserved for AWS managed keys."
  }
}

variable "description" {
  description = "Description of the key: what it encrypts."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Days a key scheduled for deletion can still be recovered (7 to 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "KMS accepts a deletion window of 7 to 30 days."
  }
}

variable "service_statements" {
  description = "Key policy statements letting AWS services (Service principals only) use the key, each pinned by at least one condition, e.g. CloudWatch Logs limited to one log group ARN. Who else may use the key is decided by IAM policies."
  type = list(object({
    sid      = string
    services = list(string)
    actions = optional(list(string), [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ])
    conditions = list(object({
      test     = string
      variable = string
      values   = list(string)
    }))
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.service_statements : length(s.conditions) > 0 && length(s.services) > 0])
    error_message = "Every service statement names at least one service and is pinned by at least one condition."
  }

  validation {
    condition     = alltrue([for s in var.service_statements : !contains(s.actions, "kms:*") && !contains(s.actions, "*")])
    error_message = "Service statements list the KMS actions they need; kms:* is reserved for the account root."
  }
}

variable "tags" {
  description = "Tags added to the key."
  type        = map(string)
  default     = {}
}
