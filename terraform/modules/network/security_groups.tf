# Identity groups for the two kinds of client of the warehouse. They carry only
# egress rules here; the warehouse module admits them by group id on 5439, so
# no CIDR range ever reaches Redshift.

resource "aws_security_group" "etl_job" {
  #checkov:skip=CKV2_AWS_5:Attached at run time: ecs:RunTask passes it in the task's awsvpc network configuration (see the root outputs), not through a Terraform resource.
  name        = "${var.name}-etl-job"
  description = "ECS Fargate ELT job: HTTPS out (SpaceX API, AWS APIs), Redshift inside the VPC."
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-etl-job" })
}

resource "aws_vpc_security_group_egress_rule" "etl_job_https" {
  #checkov:skip=CKV_AWS_382:The extract job must reach the public SpaceX API and AWS endpoints through NAT; egress is limited to TCP 443.
  security_group_id = aws_security_group.etl_job.id
  description       = "HTTPS to the SpaceX API and AWS service endpoints (via NAT / S3 endpoint)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "etl_job_redshift" {
  security_group_id = aws_security_group.etl_job.id
  description       = "Redshift inside the VPC"
  ip_protocol       = "tcp"
  from_port         = var.redshift_port
  to_port           = var.redshift_port
  cidr_ipv4         = var.cidr_block
}

resource "aws_security_group" "orchestrator" {
  #checkov:skip=CKV2_AWS_5:Attached to the MWAA environment in the orchestration module (via a module input checkov does not follow); unused while enable_mwaa = false.
  name        = "${var.name}-orchestrator"
  description = "MWAA environment: members talk to each other; HTTPS out; Redshift inside the VPC."
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-orchestrator" })
}

# MWAA requires a self-referencing rule so its scheduler, workers, web server
# and metadata database can reach each other.
resource "aws_vpc_security_group_ingress_rule" "orchestrator_self" {
  security_group_id            = aws_security_group.orchestrator.id
  description                  = "MWAA components talk to each other"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.orchestrator.id
}

resource "aws_vpc_security_group_egress_rule" "orchestrator_self" {
  security_group_id            = aws_security_group.orchestrator.id
  description                  = "MWAA components talk to each other"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.orchestrator.id
}

resource "aws_vpc_security_group_egress_rule" "orchestrator_https" {
  #checkov:skip=CKV_AWS_382:MWAA workers call AWS APIs (ECS RunTask, CloudWatch, SQS) through NAT; egress is limited to TCP 443.
  security_group_id = aws_security_group.orchestrator.id
  description       = "HTTPS to AWS service endpoints (via NAT / S3 endpoint)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "orchestrator_redshift" {
  security_group_id = aws_security_group.orchestrator.id
  description       = "Redshift inside the VPC"
  ip_protocol       = "tcp"
  from_port         = var.redshift_port
  to_port           = var.redshift_port
  cidr_ipv4         = var.cidr_block
}
