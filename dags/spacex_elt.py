"""
### SpaceX launches ELT

`extract → load → dbt (one task per model, fed by one dbt build with the tests) → report`, once a
day.

- **extract** fetches the launches (and cores) source and lands it, unchanged, in the lake's
  raw zone under `ingest_date=<data interval start>/<run id>.try<N>/` with a manifest.
  Passes the raw URIs on (XCom) — references, never data.
- **load** validates, stages (Parquet) and loads exactly those raw objects: the batch
  (resource, source, ingest date) replaces its previous rows in one transaction and writes a
  `load_ledger` row. Outlets: the raw tables (Assets).
- **dbt** (task group, astronomer-cosmos): one task per model — staging, intermediate and
  marts, including the answer models `q1_max_core_reuse` and
  `q2_cores_reused_within_50_days` — each showing its model's result in the one `dbt build`
  (`dbt.dbt_producer_watcher`), which also runs the data and unit tests, each after its model.
  Clear a failed model to rerun it alone. Mart tasks' outlets: the marts (Assets).
- **report** reads Q1/Q2 from the answer models and writes the run's data-quality page
  (counts, quarantine by rule and field, source freshness, answers, a chart of the last runs)
  into the lake's reports zone; XCom `return_value` holds the answers and `report_uri`.

Every task is idempotent and keyed by the data interval: clearing any task (or the whole
run) and rerunning it replaces that day's batch, never duplicates it. Retries back off
exponentially up to a cap; a task that fails for good alerts (log line, plus Airflow's HTTP
notifier `SPACEX_ALERT_HTTP_CONN_ID` / SMTP notifier `SPACEX_ALERT_EMAILS` when configured).
Lineage: OpenLineage events for every task (file transport by default; see part-2/README.md).

**Trigger with config**: `input` (`snapshot` or an https URL on an allowed host) and
`cores_input`.
**Backfill**: `airflow backfill create --dag-id spacex_elt --from-date 2024-06-01
--to-date 2024-06-07` (one run per day, oldest first, `max_active_runs=1`).
**Execution mode** (`SPACEX_AIRFLOW_EXECUTION_MODE`): `python` (in-process, Cosmos),
`docker` (DockerOperator, image `spacex-etl:0.1.0`), `ecs` (EcsRunTaskOperator). See
`part-2/README.md`.
"""

from __future__ import annotations

from datetime import UTC

# The DAG processor imports a DAG file's `airflow.*` imports once, before it forks the process
# that parses the file (`parsing_pre_import_modules`): naming the OpenLineage extractors, which
# Cosmos's operators import, spares every parse ~1.4 s of imports.
import airflow.providers.openlineage.extractors  # noqa: F401
from airflow.sdk import DAG, Param
from spacex_elt_support.config import DagConfig, lake_safe
from spacex_elt_support.factory import build_tasks, default_args
from spacex_elt_support.steps import run_id_of

cfg = DagConfig.from_env()
INPUT_PATTERN = cfg.source_pattern  # the job's own allow-list (SPACEX_SOURCE_ALLOWED_HOSTS)
SOURCE = "`snapshot` (the bundled real data) or an https URL on an allowed host"

with DAG(
    dag_id="spacex_elt",
    description="SpaceX launches: extract → lake → warehouse → dbt models/tests → report",
    schedule=cfg.schedule,
    start_date=cfg.start_date.replace(tzinfo=UTC),
    catchup=cfg.catchup,
    max_active_runs=1,
    max_active_tasks=cfg.parallel_tasks,
    dagrun_timeout=cfg.dagrun_timeout,
    default_args=default_args(cfg),
    params={
        "input": Param(
            cfg.input, type="string", pattern=INPUT_PATTERN, description=f"launches: {SOURCE}"
        ),
        "cores_input": Param(
            cfg.cores_input,
            type=["null", "string"],
            pattern=INPUT_PATTERN,
            description=f"cores: {SOURCE}; empty = bundled with snapshot, none for a URL",
        ),
    },
    user_defined_filters={"lake_safe": lake_safe, "run_id_of": run_id_of},
    tags=["spacex", "elt", "dbt", f"mode:{cfg.mode}"],
    doc_md=__doc__,
) as dag:
    build_tasks(cfg)
