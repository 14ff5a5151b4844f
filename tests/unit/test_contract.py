"""The table contracts are the one declaration of the raw columns. The warehouse tables, the
staged Parquet schema and the record models derive from them; dbt's source YAML, the one other
place a reader sees the columns, must say the same thing."""

from __future__ import annotations

import pytest
import yaml

from spacex_etl.contract import CONTRACTS, METADATA_COLUMNS, RESOURCE_TABLES, columns
from spacex_etl.records import RECORD_MODELS
from tests.conftest import REPO

SOURCES_YAML = REPO / "dbt_spacex" / "models" / "staging" / "_spacex__sources.yml"


def _dbt_tables() -> dict[str, list[str]]:
    source = yaml.safe_load(SOURCES_YAML.read_text())["sources"][0]
    return {t["name"]: [c["name"] for c in t.get("columns", [])] for t in source["tables"]}


def test_every_record_table_has_a_contract() -> None:
    record_tables = {table for tables in RESOURCE_TABLES.values() for table in tables}
    assert set(CONTRACTS) == record_tables


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_staged_parquet_columns_are_the_warehouse_columns_in_order(table: str) -> None:
    # Redshift COPY maps Parquet columns to the staging table's by position
    assert CONTRACTS[table].arrow_schema().names == [name for name, _ in columns(table)]


def test_record_models_are_compiled_from_the_contract() -> None:
    launch = RECORD_MODELS["launches"].model_fields
    assert launch["window"].annotation is not None  # the JSON key, not the column name
    assert {name for name, info in launch.items() if info.is_required()} == {
        c.path for c in CONTRACTS["launches"].columns if c.required
    }
    (core,) = launch["cores"].annotation.__args__  # type: ignore[union-attr]
    assert core.model_fields["core"].is_required()  # required, but may be null


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_dbt_source_yaml_agrees_with_the_contract(table: str) -> None:
    documented = _dbt_tables()[table]
    metadata = {name for name, _ in METADATA_COLUMNS}
    data = [name for name in documented if name not in metadata]
    declared = [name for name, _ in CONTRACTS[table].warehouse_columns()]
    missing = [name for name in declared if name not in data]
    unknown = [name for name in data if name not in declared]
    assert (missing, unknown) == ([], []), (
        f"{SOURCES_YAML.name}, table {table}: document {missing} (declared in contract.py); "
        f"drop {unknown} (not in contract.py)"
    )
    assert data == declared, f"{SOURCES_YAML.name}, table {table}: list the columns in table order"


def test_contract_declares_paths_and_rules_for_the_required_fields() -> None:
    launches = {column.name: column for column in CONTRACTS["launches"].columns}
    assert launches["window_seconds"].path == "window"
    assert launches["launch_id"].check == "object_id"
    assert not launches["launch_id"].nullable
    assert launches["flight_number"].range == (-(2**31), 2**31 - 1)
    core = {column.name: column for column in CONTRACTS["launch_cores"].columns}["core_id"]
    assert core.required and core.nullable  # the key must be there; null on upcoming launches
