"""The python-mode step helpers: one XCom contract for every mode; lineage names dbt's way."""

from __future__ import annotations

import json

import pytest


def test_raw_uris_come_from_a_dict_or_the_clis_json_line() -> None:
    from spacex_elt_support import steps

    landed = {"run_id": "r.try1", "landed": [{"raw_uri": "/lake/a.json"}, {"raw_uri": "s3://b/c"}]}
    assert steps.raw_uris_of(landed) == ["/lake/a.json", "s3://b/c"]
    assert steps.raw_uris_of("log line\n" + json.dumps(landed)) == ["/lake/a.json", "s3://b/c"]
    # docker mode pushes every output line; a log line may come after the summary
    lines = ["2026-12-01 09:31:51 INFO start", json.dumps(landed), "2026-12-01 09:31:52 INFO done"]
    assert steps.raw_uris_of(lines) == ["/lake/a.json", "s3://b/c"]
    assert steps.run_id_of(lines) == "r.try1"
    assert steps.run_id_of(json.dumps(landed)) == "r.try1"
    with pytest.raises(ValueError, match="no raw objects"):
        steps.raw_uris_of({"run_id": "r", "landed": []})


def test_lake_object_lineage_names() -> None:
    from spacex_elt_support import steps

    assert steps.object_dataset("s3://lake/raw/x/launches.json") == (
        "s3://lake",
        "raw/x/launches.json",
    )
    assert steps.object_dataset("/data/lake/raw/launches.json") == (
        "file",
        "/data/lake/raw/launches.json",
    )
