"""The lake's contract, the same tests for a local folder and for S3 (moto)."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from spacex_etl import lake as lake_module
from spacex_etl.errors import ConfigError, LakeError
from spacex_etl.lake import (
    Lake,
    LocalLake,
    check_run_id,
    file_digest,
    manifest_key,
    open_lake,
    raw_key,
    stream_digest,
)
from spacex_etl.pipeline import find_raw, land
from spacex_etl.sources import Extracted, read_file
from tests.conftest import run_cli


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
    for other in (b"second", b"frist"):  # another size; the same size
        with pytest.raises(LakeError, match="already exists with other bytes"):
            lake.put("raw/x.json", other)
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


# -- run ids and keys (issue 14): nothing escapes its partition, on either backend ------------
@pytest.mark.parametrize(
    "run_id", ["../../etc", "..", "a/../../b", "a/b", "/abs", ".hidden", "a..b", "", "x" * 129]
)
def test_unsafe_run_ids_are_refused_before_any_write(lake: Lake, run_id: str) -> None:
    with pytest.raises(ConfigError, match=r"run id .* is not allowed"):
        lake.put(raw_key("launches", "2024-06-01", run_id), b"x")
    assert lake.list("") == []


@pytest.mark.parametrize("key", ["raw/../../etc/passwd", "../outside.json", "raw/./x", "/abs"])
def test_dot_dot_segments_are_refused_by_every_operation(lake: Lake, key: str) -> None:
    for operation in (
        lambda: lake.put(key, b"x"),
        lambda: lake.get(key),
        lambda: lake.exists(key),
        lambda: lake.open(key).__enter__(),
    ):
        with pytest.raises(LakeError, match="escapes"):
            operation()
    assert lake.list("") == []


def test_a_crafted_uri_cannot_name_a_key_outside_the_lake(lake: Lake) -> None:
    with pytest.raises(LakeError):
        lake.key_of(lake.uri("raw/../../../etc/passwd"))


def test_valid_run_ids_pass() -> None:
    for run_id in ["20240601T120000Z-1a2b3c", "manual__2024-06-01T00:00:00"[:10], "a.b_c-d"]:
        assert check_run_id(run_id) == run_id


# -- streaming put and get (issue 13) -------------------------------------------------------
def test_put_file_and_open_stream_the_bytes(lake: Lake, tmp_path: Path) -> None:
    source = tmp_path / "body.json"
    source.write_bytes(b"[" + b"1," * 300_000 + b"1]")
    uri = lake.put_file("raw/big.json", source)
    assert lake.key_of(uri) == "raw/big.json"
    with lake.open("raw/big.json") as body:
        assert stream_digest(body) == file_digest(source)
    assert lake.put_file("raw/big.json", source) == uri  # same bytes: a no-op
    other = tmp_path / "other.json"
    other.write_bytes(b"[]")
    with pytest.raises(LakeError, match="already exists with other bytes"):
        lake.put_file("raw/big.json", other)
    assert lake.get("raw/big.json") == source.read_bytes()


def test_open_of_a_missing_object_is_a_clear_error(lake: Lake) -> None:
    with pytest.raises(LakeError, match="no such object"), lake.open("raw/missing.json"):
        pass


# -- the local copy (issue 24): in the kernel, or the next way where a kernel refuses ----------
def _unsupported(code: int) -> Callable[..., int]:
    def refuse(*_: object) -> int:
        raise OSError(code, os.strerror(code))

    return refuse


def _after(calls: int, code: int, real: Callable[..., int]) -> Callable[..., int]:
    """`real` for `calls` calls, then OSError(code): a copy that stops midway."""
    done: list[int] = []

    def copy(*args: int) -> int:
        done.append(1)
        if len(done) > calls:
            raise OSError(code, os.strerror(code))
        return real(*args)

    return copy


KERNELS = {
    "copy_file_range": {},
    "sendfile, copy_file_range missing": {"copy_file_range": _unsupported(errno.ENOSYS)},
    "buffers, both refused": {
        "copy_file_range": _unsupported(errno.EXDEV),
        "sendfile": _unsupported(errno.EINVAL),
    },
    "sendfile, copy_file_range refused midway": {
        "copy_file_range": _after(3, errno.EXDEV, os.copy_file_range)
    },
    "buffers, sendfile refused midway": {
        "copy_file_range": _unsupported(errno.EOPNOTSUPP),
        "sendfile": _after(2, errno.EINVAL, os.sendfile),
    },
}


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("kernel", KERNELS)
def test_put_file_lands_the_same_bytes_whichever_copy_the_kernel_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: str
) -> None:
    monkeypatch.setattr(lake_module, "KERNEL_COPY_BYTES", 4096)  # many calls: offsets matter
    monkeypatch.setattr(lake_module, "CHUNK", 4096)
    for name, fake in KERNELS[kernel].items():
        monkeypatch.setattr(os, name, fake)
    source = tmp_path / "launches.json"
    source.write_bytes(os.urandom(100_003))
    local = open_lake(str(tmp_path / "lake"))
    uri = local.put_file("raw/x/launches.json", source)
    assert Path(uri).read_bytes() == source.read_bytes()
    assert file_digest(Path(uri)) == read_file(source, "launches").sha256
    assert _leftovers(Path(uri).parent) == []


def test_a_copy_that_fails_lands_nothing_and_a_retry_lands_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lake_module, "KERNEL_COPY_BYTES", 4096)
    source = tmp_path / "launches.json"
    source.write_bytes(os.urandom(50_000))
    local = open_lake(str(tmp_path / "lake"))
    with monkeypatch.context() as full_disk:
        full_disk.setattr(os, "copy_file_range", _after(2, errno.ENOSPC, os.copy_file_range))
        with pytest.raises(OSError, match="No space left"):
            local.put_file("raw/x/launches.json", source)
    assert not local.exists("raw/x/launches.json")
    assert _leftovers(tmp_path / "lake" / "raw" / "x") == []
    local.put_file("raw/x/launches.json", source)
    assert local.get("raw/x/launches.json") == source.read_bytes()


@pytest.mark.parametrize("first", ["same bytes", "other bytes"])
def test_a_writer_that_lands_first_wins_and_ours_is_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    source = tmp_path / "launches.json"
    source.write_bytes(b"[" + b"1," * 50_000 + b"1]")
    theirs = source.read_bytes() if first == "same bytes" else source.read_bytes()[:-2] + b"2]"
    local = open_lake(str(tmp_path / "lake"))
    target = tmp_path / "lake" / "raw" / "x" / "launches.json"
    copy = os.copy_file_range

    def race(*args: int) -> int:  # the other writer links its object while ours is copied
        if not target.exists():
            target.write_bytes(theirs)
        return copy(*args)

    monkeypatch.setattr(os, "copy_file_range", race)
    if first == "same bytes":
        assert local.put_file("raw/x/launches.json", source) == str(target)
    else:
        with pytest.raises(LakeError, match="already exists with other bytes"):
            local.put_file("raw/x/launches.json", source)
    assert target.read_bytes() == theirs
    assert _leftovers(target.parent) == []


def test_a_failed_multipart_upload_is_aborted_and_lands_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lake_module, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    source = tmp_path / "big.json"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="spacex-lake")
        s3 = open_lake("s3://spacex-lake/elt", s3_client=client)
        parts: list[int] = []

        def fail_second_part(params: dict[str, object], **_: object) -> None:
            parts.append(1)
            if len(parts) == 2:
                raise EndpointConnectionError(endpoint_url="http://s3.example/network-gone")

        client.meta.events.register("before-call.s3.UploadPart", fail_second_part)
        with pytest.raises(LakeError, match=r"cannot write s3://spacex-lake/elt/raw/big\.json"):
            s3.put_file("raw/big.json", source)
        assert not s3.exists("raw/big.json")
        assert client.list_multipart_uploads(Bucket="spacex-lake").get("Uploads", []) == []


def test_s3_unreachable_is_a_one_line_error_through_the_cli(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = run_cli(
        "extract",
        "--date",
        "2024-06-01",
        env={
            "SPACEX_DATA_DIR": str(tmp_path / "spacex"),
            "SPACEX_LAKE_URI": "s3://spacex-lake/elt",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
        },
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("spacex-etl: error: cannot ")
    assert "s3://spacex-lake/elt/raw/spacex/launches/" in lines[0]
    assert "Could not connect to the endpoint URL" in lines[0]


# -- landing (issue 13): the same run id again, stray manifests ------------------------------
def extracted_file(tmp_path: Path, body: bytes, name: str = "launches.json") -> Extracted:
    path = tmp_path / name
    path.write_bytes(body)
    return read_file(path, "launches")


def test_landing_the_same_bytes_under_the_same_run_id_reuses_the_manifest(
    lake: Lake, tmp_path: Path
) -> None:
    first = land(lake, extracted_file(tmp_path, b"[]"), "2024-06-01", "run-1")
    again = land(lake, extracted_file(tmp_path, b"[]", "again.json"), "2024-06-01", "run-1")
    assert again.extracted_at == first.extracted_at  # the first manifest, not a new one
    assert again.manifest_uri == first.manifest_uri
    assert len(lake.list("raw/")) == 2  # one object, one manifest


def test_other_bytes_under_an_existing_run_id_are_a_clear_error(lake: Lake, tmp_path: Path) -> None:
    land(lake, extracted_file(tmp_path, b"[]"), "2024-06-01", "run-1")
    with pytest.raises(LakeError, match=r"run-1/launches\.json already exists with other bytes"):
        land(lake, extracted_file(tmp_path, b"[{}]", "other.json"), "2024-06-01", "run-1")
    assert lake.get(raw_key("launches", "2024-06-01", "run-1")) == b"[]"


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'["a list"]', "not a JSON object"),
        (b'{"resource": "launches"}', "missing source, extracted_at"),
        (None, "no object"),
    ],
)
def test_stray_manifests_are_skipped_with_a_warning_naming_them(
    lake: Lake,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    manifest: bytes | None,
    reason: str,
) -> None:
    good = land(lake, extracted_file(tmp_path, b"[]"), "2024-06-01", "run-good")
    stray = manifest_key(raw_key("launches", "2024-06-01", "run-stray"))
    if manifest is None:  # a valid manifest whose object is gone
        manifest = lake.get(lake.key_of(good.manifest_uri))
    lake.put(stray, manifest)
    with caplog.at_level("WARNING"):
        assert find_raw(lake, "launches", "2024-06-01") == good.raw_uri
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"skipping manifest {lake.uri(stray)}: {reason}")
