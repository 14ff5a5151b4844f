"""Warehouse adapters: one loading algorithm (base.py), small per-warehouse differences."""

from __future__ import annotations

from spacex_etl.config import Settings
from spacex_etl.warehouse.base import LoadResult, SqlWarehouse


def open_warehouse(settings: Settings) -> SqlWarehouse:
    """The adapter for `settings.warehouse` (imports only what that warehouse needs), given
    only its own section of the settings."""
    if settings.warehouse == "duckdb":
        from spacex_etl.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse.from_settings(settings)
    if settings.warehouse == "postgres":
        from spacex_etl.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse.from_settings(settings)
    from spacex_etl.warehouse.redshift import RedshiftWarehouse

    return RedshiftWarehouse.from_settings(settings)


__all__ = ["LoadResult", "SqlWarehouse", "open_warehouse"]
