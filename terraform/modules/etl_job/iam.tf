locals {
  lake_object_arns  = [for p in var.lake_prefixes : "${var.lake_bucket_arn}/${p}*"]
  lake_list_prefix  = [for p in var.lake_prefixes : "${p}*"]
  ecs_service_trust = "ecs-tasks.amazonaws.com"
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [local.ecs_service_trust]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# ---------------------------------------------------------------------------
# Task role: what the ELT code itself may do.
# ---------------------------------------------------------------------------

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "ELT container: write the lake's raw/staged/quarantine/reports prefixes, IAM database credentials for the loader and dbt users."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "task" {
  # Put and Get, never Delete: a run only adds objects, and raw/ is also
  # protected against deletes by the bucket policy.
  statement {
    sid       = "WriteAndReadOwnPrefixes"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = local.lake_object_arns
  }

  # ListBucket also decides whether HeadObject on a missing key answers 404
  # (the lake's exists() check) or 403. A HeadObject request carries no
  # s3:prefix, hence IfExists; listings that name a prefix must stay inside
  # the job's own prefixes.
  statement {
    sid       = "ListOwnPrefixes"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.lake_bucket_arn]

    condition {
      test     = "StringLikeIfExists"
      variable = "s3:prefix"
      values   = local.lake_list_prefix
    }
  }

  statement {
    sid       = "UseLakeKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.lake_kms_key_arn]
  }

  # IAM authentication: temporary database credentials for the two
  # application users only (never the admin), on this cluster's database.
  # No AutoCreate (redshift:CreateClusterUser) and no groups (JoinGroup):
  # the users and their grants come from the SQL bootstrap.
  statement {
    sid       = "TemporaryCredentialsForAppUsers"
    effect    = "Allow"
    actions   = ["redshift:GetClusterCredentials"]
    resources = var.redshift_credential_arns
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "lake-and-warehouse-access"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# ---------------------------------------------------------------------------
# Execution role: what ECS needs to start the container (pull, log).
# ---------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS agent for the ELT task: pull the image from its ECR repository, write its log group."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid     = "EcrLogin"
    effect  = "Allow"
    actions = ["ecr:GetAuthorizationToken"]
    # Wildcard: GetAuthorizationToken has no resource-level permissions; the
    # token alone grants nothing, the next statement scopes the pull.
    resources = ["*"]
  }

  statement {
    sid    = "PullJobImage"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.this.arn]
  }

  statement {
    sid       = "WriteJobLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.job.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}
