# The lake's own bucket statements (raw/ immutable, uploads only with its key)
# and modules/kms_key, behind every key here (rotation on, every service
# statement pinned by a condition).

mock_provider "aws" {
  source = "./tests/mocks"
}

run "lake_keeps_raw_and_only_its_key" {
  command = apply

  module {
    source = "../../modules/lake"
  }

  variables {
    bucket_name            = "spacex-elt-test-lake"
    access_log_bucket_name = "spacex-elt-test-s3-access-logs"
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.lake_bucket.statement :
      s.effect == "Deny" && toset(s.actions) == toset(["s3:DeleteObject", "s3:DeleteObjectVersion"]) && alltrue([for r in s.resources : endswith(r, "/raw/*")])
    ])
    error_message = "lake-raw-immutable: the lake policy must deny deleting raw/ objects."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.lake_bucket.statement :
      s.effect == "Deny" && contains(s.actions, "s3:PutObject") &&
      anytrue([for c in s.condition : c.variable == "s3:x-amz-server-side-encryption-aws-kms-key-id" && toset(c.values) == toset([output.kms_key_arn])])
    ])
    error_message = "lake-own-key: uploads naming another KMS key must be denied."
  }
}

run "keys_rotate_and_services_are_pinned" {
  command = apply

  module {
    source = "../../modules/kms_key"
  }

  variables {
    alias       = "spacex-elt-test"
    description = "test key"
    service_statements = [
      {
        sid        = "LogsForOneGroup"
        services   = ["logs.eu-west-1.amazonaws.com"]
        conditions = [{ test = "ArnEquals", variable = "kms:EncryptionContext:aws:logs:arn", values = ["arn:aws:logs:eu-west-1:123456789012:log-group:x"] }]
      },
    ]
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true && aws_kms_key.this.policy == data.aws_iam_policy_document.this.json
    error_message = "kms-rotation: every key must rotate and carry the module's key policy."
  }
}

run "a_service_statement_must_be_pinned" {
  command = plan

  module {
    source = "../../modules/kms_key"
  }

  variables {
    alias              = "spacex-elt-test"
    description        = "test key"
    service_statements = [{ sid = "Unpinned", services = ["logs.eu-west-1.amazonaws.com"], conditions = [] }]
  }

  expect_failures = [var.service_statements]
}
