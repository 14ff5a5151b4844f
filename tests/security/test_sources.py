"""Sources a DAG run's conf could name (issue 14): local files, cloud metadata endpoints,
off-list hosts, redirects off the list. Each is refused before any connection, with one line
naming the source and the setting that would allow it, and nothing lands in the lake."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from spacex_etl import pipeline
from spacex_etl.config import Settings, SourceSettings
from spacex_etl.errors import ExtractError
from spacex_etl.lake import open_lake
from spacex_etl.sources import check_source, masked, source_pattern
from tests.conftest import SNAPSHOT_LAUNCHES, Server, run_cli

BODY = SNAPSHOT_LAUNCHES.read_bytes()

DAY = date(2024, 6, 1)


def dag_settings(tmp_path: Path, **source: object) -> Settings:
    """Settings as a DAG task has them: local test servers allowed on 127.0.0.1 only."""
    values: dict[str, object] = {"allowed_hosts": ("127.0.0.1",), "allow_http": True} | source
    return Settings(data_dir=tmp_path / "spacex", source=SourceSettings(**values))


def extract_as_dag(settings: Settings, location: str) -> None:
    """What the DAG's extract step does with its `input` param: no local files."""
    pipeline.extract(settings, DAY, "run-dag", location, local_files=False)


def assert_nothing_landed(settings: Settings) -> None:
    assert open_lake(settings.lake_root).list("") == []


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("/proc/self/environ", r"local files are read only .* SPACEX_SOURCE_INBOX_DIR"),
        (str(SNAPSHOT_LAUNCHES), r"local files are read only .* SPACEX_SOURCE_INBOX_DIR"),
        ("file:///proc/self/environ", r"only https URLs"),
        ("http://169.254.169.254/latest/meta-data/iam/", r"host 169\.254\.169\.254 is not in"),
        ("http://[fd00:ec2::254]/latest/meta-data/", r"host fd00:ec2::254 is not in"),
        ("https://evil.example/launches.json", r"host evil\.example is not in"),
        ("https://api.spacexdata.com@evil.example/", r"credentials in URLs"),
        ("s3://someone-elses-bucket/secrets.json", r"only https URLs"),
    ],
)
def test_dag_sources_off_the_allow_list_are_refused(
    tmp_path: Path, location: str, message: str
) -> None:
    settings = dag_settings(tmp_path)
    with pytest.raises(ExtractError, match=message) as raised:
        extract_as_dag(settings, location)
    assert masked(location) in str(raised.value)  # credentials never echoed back
    assert "\n" not in str(raised.value)
    assert_nothing_landed(settings)


def test_http_needs_its_setting(tmp_path: Path) -> None:
    settings = dag_settings(tmp_path, allow_http=False)
    with pytest.raises(ExtractError, match="needs SPACEX_SOURCE_ALLOW_HTTP=true"):
        extract_as_dag(settings, "http://127.0.0.1:9/v5/launches")


def test_an_off_list_host_is_never_contacted(tmp_path: Path, serve: Callable[[], Server]) -> None:
    server = serve()
    settings = dag_settings(tmp_path, allowed_hosts=("api.spacexdata.com",))
    with pytest.raises(ExtractError, match=r"SPACEX_SOURCE_ALLOWED_HOSTS \(api\.spacexdata"):
        extract_as_dag(settings, server.url())
    assert server.hits == []
    assert_nothing_landed(settings)


def test_a_redirect_off_the_list_is_not_followed(
    tmp_path: Path, serve: Callable[[], Server]
) -> None:
    target = serve()
    entry = serve()
    entry.redirect_to = target.url(host="localhost", path="/latest/meta-data/")
    settings = dag_settings(tmp_path)
    expected = r"redirect from .* to 'http://localhost:\d+/latest/meta-data/' refused: host"
    with pytest.raises(ExtractError, match=expected):
        extract_as_dag(settings, entry.url())
    assert entry.hits == ["/v5/launches"]
    assert target.hits == []
    assert_nothing_landed(settings)


def test_a_redirect_on_the_list_is_followed(tmp_path: Path, serve: Callable[[], Server]) -> None:
    target = serve()
    entry = serve()
    entry.redirect_to = target.url(path="/v5/launches/moved")
    settings = dag_settings(tmp_path)
    [landed] = pipeline.extract(settings, DAY, "run-moved", entry.url(), local_files=False)
    assert target.hits == ["/v5/launches/moved"]
    lake = open_lake(settings.lake_root)
    assert lake.get(lake.key_of(landed.raw_uri)) == BODY


def test_the_inbox_folder_is_the_only_local_source_for_the_dag(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "launches.json").write_bytes(BODY)
    secret = tmp_path / "secret.json"
    secret.write_text('["not for the lake"]')
    (inbox / "link.json").symlink_to(secret)
    settings = dag_settings(tmp_path, inbox_dir=inbox)

    assert check_source("launches.json", settings, local_ok=False) == str(inbox / "launches.json")
    for escape in ("../secret.json", str(secret), "link.json", f"{inbox}/../secret.json"):
        with pytest.raises(ExtractError, match=r"outside SPACEX_SOURCE_INBOX_DIR"):
            extract_as_dag(settings, escape)
    assert_nothing_landed(settings)
    [landed] = pipeline.extract(settings, DAY, "run-inbox", "launches.json", local_files=False)
    assert landed.record_count == 205


def test_the_cli_reads_local_files_unless_told_not_to(tmp_path: Path) -> None:
    env = {"SPACEX_DATA_DIR": str(tmp_path / "spacex")}
    ok = run_cli("extract", "--input", str(SNAPSHOT_LAUNCHES), "--date", "2024-06-01", env=env)
    assert ok.returncode == 0, ok.stderr
    env["SPACEX_SOURCE_LOCAL_FILES"] = "false"
    refused = run_cli("extract", "--input", "/proc/self/environ", "--date", "2024-06-01", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "spacex-etl: error: source '/proc/self/environ' refused: local files are read only "
        "from the command line or from SPACEX_SOURCE_INBOX_DIR (not set)"
    ]
    landed = list((tmp_path / "spacex" / "lake").rglob("*.json"))
    assert all(os.environ.get("PATH", "") not in p.read_text() for p in landed)


ACCEPTED = [
    "snapshot",
    "https://api.spacexdata.com/v5/launches",
    "https://api.spacexdata.com:443/v5/launches?limit=10",
]
REFUSED = [
    "/proc/self/environ",
    "launches.json",
    "file:///etc/passwd",
    "http://api.spacexdata.com/v5/launches",
    "https://api.spacexdata.com.evil.example/v5/launches",
    "https://api.spacexdata.com@evil.example/",
    "https://evil.example/?https://api.spacexdata.com/",
    "http://169.254.169.254/latest/meta-data/",
    "snapshot2",
    " snapshot",
]


def test_the_dag_param_pattern_accepts_exactly_what_the_job_accepts(tmp_path: Path) -> None:
    """The DAG validates its `input` param with `source_pattern` as a JSON schema (as Airflow's
    Param does); whatever the schema lets through, the job's own check accepts too."""
    import jsonschema

    settings = Settings(data_dir=tmp_path / "spacex")
    schema = {"type": "string", "pattern": source_pattern(settings)}
    for location in ACCEPTED:
        jsonschema.validate(location, schema)
        assert check_source(location, settings, local_ok=False) == location
    for location in REFUSED:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(location, schema)
        with pytest.raises(ExtractError, match="refused"):
            check_source(location, settings, local_ok=False)
