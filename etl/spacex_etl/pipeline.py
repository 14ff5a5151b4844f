"""The stages, each a function with explicit inputs and outputs, and `run` that chains them.

The CLI and the Airflow DAG call these same functions. Stages hand each other references
(lake URIs, dates), never data, so each can run in its own process or container.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from spacex_etl.batch import Batch, BatchKey, stage_batch
from spacex_etl.config import SNAPSHOT, Settings
from spacex_etl.errors import ContractError, InputFormatError, LakeError, SpacexEtlError
from spacex_etl.lake import (
    Lake,
    check_run_id,
    file_digest,
    manifest_key,
    open_lake,
    partition_prefix,
    raw_key,
    zone_key,
)
from spacex_etl.sources import Extracted, check_source, cores_location, fetch, resolve_input
from spacex_etl.validate import parse_array
from spacex_etl.warehouse import SqlWarehouse, open_warehouse

log = logging.getLogger(__name__)

RESOURCES = ("launches", "cores")
current_run_id: ContextVar[str] = ContextVar("current_run_id", default="-")
"""The run id of the work in progress, stamped on every log line (see cli.RunIdFilter)."""


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: `20240601T120000Z-1a2b3c`."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@dataclass
class Landed:
    """One raw object in the lake and its manifest."""

    resource: str
    source: str
    raw_uri: str
    manifest_uri: str
    sha256: str
    bytes: int
    record_count: int | None
    extracted_at: str
    ingest_date: str
    run_id: str


def load_summary(batch: Batch) -> dict[str, Any]:
    """What loading one raw object did, as JSON-able values (`spacex-etl load --json`)."""
    result = batch.result
    return {
        "resource": batch.resource,
        "raw_uri": batch.raw_uri,
        **batch.counts(),
        "rows": result.rows if result else {},
        "keys_skipped_newer": result.keys_skipped_newer if result else 0,
        "quarantine_uri": batch.quarantine_uri,
        "staged_uris": batch.staged_uris,
        "drift": batch.drift,
        "timings_s": batch.timings_s,
    }


@dataclass
class RunSummary:
    """The run summary printed by `--json` and returned to Airflow."""

    run_id: str
    ingest_date: str
    source: str
    warehouse: str
    lake: str
    landed: list[Landed] = field(default_factory=list)
    loaded: list[Batch] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    dbt: dict[str, Any] = field(default_factory=dict)
    report_uri: str | None = None
    anomalies: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        launches = next((item for item in self.loaded if item.resource == "launches"), None)
        raw = next((item for item in self.landed if item.resource == "launches"), None)
        rows: dict[str, int] = {}
        for item in self.loaded:
            rows.update(item.result.rows if item.result else {})
        quarantine_uris = [item.quarantine_uri for item in self.loaded if item.quarantine_uri]
        return {
            "run_id": self.run_id,
            "ingest_date": self.ingest_date,
            "source": self.source,
            "raw_uri": raw.raw_uri if raw else None,
            "sha256": raw.sha256 if raw else None,
            "counts": {
                "received": launches.received if launches else 0,
                "loaded": rows,
                "quarantined": sum(len(item.quarantine) for item in self.loaded),
                "deduplicated": sum(item.deduplicated for item in self.loaded),
                "by_resource": {item.resource: item.counts() for item in self.loaded},
            },
            "quarantine_uri": quarantine_uris[0]
            if len(quarantine_uris) == 1
            else (quarantine_uris or None),
            "warehouse": self.warehouse,
            "lake": self.lake,
            "drift": {item.resource: item.drift for item in self.loaded if item.drift},
            "answers": self.answers,
            "report_uri": self.report_uri,
            "anomalies": self.anomalies,
            "dbt": self.dbt,
            "landed": [asdict(item) for item in self.landed],
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
        }


@contextmanager
def timed(
    timings: dict[str, float], stage: str, progress: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Time a stage (and announce it to `progress`, e.g. a spinner on a terminal)."""
    if progress:
        progress(stage)
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


# -- extract ---------------------------------------------------------------------------------
MANIFEST_FIELDS = ("resource", "source", "extracted_at", "ingest_date", "run_id", "sha256")
COUNT_LIMIT_BYTES = 16 * 1024 * 1024
"""Larger raw objects are landed without a record count (counting would load them whole)."""


DEEP_NESTING = ("depth limit exceeded", "nested too deeply")
"""How the parser says an array is valid JSON but nested deeper than it goes: such a file is
landed (uncounted), since the load reads only the contract's fields."""


