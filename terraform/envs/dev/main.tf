# Example root: one environment of the SpaceX ELT platform.
#
#   network -> lake -> warehouse -> etl_job -> orchestration (optional)
#
# Each module owns its KMS key and the IAM role(s) of what it runs, so a
# role's policy sits next to the resources it may touch.

data "aws_caller_identity" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  azs        = var.availability_zones != null ? var.availability_zones : ["${var.region}a", "${var.region}b"]

  lake_bucket_name       = coalesce(var.lake_bucket_name, "${local.name}-lake-${local.account_id}")
  access_log_bucket_name = coalesce(var.access_log_bucket_name, "${local.name}-s3-access-logs-${local.account_id}")
  dags_bucket_name       = coalesce(var.dags_bucket_name, "airflow-${local.name}-dags-${local.account_id}")

  tags = {
    Project     = var.project
    Environment = var.environment
  }

  # How the spacex_elt DAG (dags/spacex_elt_support/config.py) runs the job on
  # ECS: exported by the MWAA startup script, or set by hand on any Airflow.
  airflow_ecs_environment = {
    SPACEX_AIRFLOW_EXECUTION_MODE    = "ecs"
    SPACEX_AIRFLOW_INPUT             = "api" # production reads the live API (SPACEX_SOURCE_URL)
    SPACEX_ECS_CLUSTER               = module.etl_job.cluster_name
    SPACEX_ECS_TASK_DEFINITION       = module.etl_job.task_definition_family
    SPACEX_ECS_CONTAINER_NAME        = module.etl_job.container_name
    SPACEX_ECS_SUBNETS               = join(",", module.network.private_subnet_ids)
    SPACEX_ECS_SECURITY_GROUPS       = module.network.etl_job_security_group_id
    SPACEX_ECS_LAUNCH_TYPE           = "FARGATE"
    SPACEX_ECS_AWSLOGS_GROUP         = module.etl_job.log_group_name
    SPACEX_ECS_AWSLOGS_STREAM_PREFIX = module.etl_job.awslogs_stream_prefix
    SPACEX_ECS_REGION                = var.region
  }
}

module "network" {
  source = "../../modules/network"

  name                    = local.name
  availability_zones      = local.azs
  cidr_block              = var.vpc_cidr
  single_nat_gateway      = var.single_nat_gateway
  flow_log_retention_days = var.log_retention_days
  tags                    = local.tags
}

module "lake" {
  source = "../../modules/lake"

  bucket_name            = local.lake_bucket_name
  access_log_bucket_name = local.access_log_bucket_name
  tags                   = local.tags
}

module "warehouse" {
  source = "../../modules/warehouse"

  cluster_identifier  = "${local.name}-redshift"
  database_name       = var.redshift_database
  node_type           = var.redshift_node_type
  number_of_nodes     = var.redshift_number_of_nodes
  skip_final_snapshot = var.redshift_skip_final_snapshot
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.data_subnet_ids
  lake_bucket_arn     = module.lake.bucket_arn
  lake_kms_key_arn    = module.lake.kms_key_arn
  log_retention_days  = var.log_retention_days

  # Only the job's and (when enabled) Airflow's security groups reach 5439.
  allowed_security_group_ids = merge(
    { etl_job = module.network.etl_job_security_group_id },
    var.enable_mwaa ? { mwaa = module.network.orchestrator_security_group_id } : {},
  )

  tags = local.tags
}

module "etl_job" {
  source = "../../modules/etl_job"

  name                        = "${local.name}-etl"
  image_tag                   = var.etl_image_tag
  lake_bucket_name            = module.lake.bucket_name
  lake_bucket_arn             = module.lake.bucket_arn
  lake_kms_key_arn            = module.lake.kms_key_arn
  redshift_host               = module.warehouse.host
  redshift_port               = module.warehouse.port
  redshift_database           = module.warehouse.database_name
  redshift_cluster_identifier = module.warehouse.cluster_identifier
  redshift_load_user          = module.warehouse.load_user
  redshift_dbt_user           = module.warehouse.dbt_user
  redshift_credential_arns    = module.warehouse.app_user_credential_arns
  redshift_copy_role_arn      = module.warehouse.copy_role_arn
  log_retention_days          = var.log_retention_days
  tags                        = local.tags
}

# MWAA is the largest fixed cost here (it bills every hour it exists), so it
# is opt-in: with enable_mwaa = false run the same task from a self-hosted
# Airflow, EventBridge Scheduler, or by hand (aws ecs run-task).
module "orchestration" {
  source = "../../modules/orchestration"
  count  = var.enable_mwaa ? 1 : 0

  name                   = local.name
  airflow_version        = var.mwaa_airflow_version
  environment_class      = var.mwaa_environment_class
  subnet_ids             = slice(module.network.private_subnet_ids, 0, 2)
  security_group_id      = module.network.orchestrator_security_group_id
  dags_bucket_name       = local.dags_bucket_name
  access_log_bucket_name = module.lake.access_log_bucket_name
  ecs_cluster_arn        = module.etl_job.cluster_arn
  ecs_cluster_name       = module.etl_job.cluster_name
  task_definition_family = module.etl_job.task_definition_family
  ecs_task_role_arn      = module.etl_job.task_role_arn
  ecs_execution_role_arn = module.etl_job.execution_role_arn
  ecs_log_group_arn      = module.etl_job.log_group_arn
  airflow_environment    = local.airflow_ecs_environment
  tags                   = local.tags
}
