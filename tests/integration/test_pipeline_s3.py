"""The pipeline with its lake on S3 (moto): the same layout, bytes and counts as a local lake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from spacex_etl import pipeline
from spacex_etl.config import HttpSettings, Settings, SourceSettings
from spacex_etl.errors import ExtractError
from spacex_etl.lake import open_lake
from spacex_etl.warehouse import open_warehouse
from tests.conftest import SNAPSHOT_LAUNCHES, Server


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="lake")
        yield client


def test_extract_and_load_through_an_s3_lake(s3: object, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "spacex", lake_uri="s3://lake/prod")

    summary = pipeline.run(settings, date(2024, 6, 1), run_id="r1", transform_=False)

    launches = next(item for item in summary.landed if item.resource == "launches")
    assert launches.raw_uri == (
        "s3://lake/prod/raw/spacex/launches/ingest_date=2024-06-01/r1/launches.json"
    )
    body = (
        boto3.client("s3")
        .get_object(
            Bucket="lake", Key="prod/raw/spacex/launches/ingest_date=2024-06-01/r1/launches.json"
        )["Body"]
        .read()
    )
    assert body == SNAPSHOT_LAUNCHES.read_bytes()
    loaded = {item.resource: item for item in summary.loaded}
    assert loaded["launches"].rows["launch_cores"] == 215
    staged = loaded["launches"].staged_uris
    assert set(staged) == {
        "launches",
        "launch_cores",
        "launch_payloads",
        "launch_failures",
        "quarantine",
    }
    assert all(
        uri.startswith("s3://lake/prod/staged/spacex/launches/ingest_date=2024-06-01/r1/")
        and uri.endswith(".parquet")
        for uris in staged.values()
        for uri in uris
    )

    # a second load of the same date finds the newest raw object through the manifests
    again = pipeline.load(
        settings,
        ingest_date=date(2024, 6, 1),
        lake=open_lake(settings.lake_root),
        warehouse=open_warehouse(settings),
    )
    assert {item.resource: item.rows for item in again} == {
        item.resource: item.rows for item in summary.loaded
    }


def test_http_extract_streams_into_an_s3_lake_and_oversized_lands_nothing(
    s3: object, tmp_path: Path, serve: Callable[[], Server]
) -> None:
    """From a local HTTP server into the S3 lake (moto): the body lands byte for byte; a body
    over the limit leaves no object and no unfinished multipart upload in the bucket."""
    body = SNAPSHOT_LAUNCHES.read_bytes()
    url = serve().url()
    source = SourceSettings(allowed_hosts=("127.0.0.1",), allow_http=True)
    s3 = boto3.client("s3")
    settings = Settings(data_dir=tmp_path / "a", lake_uri="s3://lake/prod", source=source)
    [landed] = pipeline.extract(settings, date(2024, 6, 1), "r-http", url)
    key = "prod/raw/spacex/launches/ingest_date=2024-06-01/r-http/launches.json"
    assert s3.get_object(Bucket="lake", Key=key)["Body"].read() == body
    assert landed.record_count == 205

    small = Settings(
        data_dir=tmp_path / "b",
        lake_uri="s3://lake/small",
        source=source,
        http=HttpSettings(max_bytes=1024),
    )
    with pytest.raises(ExtractError, match="exceeds SPACEX_HTTP_MAX_BYTES"):
        pipeline.extract(small, date(2024, 6, 1), "r-big", url)
    assert s3.list_objects_v2(Bucket="lake", Prefix="small/").get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket="lake").get("Uploads", []) == []
