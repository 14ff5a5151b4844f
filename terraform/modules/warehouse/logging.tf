# Audit logging to CloudWatch: connection attempts, user changes and every
# query (useractivitylog needs enable_user_activity_logging in the parameter
# group). Redshift writes to /aws/redshift/cluster/<id>/<log type>; creating
# the groups first lets us set their KMS key and retention.

locals {
  audit_log_types = ["connectionlog", "useractivitylog", "userlog"]
}

resource "aws_cloudwatch_log_group" "audit" {
  for_each = toset(local.audit_log_types)

  name              = "/aws/redshift/cluster/${var.cluster_identifier}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.key.arn

  tags = var.tags
}

resource "aws_redshift_logging" "this" {
  cluster_identifier   = aws_redshift_cluster.this.cluster_identifier
  log_destination_type = "cloudwatch"
  log_exports          = local.audit_log_types

  depends_on = [aws_cloudwatch_log_group.audit]
}
