"""Warehouse adapters: one loading algorithm (base.py), small per-warehouse differences."""

from __future__ import annotations

from spacex_etl.config import Settings
from spacex_etl.warehouse.base import LoadResult, SqlWarehouse


def open_warehouse(settings: Settings) -> SqlWarehouse:
    """The adapter for `settings.warehouse` (imports only what that warehouse needs)."""
    if settings.warehouse == "duckdb":
        from spacex_etl.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(settings)
    if settings.warehouse == "postgres":
        from spacex_etl.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(settings)
    from spacex_etl.warehouse.redshift import RedshiftWarehouse

    return RedshiftWarehouse(settings)


__all__ = ["LoadResult", "SqlWarehouse", "open_warehouse"]
