"""The lake's contract, the same tests for a local folder and for S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from spacex_etl.errors import LakeError
from spacex_etl.lake import Lake, LocalLake, manifest_key, open_lake, raw_key


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    if request.param == "local":
        yield open_lake(str(tmp_path / "lake"))
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="spacex-lake")
        yield open_lake("s3://spacex-lake/elt", s3_client=client)


def test_layout_is_keyed_by_ingest_date_and_run() -> None:
    key = raw_key("launches", "2024-06-01", "run-1")
    assert key == "raw/spacex/launches/ingest_date=2024-06-01/run-1/launches.json"
    assert manifest_key(key) == "raw/spacex/launches/ingest_date=2024-06-01/run-1/_manifest.json"


def test_put_get_roundtrip_keeps_bytes(lake: Lake) -> None:
    data = b'[{"id": 1}]\n\x00\xff'
    uri = lake.put("raw/a/b.json", data)
    assert lake.get("raw/a/b.json") == data
    assert lake.exists("raw/a/b.json")
    assert lake.key_of(uri) == "raw/a/b.json"
    assert not lake.exists("raw/a/c.json")


def test_objects_are_never_overwritten(lake: Lake) -> None:
    lake.put("raw/x.json", b"first")
    assert lake.put("raw/x.json", b"first")  # same bytes: a retried task is a no-op
    with pytest.raises(LakeError, match="already exists with other bytes"):
        lake.put("raw/x.json", b"second")
    assert lake.get("raw/x.json") == b"first"


def test_list_is_sorted_and_scoped_to_prefix(lake: Lake) -> None:
    for key in ["raw/b/2.json", "raw/a/1.json", "staged/a/1.parquet"]:
        lake.put(key, b"x")
    assert lake.list("raw/") == ["raw/a/1.json", "raw/b/2.json"]
    assert lake.list("nothing/") == []


def test_missing_object_is_a_clear_error(lake: Lake) -> None:
    with pytest.raises(LakeError, match="no such object"):
        lake.get("raw/missing.json")


def test_uri_names_the_backend(lake: Lake) -> None:
    uri = lake.uri("raw/k.json")
    if isinstance(lake, LocalLake):
        assert uri.endswith("/lake/raw/k.json")
    else:
        assert uri == "s3://spacex-lake/elt/raw/k.json"


def test_local_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="escapes"):
        open_lake(str(tmp_path / "lake")).put("../outside.json", b"x")
