"""The table contracts are the one declaration of the raw columns: today's schema, the staged
Arrow schema and dbt's source YAML must all say the same thing."""

from __future__ import annotations

import pytest
import yaml

from spacex_etl.batch import arrow_schema
from spacex_etl.contract import CONTRACTS
from spacex_etl.schema import METADATA_COLUMNS, RESOURCE_TABLES, TABLES
from tests.conftest import REPO

SOURCES_YAML = REPO / "dbt_spacex" / "models" / "staging" / "_spacex__sources.yml"


def _dbt_tables() -> dict[str, list[str]]:
    source = yaml.safe_load(SOURCES_YAML.read_text())["sources"][0]
    return {t["name"]: [c["name"] for c in t.get("columns", [])] for t in source["tables"]}


def test_every_record_table_has_a_contract() -> None:
    record_tables = {table for tables in RESOURCE_TABLES.values() for table in tables}
    assert set(CONTRACTS) == record_tables


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_contract_columns_equal_the_schema_and_arrow_tables(table: str) -> None:
    contract = CONTRACTS[table]
    assert contract.warehouse_columns() == TABLES[table]
    assert contract.arrow_schema() == arrow_schema(table)


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_dbt_source_yaml_agrees_with_the_contract(table: str) -> None:
    documented = _dbt_tables()[table]
    metadata = {name for name, _ in METADATA_COLUMNS}
    data = [name for name in documented if name not in metadata]
    assert data == [name for name, _ in CONTRACTS[table].warehouse_columns()], (
        f"{SOURCES_YAML.name}: columns of {table} differ from contract.py"
    )


def test_contract_declares_paths_and_rules_for_the_required_fields() -> None:
    launches = {column.name: column for column in CONTRACTS["launches"].columns}
    assert launches["window_seconds"].path == "window"
    assert launches["launch_id"].check == "object_id"
    assert not launches["launch_id"].nullable
    assert launches["flight_number"].range == (-(2**31), 2**31 - 1)
    core = {column.name: column for column in CONTRACTS["launch_cores"].columns}["core_id"]
    assert core.required and core.nullable  # the key must be there; null on upcoming launches
