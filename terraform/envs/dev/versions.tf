terraform {
  required_version = ">= 1.6, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # State is local until you copy backend.tf.example to backend.tf and run
  # `terraform init -migrate-state` (see terraform/README.md).
}
