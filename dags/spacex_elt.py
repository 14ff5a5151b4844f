"""
### SpaceX launches ELT

`extract → load → dbt_run → dbt_test → report`, once a day.

- **extract** fetches the launches (and cores) source and lands it, unchanged, in the lake's
  raw zone under `ingest_date=<data interval start>/<run id>.try<N>/` with a manifest.
  Passes the raw URIs on (XCom) — references, never data.
- **load** validates, stages (Parquet) and loads exactly those raw objects: the batch
  (source, ingest date) replaces its previous rows in one transaction and writes a
  `load_ledger` row.
- **dbt_run** `dbt run`: staging, intermediate and mart models, including the answer models
  `q1_max_core_reuse` and `q2_cores_reused_within_50_days`.
- **dbt_test** `dbt test`: data tests and unit tests. A failing test fails the run.
- **report** reads Q1/Q2 from the answer models and publishes them with the run's counts
  (task log + XCom `return_value`).

Every task is idempotent and keyed by the data interval: clearing any task (or the whole
run) and rerunning it replaces that day's batch, never duplicates it. Retries back off
exponentially up to a cap; a task that fails for good alerts (log line, plus webhook
`SPACEX_ALERT_WEBHOOK_URL` / email `SPACEX_ALERT_EMAILS` when configured).

**Trigger with config**: `input` (`snapshot`, a file or an API URL) and `cores_input`.
**Backfill**: `airflow backfill create --dag-id spacex_elt --from-date 2024-06-01
--to-date 2024-06-07` (one run per day, oldest first, `max_active_runs=1`).
**Execution mode** (`SPACEX_AIRFLOW_EXECUTION_MODE`): `python` (in-process), `docker`
(DockerOperator, image `spacex-etl:0.1.0`), `ecs` (EcsRunTaskOperator). See `part-2/README.md`.
"""

from __future__ import annotations

from datetime import UTC

from airflow.sdk import DAG, Param
from spacex_elt_support.config import DagConfig, lake_safe
from spacex_elt_support.factory import build_tasks, default_args

cfg = DagConfig.from_env()

with DAG(
    dag_id="spacex_elt",
    description="SpaceX launches: extract → lake → warehouse → dbt run/test → Q1/Q2",
    schedule=cfg.schedule,
    start_date=cfg.start_date.replace(tzinfo=UTC),
    catchup=cfg.catchup,
    max_active_runs=1,
    dagrun_timeout=cfg.dagrun_timeout,
    default_args=default_args(cfg),
    params={
        "input": Param(cfg.input, type="string", description="snapshot, a JSON file or a URL"),
        "cores_input": Param(cfg.cores_input, type=["null", "string"], description="cores"),
    },
    user_defined_filters={"lake_safe": lake_safe},
    tags=["spacex", "elt", "dbt", f"mode:{cfg.mode}"],
    doc_md=__doc__,
) as dag:
    build_tasks(cfg)
