# The warehouse module: a private, encrypted Redshift cluster that only takes
# TLS, routes COPY through the VPC, keeps its own admin password, admits only
# the named client security groups, and a COPY role that reads staged/ only.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  cluster_identifier = "spacex-elt-test-redshift"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
  lake_bucket_arn    = "arn:aws:s3:::spacex-elt-test-lake"
  lake_kms_key_arn   = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"

  allowed_security_group_ids = {
    etl_job = "sg-0000000000000000a"
    mwaa    = "sg-0000000000000000b"
  }
}

# A document of its own, so the role cannot pass by carrying another one (every
# mocked policy document otherwise renders the same placeholder).
override_data {
  target = data.aws_iam_policy_document.copy_assume
  values = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"CopyAssumeUnderTest\",\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"redshift.amazonaws.com\"}}]}"
  }
}

run "redshift_is_locked_down_and_copy_reads_staged_only" {
  command = apply

  module {
    source = "../../modules/warehouse"
  }

  assert {
    condition     = aws_redshift_cluster.this.publicly_accessible == false
    error_message = "redshift-private: the cluster must not be publicly accessible."
  }

  assert {
    condition     = aws_redshift_cluster.this.encrypted == true && aws_redshift_cluster.this.kms_key_id == module.key.arn
    error_message = "redshift-encrypted: the cluster must be encrypted with the warehouse key."
  }

  assert {
    condition     = aws_redshift_cluster.this.enhanced_vpc_routing == true
    error_message = "redshift-enhanced-vpc-routing: COPY traffic must stay in the VPC."
  }

  assert {
    condition     = aws_redshift_cluster.this.manage_master_password == true && aws_redshift_cluster.this.master_password == null
    error_message = "redshift-managed-password: Redshift must generate and keep the admin password in Secrets Manager."
  }

  assert {
    condition     = aws_redshift_cluster.this.cluster_parameter_group_name == aws_redshift_parameter_group.this.name
    error_message = "redshift-parameter-group: the cluster must use the module's parameter group."
  }

  assert {
    condition     = anytrue([for p in aws_redshift_parameter_group.this.parameter : p.name == "require_ssl" && p.value == "true"])
    error_message = "redshift-require-ssl: the parameter group must set require_ssl = true."
  }

  assert {
    condition     = contains(aws_redshift_logging.this.log_exports, "useractivitylog") && anytrue([for p in aws_redshift_parameter_group.this.parameter : p.name == "enable_user_activity_logging" && p.value == "true"])
    error_message = "redshift-audit-log: every query must be logged (useractivitylog + enable_user_activity_logging)."
  }

  assert {
    condition = length(aws_vpc_security_group_ingress_rule.redshift_clients) == 2 && alltrue([
      for r in aws_vpc_security_group_ingress_rule.redshift_clients :
      r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.prefix_list_id == null && contains(values(var.allowed_security_group_ids), r.referenced_security_group_id)
    ])
    error_message = "redshift-ingress: only the named client security groups may reach the cluster, never a CIDR."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.copy_read_lake.statement : s.actions
    ])) == toset(["s3:GetObject", "s3:ListBucket", "kms:Decrypt"])
    error_message = "copy-role-actions: the COPY role may only get and list lake objects and decrypt them."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.copy_read_lake.statement : s.resources if contains(s.actions, "s3:GetObject")
    ])) == toset(["arn:aws:s3:::spacex-elt-test-lake/staged/spacex/*"])
    error_message = "copy-role-staged-only: the COPY role may read objects under staged/spacex/ only."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.copy_read_lake.statement : [
        for c in s.condition : c.values if c.variable == "s3:prefix"
      ] if contains(s.actions, "s3:ListBucket")
    ])) == toset(["staged/spacex/*"])
    error_message = "copy-role-staged-only: the COPY role may list staged/spacex/ only."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.copy_read_lake.statement : s.resources if contains(s.actions, "kms:Decrypt")
    ])) == toset([var.lake_kms_key_arn])
    error_message = "copy-role-lake-key: the COPY role may decrypt with the lake key only."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.copy_assume.statement :
      anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "sts:ExternalId" && toset(c.values) == toset(["arn:aws:redshift:eu-west-1:123456789012:dbuser:spacex-elt-test-redshift/loader"])])
    ])
    error_message = "copy-role-load-user-only: only the loader user of this cluster may have Redshift assume the COPY role (sts:ExternalId)."
  }

  # Equality operators only, strict or IfExists (see the policy for why IfExists):
  # a Like, Not or ForAnyValue operator, another value or a missing key fails.
  assert {
    condition = length(data.aws_iam_policy_document.copy_assume.statement) > 0 && alltrue([
      for s in data.aws_iam_policy_document.copy_assume.statement :
      anytrue([for c in s.condition : c.variable == "aws:SourceAccount" && contains(["StringEquals", "StringEqualsIfExists"], c.test) && toset(c.values) == toset(["123456789012"])]) &&
      anytrue([for c in s.condition : c.variable == "aws:SourceArn" && contains(["ArnEquals", "ArnEqualsIfExists"], c.test) && toset(c.values) == toset(["arn:aws:redshift:eu-west-1:123456789012:cluster:spacex-elt-test-redshift"])])
    ])
    error_message = "copy-role-trust: only this account's cluster may assume the COPY role (aws:SourceAccount and aws:SourceArn, equality operators)."
  }

  # The role carries that document, not another policy without the conditions.
  assert {
    condition     = aws_iam_role.copy.assume_role_policy == data.aws_iam_policy_document.copy_assume.json
    error_message = "copy-role-trust: the COPY role's trust policy must be the copy_assume document."
  }

  assert {
    condition     = toset(aws_redshift_cluster.this.iam_roles) == toset([aws_iam_role.copy.arn]) && aws_redshift_cluster.this.default_iam_role_arn == aws_iam_role.copy.arn
    error_message = "copy-role-attached: the cluster carries the COPY role and no other."
  }

  assert {
    condition = output.app_user_credential_arns == [
      "arn:aws:redshift:eu-west-1:123456789012:dbuser:spacex-elt-test-redshift/loader",
      "arn:aws:redshift:eu-west-1:123456789012:dbuser:spacex-elt-test-redshift/transformer",
      "arn:aws:redshift:eu-west-1:123456789012:dbname:spacex-elt-test-redshift/spacex",
    ]
    error_message = "app-user-credentials: IAM credentials are for the loader and transformer users on this cluster's database only."
  }
}

run "the_admin_cannot_be_an_app_user" {
  command = plan

  module {
    source = "../../modules/warehouse"
  }

  variables {
    load_user = "spacex_admin"
  }

  expect_failures = [aws_redshift_cluster.this]
}
