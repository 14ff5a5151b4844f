# A provisioned Redshift cluster in the isolated data subnets. Serverless is
# the cheaper choice for this data volume; see part-1/README.md ("Cost").

resource "aws_redshift_subnet_group" "this" {
  name        = var.cluster_identifier
  description = "Isolated data subnets for ${var.cluster_identifier}"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_redshift_parameter_group" "this" {
  name        = "${var.cluster_identifier}-params"
  family      = "redshift-1.0"
  description = "TLS required, user activity logged"

  parameter {
    name  = "require_ssl"
    value = "true"
  }

  # Logs each query before it runs (useractivitylog); audit logging must be on too.
  parameter {
    name  = "enable_user_activity_logging"
    value = "true"
  }

  tags = var.tags
}

resource "aws_security_group" "redshift" {
  name        = "${var.cluster_identifier}-redshift"
  description = "Redshift: port ${var.port} from the ELT job and orchestrator security groups only."
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.cluster_identifier}-redshift" })
}

# Keys are static names ("etl_job", "mwaa"), values are group ids, so the set
# of rules is known at plan time even before the groups exist.
resource "aws_vpc_security_group_ingress_rule" "redshift_clients" {
  for_each = var.allowed_security_group_ids

  security_group_id            = aws_security_group.redshift.id
  description                  = "Redshift from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = each.value
}

resource "aws_redshift_cluster" "this" {
  #checkov:skip=CKV_AWS_71:Audit logging is configured by the aws_redshift_logging resource in logging.tf (the inline logging block is deprecated in provider 5.x); the tests assert it.
  cluster_identifier = var.cluster_identifier
  database_name      = var.database_name
  node_type          = var.node_type
  cluster_type       = var.number_of_nodes > 1 ? "multi-node" : "single-node"
  number_of_nodes    = var.number_of_nodes
  port               = var.port

  # The password is generated, stored and rotatable in Secrets Manager by
  # Redshift itself: it never appears in tfvars, plan output or state.
  master_username                   = var.master_username
  manage_master_password            = true
  master_password_secret_kms_key_id = module.key.arn

  cluster_subnet_group_name    = aws_redshift_subnet_group.this.name
  vpc_security_group_ids       = [aws_security_group.redshift.id]
  cluster_parameter_group_name = aws_redshift_parameter_group.this.name
  publicly_accessible          = false
  enhanced_vpc_routing         = true

  encrypted  = true
  kms_key_id = module.key.arn

  iam_roles            = [aws_iam_role.copy.arn]
  default_iam_role_arn = aws_iam_role.copy.arn

  automated_snapshot_retention_period = var.snapshot_retention_days
  allow_version_upgrade               = true
  preferred_maintenance_window        = var.maintenance_window
  skip_final_snapshot                 = var.skip_final_snapshot
  final_snapshot_identifier           = var.skip_final_snapshot ? null : "${var.cluster_identifier}-final"

  tags = var.tags
  lifecycle {
    # The job and dbt must never get the admin's powers through IAM auth.
    precondition {
      condition     = !contains([var.load_user, var.dbt_user], var.master_username) && var.load_user != var.dbt_user
      error_message = "load_user and dbt_user must be two different users, neither of them master_username."
    }
  }
}
