# modules/network: nothing is reachable from the internet. No ingress rule
# names a CIDR, the default security group is empty, no subnet hands out
# public IPs, and the data tier (Redshift) has no route out of the VPC.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "no_ingress_from_the_internet" {
  command = apply

  module {
    source = "../../modules/network"
  }

  variables {
    name               = "spacex-elt-test"
    availability_zones = ["eu-west-1a", "eu-west-1b"]
  }

  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "network-default-sg-empty: the default security group must have no rules."
  }

  assert {
    condition = alltrue([
      for r in [aws_vpc_security_group_ingress_rule.orchestrator_self] :
      r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.referenced_security_group_id == aws_security_group.orchestrator.id
    ])
    error_message = "network-no-cidr-ingress: ingress may only come from the group itself, never from 0.0.0.0/0 or any CIDR."
  }

  assert {
    condition     = alltrue([for s in concat(aws_subnet.public, aws_subnet.private, aws_subnet.data) : s.map_public_ip_on_launch == false])
    error_message = "network-no-public-ips: no subnet may assign public IPs."
  }

  assert {
    condition     = length(aws_route_table.data.route) == 0 && aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway" && contains(aws_vpc_endpoint.s3.route_table_ids, aws_route_table.data.id)
    error_message = "network-data-tier-isolated: the data subnets reach S3 through the gateway endpoint and nothing outside the VPC."
  }

  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL"
    error_message = "network-flow-logs: VPC flow logs must record all traffic."
  }
}
