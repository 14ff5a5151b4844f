"""The warehouse registry is complete: every adapter gives dbt its profile target's variables and
lineage its names, and nothing outside `warehouse/` switches on a warehouse's name.

Adding a warehouse is an adapter module and its registry entry, a dbt profile target and its
macros; these tests fail when an adapter leaves out something the rest of the job expects.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from unittest import mock

import pytest
import yaml

from spacex_etl import transform
from spacex_etl.config import PostgresSettings, RedshiftSettings, Settings
from spacex_etl.warehouse import ADAPTERS, SqlWarehouse, adapter_class, open_warehouse
from tests.conftest import REPO

PROFILES = REPO / "dbt_spacex" / "profiles.yml"
ENV_VAR = re.compile(r"env_var\(\s*'([A-Z0-9_]+)'")
REDSHIFT_HOST = "spacex-dw.abc123.eu-west-1.redshift.amazonaws.com"


def configured(name: str, tmp_path: Path) -> Settings:
    """Settings for warehouse `name` with every section filled as a deployment would."""
    return Settings(
        warehouse=name,
        data_dir=tmp_path,
        postgres=PostgresSettings(host="db", port=5433, database="wh"),
        redshift=RedshiftSettings(host=REDSHIFT_HOST, database="dev", password="pw", user="u"),
    )


def profile_outputs() -> dict[str, str]:
    """Target name → its output's text in dbt_spacex/profiles.yml."""
    outputs = yaml.safe_load(PROFILES.read_text())["spacex"]["outputs"]
    return {target: json.dumps(output) for target, output in outputs.items()}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_gives_its_dbt_target_every_variable_it_reads(
    name: str, tmp_path: Path
) -> None:
    """The profile has a target named after the adapter, and every `env_var()` that target reads
    is set by `transform.dbt_env` for that adapter (a default in the profile is for dbt by hand:
    the job says what it means)."""
    adapter = adapter_class(name)
    assert issubclass(adapter, SqlWarehouse)
    assert adapter.name == name
    outputs = profile_outputs()
    assert name in outputs, f"dbt_spacex/profiles.yml has no `{name}` target"
    env = transform.dbt_env(configured(name, tmp_path))
    read = set(ENV_VAR.findall(outputs[name]))
    assert read, f"the {name} target reads no variable"
    assert read - set(env) == set(), f"the {name} adapter's dbt_env leaves these unset"
    assert env["SPACEX_WAREHOUSE"] == name


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_names_its_tables_for_lineage_without_connecting(
    name: str, tmp_path: Path
) -> None:
    warehouse = open_warehouse(configured(name, tmp_path))
    with (
        mock.patch.object(type(warehouse), "connect", side_effect=AssertionError("connected")),
        mock.patch("boto3.client", side_effect=AssertionError("fetched credentials")),
    ):
        namespace, table = warehouse.lineage_dataset("launches")
    assert namespace.startswith(f"{name}://")
    assert table.endswith(".spacex_raw.launches")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("duckdb", ("duckdb://{tmp}/warehouse.duckdb", "warehouse.spacex_raw.launches")),
        ("postgres", ("postgres://db:5433", "wh.spacex_raw.launches")),
        ("redshift", (f"redshift://{REDSHIFT_HOST}:5439", "dev.spacex_raw.launches")),
    ],
)
def test_table_lineage_names_match_the_openlineage_dbt_integration(
    name: str, expected: tuple[str, str], tmp_path: Path
) -> None:
    namespace, table = expected
    warehouse = open_warehouse(configured(name, tmp_path))
    assert warehouse.lineage_dataset("launches") == (namespace.format(tmp=tmp_path), table)


def test_redshift_lineage_fetches_no_credentials(tmp_path: Path) -> None:
    """The DAG's load names its lineage datasets; on Redshift that must not read the secret."""
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!spacex-admin-AbCdEf"
    settings = Settings(
        warehouse="redshift", redshift=RedshiftSettings(host=REDSHIFT_HOST, secret_arn=arn)
    )
    with mock.patch("boto3.client", side_effect=AssertionError("fetched credentials")):
        assert open_warehouse(settings).lineage_dataset("load_ledger")[1] == (
            "dev.spacex_raw.load_ledger"
        )


def warehouse_name_comparisons(path: Path) -> list[str]:
    """`x == "duckdb"`, `x != 'redshift'`, `x in ("postgres", …)` comparisons in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            values = (
                operand.elts if isinstance(operand, ast.Tuple | ast.List | ast.Set) else [operand]
            )
            for value in values:
                if isinstance(value, ast.Constant) and value.value in ADAPTERS:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_only_the_adapters_switch_on_a_warehouse_name() -> None:
    """What differs between warehouses lives in their adapters: no module outside warehouse/
    (the job's, the DAG's) compares a warehouse's name."""
    modules = [
        path
        for folder in (REPO / "etl" / "spacex_etl", REPO / "dags")
        for path in folder.rglob("*.py")
        if "warehouse" not in path.relative_to(folder).parts[:-1]
    ]
    assert len(modules) > 10
    assert [hit for path in modules for hit in warehouse_name_comparisons(path)] == []
