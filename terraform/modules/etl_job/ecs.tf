resource "aws_cloudwatch_log_group" "job" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = module.key.arn

  tags = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  log_stream_prefix = "etl"

  # What the container is told. Nothing secret: the job and dbt log in with
  # IAM authentication (GetClusterCredentials, with the task role) as two
  # users that are not superusers; no password exists for them anywhere.
  environment = merge(
    {
      SPACEX_LAKE_URI              = "s3://${var.lake_bucket_name}/"
      SPACEX_WAREHOUSE             = "redshift"
      SPACEX_REDSHIFT_HOST         = var.redshift_host
      SPACEX_REDSHIFT_PORT         = tostring(var.redshift_port)
      SPACEX_REDSHIFT_DATABASE     = var.redshift_database
      SPACEX_REDSHIFT_AUTH_METHOD  = "iam"
      SPACEX_REDSHIFT_CLUSTER_ID   = var.redshift_cluster_identifier
      SPACEX_REDSHIFT_USER         = var.redshift_load_user
      SPACEX_REDSHIFT_DBT_USER     = var.redshift_dbt_user
      SPACEX_REDSHIFT_IAM_ROLE_ARN = var.redshift_copy_role_arn
      SPACEX_AWS_REGION            = data.aws_region.current.name
      AWS_REGION                   = data.aws_region.current.name
      # The root filesystem is read-only; scratch space is the task's
      # ephemeral storage mounted at /tmp.
      SPACEX_DATA_DIR = "/tmp/spacex"
      DBT_TARGET_PATH = "/tmp/dbt/target"
      DBT_LOG_PATH    = "/tmp/dbt/logs"
    },
    var.extra_environment,
  )

  container = {
    name                   = var.container_name
    image                  = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"
    essential              = true
    entryPoint             = ["spacex-etl"]
    command                = var.command
    readonlyRootFilesystem = true
    # An init process forwards SIGTERM to the CLI when ECS stops the task, so a load rolls back.
    linuxParameters = { initProcessEnabled = true }
    environment     = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    mountPoints = [
      {
        sourceVolume  = "scratch"
        containerPath = "/tmp"
        readOnly      = false
      },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.job.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = local.log_stream_prefix
      }
    }
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Fargate ephemeral storage, bind-mounted at /tmp (see local.container).
  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([local.container])

  tags = var.tags
}
