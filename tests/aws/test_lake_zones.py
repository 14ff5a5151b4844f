"""The zones the job writes (Python) and the prefixes its task role may write (Terraform) agree.

`LAKE_ZONES` is the one list on the Python side (every lake key goes through
`partition_prefix`, which refuses any other zone); the etl_job module's `lake_prefixes`
default is the Terraform side. `make aws-test` proves the same end to end (every recorded call
allowed by the applied policies); this test names the difference in a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spacex_etl.errors import LakeError
from spacex_etl.lake import LAKE_ZONES, ZONE_PREFIX, partition_prefix, zone_key

VARIABLES = Path(__file__).resolve().parents[2] / "terraform/modules/etl_job/variables.tf"


def terraform_lake_prefixes() -> list[str]:
    block = re.search(r'variable "lake_prefixes" \{(.*?)\n\}', VARIABLES.read_text(), re.S)
    assert block, f"no variable lake_prefixes in {VARIABLES}"
    default = re.search(r"^\s*default\s*=\s*(\[.*?\])\s*$", block.group(1), re.M)
    assert default, "lake_prefixes has no one-line list default"
    return list(json.loads(default.group(1)))  # an HCL list of strings is JSON


def test_the_task_role_may_write_exactly_the_zones_the_job_writes() -> None:
    expected = [f"{zone}/{ZONE_PREFIX}/" for zone in LAKE_ZONES]
    assert sorted(terraform_lake_prefixes()) == sorted(expected)


def test_every_zone_key_lies_under_an_allowed_prefix() -> None:
    prefixes = terraform_lake_prefixes()
    for zone in LAKE_ZONES:
        key = zone_key(zone, "launches", "2026-12-01", "r1", "x.json")
        assert any(key.startswith(p) for p in prefixes), key


def test_a_zone_outside_the_list_is_refused() -> None:
    with pytest.raises(LakeError, match="lake zone 'exports' is not one of"):
        partition_prefix("exports", "launches", "2026-12-01")
