"""Warehouse adapters: one loading algorithm (base.py), small per-warehouse differences.

`ADAPTERS` is the one registry: adding a warehouse is an adapter module (a `SqlWarehouse`
subclass: how it connects, stages, locks, what its dbt target reads, how lineage names its
tables), its entry here, a dbt profile target and its macros.

This module imports no driver and no Parquet library (the DAG reads `single_writer` at parse
time); the adapters and `base` are imported when used.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacex_etl.config import Settings
    from spacex_etl.warehouse.base import LoadResult, SqlWarehouse


@dataclass(frozen=True)
class Registered:
    """A warehouse as the registry knows it, before its adapter is imported."""

    adapter: str
    """`module:Class` of its adapter (imported only when chosen: each pulls its own driver)."""
    single_writer: bool = False
    """It admits one writing process at a time (DuckDB's file): every CLI command takes the data
    dir's lock, and the DAG runs one task at a time."""


ADAPTERS: dict[str, Registered] = {
    "duckdb": Registered("spacex_etl.warehouse.duckdb:DuckDBWarehouse", single_writer=True),
    "postgres": Registered("spacex_etl.warehouse.postgres:PostgresWarehouse"),
    "redshift": Registered("spacex_etl.warehouse.redshift:RedshiftWarehouse"),
}
"""Warehouse name (also its dbt profile target's name) -> what the job knows of it."""


def adapter_class(name: str) -> type[SqlWarehouse]:
    """The adapter class registered for a warehouse name."""
    module, _, cls = ADAPTERS[name].adapter.partition(":")
    adapter: type[SqlWarehouse] = getattr(import_module(module), cls)
    return adapter


def single_writer(name: str) -> bool:
    """Whether warehouse `name` admits one writing process at a time (see `Registered`)."""
    return ADAPTERS[name].single_writer


def open_warehouse(settings: Settings) -> SqlWarehouse:
    """The adapter for `settings.warehouse`, given only its own section of the settings. Builds
    the adapter only: it connects when first used."""
    return adapter_class(settings.warehouse).from_settings(settings)


def __getattr__(name: str) -> Any:
    """`SqlWarehouse` and `LoadResult`, imported from `base` on first use."""
    if name in ("LoadResult", "SqlWarehouse"):
        return getattr(import_module("spacex_etl.warehouse.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADAPTERS",
    "LoadResult",
    "Registered",
    "SqlWarehouse",
    "adapter_class",
    "open_warehouse",
    "single_writer",
]