def _record_count(extracted: Extracted) -> int | None:
    """Records in the body, when it is small enough to parse here (larger objects are checked
    by the load); InputFormatError when it is not a JSON array."""
    if extracted.bytes > COUNT_LIMIT_BYTES:
        return None
    try:
        return len(parse_array(extracted.path.read_bytes(), extracted.source))
    except InputFormatError as exc:
        if any(deep in str(exc) for deep in DEEP_NESTING):
            return None  # deeper than a parse here allows; the load reads only contract fields
        raise


def _unusable_name(resource: str, path: Path, error: InputFormatError) -> str:
    """A name that says what an unusable body is: `.html`, `.empty`, `.not-json`, or `.json`
    (valid JSON, but not an array of records)."""
    with path.open("rb") as handle:
        head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        return f"{resource}.empty"
    if head == b"<":
        return f"{resource}.html"
    return f"{resource}.{'not-json' if 'not valid JSON' in str(error) else 'json'}"


def _refuse_unusable(
    lake: Lake, extracted: Extracted, ingest_date: str, run_id: str, error: InputFormatError
) -> InputFormatError:
    """Keep an unusable body beside the run's quarantine (never in raw, where a later load of
    the date would pick it up; loads never list the quarantine zone) and return the error that
    says where it is."""
    name = _unusable_name(extracted.resource, extracted.path, error)
    key = zone_key("quarantine", extracted.resource, ingest_date, run_id, name)
    uri = lake.put_file(key, extracted.path)
    return InputFormatError(f"{error}; nothing landed in raw, the bytes are kept at {uri}")


