"""Turn validated records into rows of the raw tables (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from spacex_etl.schema import Core, Launch, _Record

Row = dict[str, Any]


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def launch_rows(launch: Launch, record_json: str) -> Iterator[tuple[str, Row]]:
    """Rows for `launches`, `launch_cores`, `launch_payloads`, `launch_failures`."""
    yield (
        "launches",
        {
            "launch_id": launch.id,
            "flight_number": launch.flight_number,
            "name": launch.name,
            "date_utc": _utc(launch.date_utc),
            "date_unix": launch.date_unix,
            "date_local": launch.date_local,
            "date_precision": launch.date_precision,
            "upcoming": launch.upcoming,
            "success": launch.success,
            "rocket_id": launch.rocket,
            "launchpad_id": launch.launchpad,
            "details": launch.details,
            "static_fire_date_utc": _utc(launch.static_fire_date_utc),
            "window_seconds": launch.window,
            "launch_library_id": launch.launch_library_id,
            "auto_update": launch.auto_update,
            "tbd": launch.tbd,
            "net": launch.net,
            "record_json": record_json,
        },
    )
    for index, slot in enumerate(launch.cores):
        yield (
            "launch_cores",
            {
                "launch_id": launch.id,
                "core_index": index,
                "core_id": slot.core,
                "flight": slot.flight,
                "reused": slot.reused,
                "gridfins": slot.gridfins,
                "legs": slot.legs,
                "landing_attempt": slot.landing_attempt,
                "landing_success": slot.landing_success,
                "landing_type": slot.landing_type,
                "landpad_id": slot.landpad,
            },
        )
    for index, payload in enumerate(launch.payloads):
        yield (
            "launch_payloads",
            {
                "launch_id": launch.id,
                "payload_index": index,
                "payload_id": payload,
            },
        )
    for index, failure in enumerate(launch.failures):
        yield (
            "launch_failures",
            {
                "launch_id": launch.id,
                "failure_index": index,
                "time_seconds": failure.time,
                "altitude_km": failure.altitude,
                "reason": failure.reason,
            },
        )


def core_rows(core: Core, record_json: str) -> Iterator[tuple[str, Row]]:
    """The row for `cores`."""
    yield (
        "cores",
        {
            "core_id": core.id,
            "serial": core.serial,
            "block": core.block,
            "reuse_count": core.reuse_count,
            "status": core.status,
            "last_update": core.last_update,
            "record_json": record_json,
        },
    )


def rows(record: _Record, record_json: str) -> Iterator[tuple[str, Row]]:
    """Rows of any supported record."""
    if isinstance(record, Launch):
        yield from launch_rows(record, record_json)
    elif isinstance(record, Core):
        yield from core_rows(record, record_json)
    else:  # pragma: no cover - RECORD_MODELS and this function change together
        raise TypeError(f"no flattening for {type(record).__name__}")
