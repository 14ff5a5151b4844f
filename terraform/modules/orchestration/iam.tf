# MWAA execution role: what Airflow itself needs to run (read its DAGs bucket,
# write its logs and metrics, use its Celery queue) plus the one thing our DAG
# does in AWS: start the ELT task on ECS and follow it.

data "aws_iam_policy_document" "mwaa_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "mwaa" {
  name               = "${var.name}-mwaa-execution"
  description        = "MWAA environment ${var.name}: Airflow runtime plus ecs:RunTask on the ELT task."
  assume_role_policy = data.aws_iam_policy_document.mwaa_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "mwaa" {
  statement {
    sid       = "PublishEnvironmentMetrics"
    effect    = "Allow"
    actions   = ["airflow:PublishMetrics"]
    resources = [local.environment_arn]
  }

  statement {
    sid    = "ReadDagsBucket"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:GetBucketVersioning",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetEncryptionConfiguration",
    ]
    resources = [module.dags_bucket.arn, "${module.dags_bucket.arn}/*"]
  }

  statement {
    sid     = "CheckAccountPublicAccessBlock"
    effect  = "Allow"
    actions = ["s3:GetAccountPublicAccessBlock"]
    # Wildcard: an account-level setting with no bucket ARN; MWAA checks it
    # before it trusts the DAGs bucket. Read-only.
    resources = ["*"]
  }

  statement {
    sid    = "WriteAirflowLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = [local.airflow_log_group_arn]
  }

  statement {
    sid     = "DescribeLogGroups"
    effect  = "Allow"
    actions = ["logs:DescribeLogGroups"]
    # Wildcard: DescribeLogGroups is a list call without resource-level
    # permissions. Read-only metadata.
    resources = ["*"]
  }

  statement {
    sid     = "PublishCloudWatchMetrics"
    effect  = "Allow"
    actions = ["cloudwatch:PutMetricData"]
    # Wildcard: PutMetricData has no resource-level permissions (metrics are
    # not ARN-addressable). Write-only to metrics.
    resources = ["*"]
  }

  statement {
    sid    = "UseCeleryQueue"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    # The Celery queue lives in an MWAA-owned account whose id we cannot know,
    # hence the account wildcard; the name pattern is MWAA's own.
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"]
  }

  statement {
    sid    = "UseEnvironmentKeyViaSqsAndS3"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:GenerateDataKey*",
      "kms:Encrypt",
    ]
    resources = [module.key.arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com", "s3.${local.region}.amazonaws.com"]
    }
  }

  # The DAG's only AWS action: run the ELT task definition (any revision of
  # its family) on our cluster, then watch and, on timeout, stop it.
  statement {
    sid       = "RunEltTask"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${var.task_definition_family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }

  statement {
    sid       = "FollowEltTasks"
    effect    = "Allow"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${var.ecs_cluster_name}/*"]
  }

  statement {
    sid       = "PassOnlyTheEltTaskRoles"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [var.ecs_task_role_arn, var.ecs_execution_role_arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadEltTaskLogs"
    effect    = "Allow"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = [var.ecs_log_group_arn, "${var.ecs_log_group_arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "mwaa" {
  name   = "airflow-runtime-and-run-elt-task"
  role   = aws_iam_role.mwaa.id
  policy = data.aws_iam_policy_document.mwaa.json
}
