"""The table contracts are the one declaration of the raw columns. The warehouse tables and the
staged Parquet schema derive from them; the two other declarations a reader sees — the record
models' fields (the per-record rules) and dbt's source YAML — must say the same thing."""

from __future__ import annotations

import typing

import pytest
import yaml

from spacex_etl.contract import CONTRACTS, METADATA_COLUMNS
from spacex_etl.schema import RECORD_MODELS, RESOURCE_TABLES, columns
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


def _model_of(table: str) -> type:
    contract = CONTRACTS[table]
    model = RECORD_MODELS[contract.resource]
    if contract.array is None:
        return model
    (item,) = typing.get_args(model.model_fields[contract.array].annotation)
    return item


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_record_models_declare_the_fields_the_contract_reads(table: str) -> None:
    contract = CONTRACTS[table]
    paths = {c.path for c in contract.columns if c.source == "field"}
    model = _model_of(table)
    if not isinstance(model, type) or not hasattr(model, "model_fields"):
        assert paths == set()  # an array of plain ids (payloads): no fields to read
        return
    arrays = {c.array for c in CONTRACTS.values() if c.array and c.resource == contract.resource}
    modelled = set(model.model_fields) - (arrays if contract.array is None else set())
    assert paths == modelled, f"{table}: contract.py and schema.py disagree"
    required = {c.path for c in contract.columns if c.source == "field" and c.required}
    assert required == {n for n, f in model.model_fields.items() if f.is_required()} - arrays


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
