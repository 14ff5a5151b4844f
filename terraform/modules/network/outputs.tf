output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways only)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets with outbound internet through NAT, for ECS tasks and MWAA."
  value       = aws_subnet.private[*].id
}

output "data_subnet_ids" {
  description = "Isolated subnets without an internet route, for Redshift."
  value       = aws_subnet.data[*].id
}

output "etl_job_security_group_id" {
  description = "Security group to attach to the ELT job's Fargate tasks."
  value       = aws_security_group.etl_job.id
}

output "orchestrator_security_group_id" {
  description = "Security group for the MWAA environment."
  value       = aws_security_group.orchestrator.id
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