def land(lake: Lake, extracted: Extracted, ingest_date: str, run_id: str) -> Landed:
    """Write the bytes unchanged to the raw zone, then the manifest beside them.

    Landing the same bytes under the same run id again reuses the existing manifest (a retried
    task is a no-op); other bytes under an existing run id are refused by the lake.
    """
    key = raw_key(extracted.resource, ingest_date, run_id)
    try:
        record_count = _record_count(extracted)
    except InputFormatError as exc:
        raise _refuse_unusable(lake, extracted, ingest_date, run_id, exc) from exc
    raw_uri = lake.put_file(key, extracted.path)
    mkey = manifest_key(key)
    manifest = _read_manifest(lake, mkey) if lake.exists(mkey) else None
    if manifest is not None and manifest.get("sha256") == extracted.sha256:
        log.info("%s was already landed by run %s: reusing its manifest", raw_uri, run_id)
    else:
        manifest = {
            "resource": extracted.resource,
            "source": extracted.source,
            "extracted_at": extracted.extracted_at.isoformat(),
            "ingest_date": ingest_date,
            "run_id": run_id,
            "record_count": record_count,
            "sha256": extracted.sha256,
            "bytes": extracted.bytes,
            "http_attempts": extracted.attempts,
            "object": key.rsplit("/", 1)[1],
        }
        lake.put(mkey, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    log.info(
        "landed %s: %d bytes, %s records -> %s",
        extracted.resource,
        extracted.bytes,
        manifest.get("record_count"),
        raw_uri,
    )
    return Landed(
        resource=extracted.resource,
        source=str(manifest["source"]),
        raw_uri=raw_uri,
        manifest_uri=lake.uri(mkey),
        sha256=extracted.sha256,
        bytes=extracted.bytes,
        record_count=manifest.get("record_count"),
        extracted_at=str(manifest["extracted_at"]),
        ingest_date=ingest_date,
        run_id=run_id,
    )


def extract(
    settings: Settings,
    ingest_date: date,
    run_id: str,
    input_location: str = SNAPSHOT,
    cores_input: str | None = None,
    *,
    local_files: bool | None = None,
    lake: Lake | None = None,
) -> list[Landed]:
    """Fetch launches (and cores, when a cores source is known) and land them raw.

    `local_files`: may the inputs be any local file (the CLI: an operator's own choice)?
    None means `settings.source.local_files`. Callers acting for someone else (the DAG's
    params) pass False: then only allow-listed URLs, `snapshot` and the inbox folder are read.
    Every source is checked before anything is fetched.
    """
    check_run_id(run_id)
    current_run_id.set(run_id)
    local_ok = settings.source.local_files if local_files is None else local_files
    locations = {"launches": resolve_input(input_location, settings)}
    cores = cores_input or cores_location(input_location, settings)
    if cores:
        locations["cores"] = cores
    for location in locations.values():
        check_source(location, settings, local_ok=local_ok)
    lake = lake or open_lake(settings.lake_root)
    landed = []
    for resource, location in locations.items():
        with fetch(location, resource, settings, local_ok=local_ok) as extracted:
            landed.append(land(lake, extracted, ingest_date.isoformat(), run_id))
    return landed


# -- load ------------------------------------------------------------------------------------
def _read_manifest(lake: Lake, key: str) -> dict[str, Any] | None:
    """A manifest's fields, or None (with a warning naming it) when it is not usable."""
    try:
        manifest = orjson.loads(lake.get(key))
    except orjson.JSONDecodeError:
        log.warning("skipping manifest %s: not JSON", lake.uri(key))
        return None
    if not isinstance(manifest, dict):
        log.warning("skipping manifest %s: not a JSON object", lake.uri(key))
        return None
    missing = [name for name in MANIFEST_FIELDS if not isinstance(manifest.get(name), str)]
    if missing:
        log.warning("skipping manifest %s: missing %s", lake.uri(key), ", ".join(missing))
        return None
    return manifest


def find_raw(lake: Lake, resource: str, ingest_date: str) -> str | None:
    """The newest raw object of a resource for a logical date (by manifest extracted_at).

    Stray manifests (not JSON, missing fields, or beside no object) are skipped with a warning
    naming them, so one bad file never blocks the date's load.
    """
    prefix = partition_prefix("raw", resource, ingest_date)
    candidates: list[tuple[str, str]] = []
    for key in lake.list(prefix):
        if not key.endswith("/_manifest.json"):
            continue
        manifest = _read_manifest(lake, key)
        if manifest is None:
            continue
        data_key = key.rsplit("/", 1)[0] + f"/{resource}.json"
        if not lake.exists(data_key):
            log.warning("skipping manifest %s: no object %s", lake.uri(key), lake.uri(data_key))
            continue
        candidates.append((manifest["extracted_at"], data_key))
    if not candidates:
        return None
    return lake.uri(max(candidates)[1])


def _load_id(batch: Batch) -> str:
    return f"load={batch.loaded_at:%Y%m%dT%H%M%S%fZ}"


def publish_parts(lake: Lake, batch: Batch) -> None:
    """Copy the batch's Parquet parts to the lake's staged zone (`batch.staged_uris`)."""
    date_ = batch.key.ingest_date.isoformat()
    for table, files in batch.parts.items():
        batch.staged_uris[table] = [
            lake.put_file(
                zone_key(
                    "staged",
                    batch.resource,
                    date_,
                    batch.run_id,
                    f"{_load_id(batch)}/{table}/{f.name}",
                ),
                f,
            )
            for f in files
        ]


def publish_quarantine(lake: Lake, batch: Batch) -> str | None:
    """Copy the batch's quarantine, as JSON lines with every record whole, to the quarantine
    zone; return its URI."""
    if not batch.quarantine or batch.quarantine.path is None:
        return None
    date_ = batch.key.ingest_date.isoformat()
    key = zone_key("quarantine", batch.resource, date_, batch.run_id, f"{_load_id(batch)}.jsonl")
    return lake.put_file(key, batch.quarantine.path)


@dataclass
class Rejected(Exception):
    """A raw object refused before loading, with the ledger row that records the refusal."""

    error: SpacexEtlError
    ledger_row: dict[str, Any] | None


def prepare(lake: Lake, raw_uri: str, work: Path) -> Batch:
    """Check a raw object against its manifest, then validate, flatten and stage it as Parquet
    parts under `work` (see `batch.stage_batch`); the object is streamed, never held whole.

    The body must still hash to the manifest's sha256: a raw object edited after landing is
    refused (the ledger must describe the bytes that were loaded).
    """
    key = lake.key_of(raw_uri)
    manifest = _read_manifest(lake, manifest_key(key))
    if manifest is None:
        raise LakeError(
            f"{lake.uri(manifest_key(key))}: not a usable manifest, so {raw_uri} cannot be "
            "loaded; extract again"
        )
    batch = Batch(
        key=BatchKey(
            resource=manifest["resource"],
            source=manifest["source"],
            ingest_date=date.fromisoformat(manifest["ingest_date"]),
        ),
        run_id=manifest["run_id"],
        raw_uri=raw_uri,
        raw_sha256=manifest["sha256"],
        extracted_at=datetime.fromisoformat(manifest["extracted_at"]),
    )
    try:
        with lake.local_copy(key, work) as path:
            try:
                stage_batch(path, work, batch, name=f"{raw_uri} (from {manifest['source']})")
            except (ContractError, InputFormatError):
                _unchanged(raw_uri, file_digest(path), manifest)  # the cause, when it is that
                raise
            # pass 1 hashed the bytes it checked (DuckDB's reader does not: hashed here)
            _unchanged(raw_uri, batch.staged.sha256 or file_digest(path), manifest)  # type: ignore[union-attr]
    except (ContractError, InputFormatError) as exc:
        raise Rejected(exc, batch.ledger_row("rejected", str(exc))) from exc
    return batch


def _unchanged(raw_uri: str, digest: str, manifest: dict[str, Any]) -> None:
    """ContractError unless the raw object still hashes to its manifest's sha256."""
    if digest != manifest["sha256"]:
        raise ContractError(
            f"{raw_uri}: the raw object changed after landing (sha256 {digest[:12]}…, "
            f"its manifest says {manifest['sha256'][:12]}…); nothing loaded: restore it "
            "or extract again"
        )


def release_memory() -> None:
    """Return the memory the load freed to the system: Arrow's allocator keeps freed blocks for
    reuse and glibc keeps freed heap, and dbt, in this process, would stack on them (3M launches
    end to end: 890 MiB at peak without this, 826 MiB with it)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def contract_break(batch: Batch, broken: list[tuple[str, str, int]]) -> ContractError:
    """The error for a batch where one rule rejected more than the allowed share of records."""
    field_, rule, count = broken[0]
    more = f" (and {len(broken) - 1} more rule(s))" if len(broken) > 1 else ""
    return ContractError(
        f"{batch.raw_uri} (from {batch.key.source}): contract break: rule {rule} on field "
        f"{field_} rejected {count} of {batch.received} {batch.resource} records{more}; nothing "
        "loaded, the warehouse keeps its rows; the quarantine holds every record"
    )


def _refuse(warehouse: SqlWarehouse, rejected: Rejected) -> SpacexEtlError:
    """Record a refusal in the ledger (when the warehouse is reachable) and return its error."""
    if rejected.ledger_row is not None:
        warehouse.record(rejected.ledger_row)
    return rejected.error


def load(
    settings: Settings,
    ingest_date: date | None = None,
    raw_uris: list[str] | None = None,
    force: bool = False,
    allow_shrink: bool = False,
    *,
    lake: Lake,
    warehouse: SqlWarehouse,
) -> list[Batch]:
    """Validate, stage and load raw objects (given, or the newest of each resource for a date).

    Every object is validated, and its quarantine written, before anything is loaded; a
    refused object (unusable file, changed raw, contract break) stops the load with one error
    and a `rejected` ledger row.
    """
    if not raw_uris:
        if ingest_date is None:
            raise LakeError("load needs --date or --raw-uri")
        found = [find_raw(lake, r, ingest_date.isoformat()) for r in RESOURCES]
        raw_uris = [uri for uri in found if uri]
        if not raw_uris:
            raise LakeError(
                f"no raw launches for ingest_date={ingest_date} in {settings.lake_root}; "
                "run `spacex-etl extract` first"
            )
    with tempfile.TemporaryDirectory(prefix="spacex-etl-stage-") as work:
        return _load(lake, warehouse, settings, raw_uris, Path(work), force, allow_shrink)


def _load(
    lake: Lake,
    warehouse: SqlWarehouse,
    settings: Settings,
    raw_uris: list[str],
    work: Path,
    force: bool,
    allow_shrink: bool,
) -> list[Batch]:
    quality = settings.quality
    batches: list[Batch] = []
    for number, uri in enumerate(raw_uris):  # validate all (keep every quarantine), then load
        try:
            batch = prepare(lake, uri, work / str(number))
        except Rejected as rejected:
            raise _refuse(warehouse, rejected) from rejected
        batch.quarantine_uri = publish_quarantine(lake, batch)
        if batch.drift:
            log.warning(
                "schema drift in %s: %s",
                batch.raw_uri,
                "; ".join(f"{kind} {', '.join(paths)}" for kind, paths in batch.drift.items()),
            )
        broken = batch.broken_rules(quality.max_rule_reject_share)
        if broken:
            error = contract_break(batch, broken)
            raise _refuse(warehouse, Rejected(error, batch.ledger_row("rejected", str(error))))
        if warehouse.stages_from_lake:
            publish_parts(lake, batch)
        batches.append(batch)
    min_share = None if allow_shrink else quality.min_share_of_last_load
    for batch in sorted(batches, key=lambda item: item.resource != "cores"):
        batch.result = warehouse.load_batch(batch, force=force, min_share=min_share)
        if not warehouse.stages_from_lake:  # committed: now the parts are the load's record
            publish_parts(lake, batch)
    return batches


def stale_warnings(settings: Settings, warehouse: SqlWarehouse) -> list[str]:
    """One line per resource whose newest load did not succeed, and one when the newest dbt
    run failed: the answers then predate it."""
    warnings = [
        f"the last load of {row['resource']} (run {row['run_id']}, {row['loaded_at']} UTC) "
        f"{row['status']}: {row['error']}; the answers come from the last successful load"
        for row in warehouse.last_loads()
        if row["status"] not in (None, "succeeded")
    ]
    failed = _failed_dbt_nodes(settings)
    if failed:
        shown = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
        warnings.append(
            f"the last dbt run failed ({shown}); the answer models may be older than the raw data"
        )
    return warnings


def _failed_dbt_nodes(settings: Settings) -> list[str]:
    """Nodes that errored or failed in dbt's newest `run_results.json` for this target."""
    from spacex_etl import transform

    results = transform.output_dir(settings) / "target" / "run_results.json"
    try:
        nodes = orjson.loads(results.read_bytes()).get("results", [])
    except (OSError, orjson.JSONDecodeError):
        return []
    return [
        str(node.get("unique_id"))
        for node in nodes
        if node.get("status") in {"error", "fail", "runtime error"}
    ]


# -- run -------------------------------------------------------------------------------------
def check_warehouse(warehouse: SqlWarehouse) -> None:
    """Connect to the warehouse once, so that one which is down or refuses the login fails the
    run before anything is fetched, landed or staged."""
    with warehouse.transaction():
        pass


def run(
    settings: Settings,
    ingest_date: date,
    input_location: str = SNAPSHOT,
    run_id: str | None = None,
    cores_input: str | None = None,
    force: bool = False,
    transform_: bool = True,
    progress: Callable[[str], None] | None = None,
    allow_shrink: bool = False,
) -> RunSummary:
    """Extract → land → validate/stage/load → dbt build → answers, anomalies and the report.

    Each phase's time goes to the run history as it ends (`monitoring.record_phases`).
    """
    from spacex_etl import monitoring, report, transform

    run_id = run_id or new_run_id()
    current_run_id.set(run_id)
    summary = RunSummary(
        run_id=run_id,
        ingest_date=ingest_date.isoformat(),
        source=input_location,
        warehouse=settings.warehouse,
        lake=settings.lake_root,
    )
    warehouse = open_warehouse(settings)
    check_warehouse(warehouse)  # before the lake exists: a dead warehouse leaves nothing
    lake = open_lake(settings.lake_root)
    with timed(summary.timings_s, "extract", progress):
        summary.landed = extract(
            settings, ingest_date, run_id, input_location, cores_input, lake=lake
        )
    with timed(summary.timings_s, "load", progress):
        summary.loaded = load(
            settings,
            raw_uris=[item.raw_uri for item in summary.landed],
            force=force,
            allow_shrink=allow_shrink,
            lake=lake,
            warehouse=warehouse,
        )

    def record(*stages: str) -> None:
        rows = monitoring.phase_rows(run_id, ingest_date, summary.timings_s, stages)
        monitoring.record_phases(warehouse, rows)

    record("extract", "load")
    if transform_:
        release_memory()  # dbt runs in this process: it starts from what the load gave back
        with timed(summary.timings_s, "transform", progress):
            summary.dbt = transform.build(settings)
        record("transform")
        with warehouse.reads():  # one connection for the answers and the report
            with timed(summary.timings_s, "answers", progress):
                summary.answers = report.answers(settings, warehouse)
            with timed(summary.timings_s, "report", progress):
                summary.anomalies = monitoring.try_anomalies(settings, warehouse, run_id)
                summary.report_uri = report.publish(
                    settings,
                    run_id,
                    found=summary.answers,
                    anomalies=summary.anomalies,
                    lake=lake,
                    warehouse=warehouse,
                )
        record("answers", "report")
    return summary
