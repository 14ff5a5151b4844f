"""Warehouse adapters: one loading algorithm (base.py), small per-warehouse differences.

`ADAPTERS` is the one registry: adding a warehouse is an adapter module, its entry here, a dbt
profile target and its macros.
"""

from __future__ import annotations

from importlib import import_module

from spacex_etl.config import Settings
from spacex_etl.warehouse.base import LoadResult, SqlWarehouse

ADAPTERS: dict[str, str] = {
    "duckdb": "spacex_etl.warehouse.duckdb:DuckDBWarehouse",
    "postgres": "spacex_etl.warehouse.postgres:PostgresWarehouse",
    "redshift": "spacex_etl.warehouse.redshift:RedshiftWarehouse",
}
"""Warehouse name -> its adapter class (imported only when chosen: each pulls its own driver)."""


def adapter_class(name: str) -> type[SqlWarehouse]:
    """The adapter class registered for a warehouse name."""
    module, _, cls = ADAPTERS[name].partition(":")
    adapter: type[SqlWarehouse] = getattr(import_module(module), cls)
    return adapter


def open_warehouse(settings: Settings) -> SqlWarehouse:
    """The adapter for `settings.warehouse`, given only its own section of the settings."""
    return adapter_class(settings.warehouse).from_settings(settings)


__all__ = ["ADAPTERS", "LoadResult", "SqlWarehouse", "adapter_class", "open_warehouse"]
