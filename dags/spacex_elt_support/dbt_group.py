"""The dbt project as Airflow tasks (astronomer-cosmos): one task per model, and the tests.

- Rendering: from the `manifest.json` that `spacex-etl transform --command parse` writes at
  build time (`make dbt-manifest`, the Airflow image), so parsing the DAG runs no dbt and opens
  no warehouse. Without a manifest Cosmos's own YAML/SQL parser (LoadMode.CUSTOM) renders the
  same graph (slower, logged once as a warning), so the DAG always imports.
- Running (`SPACEX_AIRFLOW_DBT_TASKS`):
  - `watcher` (default): ExecutionMode.WATCHER. One producer task runs a single `dbt build` of
    the models (one dbt start-up, dbt's threads); each model's task reads its model's result
    as dbt reports it — success, or failure with dbt's message in its log. Clearing a model's
    task after the build reruns that model alone (`dbt run --select <model>`).
  - `local`: ExecutionMode.LOCAL, each model's task runs its own `dbt run --select` (one dbt
    start-up per model: slower, kept to compare).
  - `build`: no per-model tasks, one `dbt build` task (see `factory`).
  dbt runs in the task's process through its Python runner (InvocationMode.DBT_RUNNER) and
  starts from the partial-parse state built with the manifest.
- Tests: `watcher` runs them in the producer's one `dbt build` (`TESTS_IN_BUILD`), each right
  after its model, as `dbt build` and `spacex-etl run` do: no second dbt start-up; a failing
  test fails the producer, naming itself in its log; dbt does not build the models that read
  the tested one (their tasks go red) and the report does not run. `local` runs them in one
  task after all models (TestBehavior.AFTER_ALL). Source freshness belongs to the report.
- Connection: the warehouse's dbt variables are set in the task's own process just before dbt
  starts (`on_execute_callback`), never in the DAG: no secret is serialised or shown.
- Assets: each mart model's task declares its mart as an outlet (`assets.mart`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from spacex_elt_support import assets
from spacex_elt_support.config import DagConfig

log = logging.getLogger("spacex_elt.dbt_group")

GROUP_ID = "dbt"
PRODUCER_TASK_ID = "dbt_producer_watcher"  # Cosmos's id for the watcher's build task
MARTS_FOLDER = "marts"
TESTS_IN_BUILD = ["--resource-type", "test", "--resource-type", "unit_test"]
"""Added to the resource types Cosmos gives the producer's `dbt build` (models, seeds,
snapshots): the data and unit tests run in the same build, each right after its model."""


def set_dbt_environment(context: Any) -> None:
    """`on_execute_callback`: the profile's variables for this warehouse, in this process."""
    from spacex_elt_support import steps

    os.environ.update(steps.dbt_environment())


def release_duckdb(context: Any) -> None:
    """Success/failure callback: let the next task in this process open the DuckDB file."""
    from spacex_elt_support import steps

    steps.release_duckdb()


def manifest_problem(cfg: DagConfig) -> str | None:
    """Why the prebuilt manifest cannot be used (missing, or older than a project file), or None."""
    manifest = cfg.manifest_path
    if not manifest.is_file():
        return f"no dbt manifest at {manifest}"
    built = manifest.stat().st_mtime
    for path in cfg.dbt_project_dir.rglob("*"):
        source = path.suffix in (".sql", ".yml") and "target" not in path.parts
        if source and path.stat().st_mtime > built:
            return f"the dbt manifest {manifest} is older than {path.name}"
    return None


def dbt_task_group(cfg: DagConfig, default_args: dict[str, Any], after: Any) -> Any:
    """Build the Cosmos task group inside the current DAG context, downstream of `after`."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    watcher = cfg.dbt_tasks == "watcher"

    manifest = cfg.manifest_path
    problem = manifest_problem(cfg)
    if problem is None:
        load_method = LoadMode.DBT_MANIFEST
        project = ProjectConfig(
            dbt_project_path=cfg.dbt_project_dir,
            manifest_path=manifest,
            install_dbt_deps=False,
        )
        # Cosmos wraps the path in Airflow's ObjectStoragePath, whose first open loads every
        # Airflow plugin (Cosmos's own imports FastAPI): ~1-2 s of each parse, in every task's
        # process too. The manifest is a local file: read it as one.
        project.manifest_path = manifest
    else:
        log.warning(
            "%s (run `make dbt-manifest`): rendering dbt with Cosmos's parser instead, and dbt "
            "parses the whole project at each run",
            problem,
        )
        load_method = LoadMode.CUSTOM
        project = ProjectConfig(dbt_project_path=cfg.dbt_project_dir, install_dbt_deps=False)
    on_done = [release_duckdb]
    group = DbtTaskGroup(
        group_id=GROUP_ID,
        project_config=project,
        profile_config=ProfileConfig(
            profile_name="spacex",
            target_name=cfg.dbt_target,
            profiles_yml_filepath=cfg.dbt_project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # The producer runs the one dbt build, tests included; a retry of it would be a second
            # build (Cosmos skips it): the models' own tasks retry, each its model alone.
            setup_operator_args=(
                {"retries": 0, "dbt_cmd_flags": TESTS_IN_BUILD} if watcher else None
            ),
        ),
        render_config=RenderConfig(
            load_method=load_method,
            test_behavior=TestBehavior.NONE if watcher else TestBehavior.AFTER_ALL,
            emit_datasets=False,  # our Assets are declared statically below
            enable_mock_profile=False,
        ),
        operator_args={
            "on_execute_callback": set_dbt_environment,
            "on_success_callback": on_done,
        },
        default_args={
            **default_args,
            "on_failure_callback": [*default_args["on_failure_callback"], release_duckdb],
            "execution_timeout": cfg.timeouts["dbt_run"],
        },
    )
    _declare_marts_and_order_tests(group, cfg, after)
    after >> group
    return group


def _declare_marts_and_order_tests(group: Any, cfg: DagConfig, after: Any) -> None:
    """Mart models' tasks get their Asset outlet; a test task runs after every model; with a
    producer (its build runs the tests too: its timeout covers both), the first models' tasks
    wait for its build to end."""
    models = {}
    for key, node in group.dbt_graph.filtered_nodes.items():
        if str(getattr(node.resource_type, "value", node.resource_type)) != "model":
            continue
        task = group.tasks_map.get(key)  # keyed like the graph (unique id, or name for CUSTOM)
        if task is None:
            continue
        models[task.task_id] = task
        if MARTS_FOLDER in node.original_file_path.parts:
            task.outlets = [*task.outlets, assets.mart(node.name)]
    for task in group.children.values():
        if task.task_id.endswith("_test") and task.task_id not in models:
            task.execution_timeout = cfg.timeouts["dbt_test"]
            for model in models.values():
                if not model.downstream_task_ids & set(models):
                    model >> task  # the tests wait for every leaf model
    producer = group.children.get(f"{GROUP_ID}.{PRODUCER_TASK_ID}")
    if producer is None:
        return
    producer.execution_timeout = cfg.timeouts["dbt_run"] + cfg.timeouts["dbt_test"]
    for model in models.values():
        if not model.upstream_task_ids & set(models):
            # Read the build's result once it is known, whatever it is: no model task waits
            # in the triggerer, and every executor (dag.test() included) runs the build first.
            # A failed load leaves no success upstream: the models' tasks do not run.
            [after, producer] >> model
            model.trigger_rule = "all_done_min_one_success"
