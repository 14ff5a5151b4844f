"""Read a source's bytes unchanged: the SpaceX API over HTTP, a local file, or the bundled snapshot.

HTTP uses a `requests` session whose `urllib3.Retry` policy retries connection errors, 429 and
5xx with exponential backoff (capped) and honours `Retry-After`; nothing here parses the body.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from spacex_etl import __version__
from spacex_etl.config import SNAPSHOT, Settings
from spacex_etl.errors import ExtractError

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
SNAPSHOT_FILES = {"launches": "launches.json", "cores": "cores_partial_2020_subset.json"}


@dataclass(frozen=True)
class Extracted:
    """The bytes of one resource as served, with where and when they came from."""

    resource: str
    source: str
    body: bytes
    extracted_at: datetime
    attempts: int = 1

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def snapshot_path(resource: str) -> Path:
    """Path of a bundled snapshot file (shipped inside the package)."""
    return Path(str(resources.files("spacex_etl") / "data" / SNAPSHOT_FILES[resource]))


def http_session(settings: Settings) -> requests.Session:
    """A session that retries idempotent GETs on connection errors, 429 and 5xx."""
    retry = Retry(
        total=settings.http.retries,
        connect=settings.http.retries,
        read=settings.http.retries,
        status=settings.http.retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=settings.http.backoff_s,
        backoff_max=settings.http.backoff_max_s,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = f"spacex-elt/{__version__}"
    session.headers["Accept"] = "application/json"
    return session


def fetch_http(url: str, resource: str, settings: Settings) -> Extracted:
    """GET `url` and return the body unchanged; raise ExtractError naming the URL on failure."""
    with http_session(settings) as session:
        try:
            response = session.get(url, timeout=settings.http.timeout_s)
        except requests.RequestException as exc:
            reason = exc.__class__.__name__
            raise ExtractError(
                f"cannot reach {url} after {settings.http.retries} retries ({reason}); "
                "check the URL and the network, or use --input with a file"
            ) from exc
        history = response.raw.retries.history if response.raw and response.raw.retries else ()
        attempts = len(history) + 1
        if response.status_code != 200:
            raise ExtractError(
                f"{url} answered HTTP {response.status_code} after {attempts} attempt(s)"
            )
        log.info("fetched %s: %d bytes in %d attempt(s)", url, len(response.content), attempts)
        return Extracted(resource, url, response.content, datetime.now(UTC), attempts)


def read_file(path: Path, resource: str, source: str | None = None) -> Extracted:
    """Read a local file's bytes; raise ExtractError naming the file if it cannot be read."""
    try:
        body = path.read_bytes()
    except FileNotFoundError as exc:
        raise ExtractError(f"{path}: no such file") from exc
    except OSError as exc:
        raise ExtractError(f"{path}: cannot read ({exc.strerror})") from exc
    return Extracted(resource, source or str(path), body, datetime.now(UTC))


def fetch(location: str, resource: str, settings: Settings) -> Extracted:
    """Fetch one resource from a URL, a file path, or `snapshot` (the bundled data)."""
    if location == SNAPSHOT:
        path = snapshot_path(resource)
        return read_file(path, resource, source=f"snapshot:{path.name}")
    if location.startswith(("http://", "https://")):
        return fetch_http(location, resource, settings)
    return read_file(Path(location).expanduser(), resource)


def cores_location(launches_location: str, settings: Settings) -> str | None:
    """Where to read cores from: an explicit setting, the snapshot's file, or nowhere."""
    if settings.source.cores_url:
        return settings.source.cores_url
    return SNAPSHOT if launches_location == SNAPSHOT else None
