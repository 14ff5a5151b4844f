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
  after its model, as `dbt build` and `spacex-etl run` do: no second dbt start-up. dbt does not
  build a model whose unit test or whose parents' tests failed: that model's task goes red with
  dbt's messages of what stopped it in its own log (the producer publishes them from the build's
  run results, `publish_failures`; the task logs them, `log_dbt_failure`), the tasks after it
  do not run, and neither does the report. `local` runs the tests in one task after all models
  (TestBehavior.AFTER_ALL). Source freshness belongs to the report.
- Connection: the warehouse's dbt variables are set in the task's own process just before dbt
  starts (`on_execute_callback`), never in the DAG: no secret is serialised or shown.
- Assets: each mart model's task declares its mart as an outlet (`assets.mart`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
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


FAILURES_KEY = "dbt_failures"
"""The producer's XCom: each model dbt did not build → dbt's messages of what failed it."""
FAILED = {"error", "fail", "runtime error"}


def failures_by_model(
    manifest: dict[str, Any], run_results: dict[str, Any]
) -> dict[str, list[str]]:
    """For each model dbt did not build, dbt's messages of the failed nodes that stopped it: the
    model itself, its unit tests, and the data tests of the models it reads (`dbt build` skips
    a model whose own unit test or a parent's test failed)."""
    failed = {
        r["unique_id"]: f"{r['unique_id']} ({r['status']}): {r.get('message') or ''}"
        for r in run_results.get("results", [])
        if r.get("status") in FAILED
    }
    if not failed:
        return {}
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}

    def parents(uid: str) -> list[str]:
        return list(nodes.get(uid, {}).get("depends_on", {}).get("nodes", []))

    out: dict[str, list[str]] = {}
    for r in run_results.get("results", []):
        model = r["unique_id"]
        if not model.startswith("model.") or r.get("status") not in FAILED | {"skipped"}:
            continue
        upstream, todo = {model}, [model]
        while todo:
            for parent in parents(todo.pop()):
                if parent.startswith("model.") and parent not in upstream:
                    upstream.add(parent)
                    todo.append(parent)
        causes = [
            line
            for uid, line in failed.items()
            if uid in upstream or (not uid.startswith("model.") and upstream & set(parents(uid)))
        ]
        if causes:
            out[model] = causes
    return out


def publish_failures(project_dir: str, context: Any = None, **_: Any) -> None:
    """The producer's `callback` (after its dbt build, before it fails or succeeds): push, for
    each model dbt did not build, dbt's own messages, read from the build's run results."""
    target = Path(project_dir) / "target"
    try:
        run_results = json.loads((target / "run_results.json").read_text())
        manifest = json.loads((target / "manifest.json").read_text())
    except FileNotFoundError:  # dbt stopped before it ran a node: the producer's log says why
        return
    failures = failures_by_model(manifest, run_results)
    if failures and context is not None:
        context["ti"].xcom_push(key=FAILURES_KEY, value=failures)


def log_dbt_failure(context: Any) -> None:
    """Failure/retry callback of a model's task: dbt's messages for that model, from the build
    (Cosmos's own line only names the model and points at the producer's log)."""
    model = getattr(context.get("task"), "model_unique_id", None)
    if model is None:
        return
    producer = f"{GROUP_ID}.{PRODUCER_TASK_ID}"
    failures = context["ti"].xcom_pull(task_ids=producer, key=FAILURES_KEY) or {}
    for line in failures.get(model, []):
        log.error("dbt: %s", line)


PROGRESS_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})
UNWATCHED = frozenset({"test", "unit_test"})
"""What no task reads of the events Cosmos's producer writes to XCom (an API call apiece, one at a
time behind one lock, while dbt's threads wait): dbt's per-node progress events, and the
`NodeFinished` of tests and unit tests (no task watches them here: they run inside the build; their
result lines, `LogTestResult`, still reach the producer's log). The models' tasks read each
model's result and its last event."""


def _unread(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    name = event.get("info", {}).get("name")
    node = (event.get("data") or {}).get("node_info") or {}
    return name in PROGRESS_EVENTS or (
        name == "NodeFinished" and node.get("resource_type") in UNWATCHED
    )


def report_results_only(producer: Any) -> None:
    """Make the watcher's producer skip the events no task reads (`UNWATCHED`, `PROGRESS_EVENTS`):
    ~490 XCom writes fewer per build of this project, the same results for every model's task."""
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    class ResultsOnlyProducer(DbtProducerWatcherOperator):  # type: ignore[misc]
        def _make_parse_callable(self) -> Any:
            parse = super()._make_parse_callable()

            def parse_results(line: str, extra_kwargs: Any) -> None:
                if not _unread(line):
                    parse(line, extra_kwargs)

            return parse_results

    # Cosmos builds the producer from its own class path; the subclass changes no state, so
    # the instance takes it as it is (the task's copies for execution keep the class).
    producer.__class__ = ResultsOnlyProducer


@contextlib.contextmanager
def writer_lock(path: Path, holder: str) -> Iterator[None]:
    """Hold the exclusive flock at `path`, waiting for whoever holds it (named in its log line):
    one writing process at a time on a single-writer warehouse. The kernel releases it when the
    process ends however it ends, so a crashed task never blocks the next."""
    from spacex_etl import locks  # at run time: parsing the DAG imports no more of the job

    def wait(held_by: str) -> None:
        log.info(
            "waiting for the warehouse's writer lock %s (held by %s)",
            path,
            held_by or "another task",
        )

    with locks.held(path, f"{holder}, since", wait):
        yield


_ONE_WRITER: dict[type, type] = {}


def one_writer_at_a_time(task: Any, lock: Path) -> None:
    """On a single-writer warehouse, a watcher model task's own dbt run (Cosmos's fallback when
    the task is cleared or retried, or the producer ended without its result) waits for the
    warehouse's writer lock, and closes dbt-duckdb's connection before it lets the next one in:
    the model tasks, which otherwise only read the producer's results, can run side by side."""
    base = type(task)
    if base not in _ONE_WRITER:

        def build_and_run_cmd(self: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            with writer_lock(Path(self.writer_lock), f"dbt for {self.task_id}"):
                try:
                    return base.build_and_run_cmd(self, context, *args, **kwargs)
                finally:
                    release_duckdb(context)

        _ONE_WRITER[base] = type(
            f"OneWriter{base.__name__}", (base,), {"build_and_run_cmd": build_and_run_cmd}
        )
    # Cosmos builds the task from its own class path; the subclass adds no state but the
    # lock's path, so the instance takes it as it is (as `report_results_only` does).
    task.writer_lock = str(lock)
    task.__class__ = _ONE_WRITER[base]


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
                {"retries": 0, "dbt_cmd_flags": TESTS_IN_BUILD, "callback": publish_failures}
                if watcher
                else None
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
            "on_failure_callback": [
                log_dbt_failure,
                *default_args["on_failure_callback"],
                release_duckdb,
            ],
            "on_retry_callback": [log_dbt_failure, default_args["on_retry_callback"]],
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
    report_results_only(producer)
    for model in models.values():
        if cfg.single_writer:
            one_writer_at_a_time(model, cfg.writer_lock)
        if not model.upstream_task_ids & set(models):
            # Read the build's result once it is known, whatever it is: no model task waits
            # in the triggerer, and every executor (dag.test() included) runs the build first.
            # A failed load leaves no success upstream: the models' tasks do not run.
            [after, producer] >> model
            model.trigger_rule = "all_done_min_one_success"
