"""Read a source's bytes unchanged: the SpaceX API over HTTP, a local file, or the bundled snapshot.

Sources are allow-listed (`check_source`, the one check the CLI, the pipeline and the DAG use):
`snapshot`; https URLs on `SPACEX_SOURCE_ALLOWED_HOSTS` (redirects followed only to those hosts);
`http://` only with `SPACEX_SOURCE_ALLOW_HTTP=true`; local files only when the caller says so
(the CLI) or from `SPACEX_SOURCE_INBOX_DIR`. A refused source fails before any connection.

HTTP bodies are streamed to a temporary file, never held in memory: the sha256 is computed while
reading, and a body larger than `SPACEX_HTTP_MAX_BYTES` is refused (on its Content-Length, or
while reading) with nothing landed. A `requests` session with a `urllib3.Retry` policy retries
connection errors, 429 and 5xx with capped exponential backoff and honours `Retry-After` up to
`SPACEX_HTTP_BACKOFF_MAX_S`; a connection dropped mid-body is retried within the same budget.
`SPACEX_HTTP_TIMEOUT_S` bounds each read; `SPACEX_HTTP_DEADLINE_S` bounds the whole download
(a body dripped a byte at a time never trips a read timeout). The body lives in a temporary
folder that is deleted when the download fails, exceeds its deadline, or the process receives
SIGTERM (the signal is then delivered as before). Nothing here parses the body.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.retry import Retry

from spacex_etl import __version__
from spacex_etl.config import API, DEFAULT_API_URL, DEFAULT_CORES_API_URL, SNAPSHOT, Settings
from spacex_etl.errors import ExtractError, SourceRefusedError

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
SNAPSHOT_FILES = {"launches": "launches.json", "cores": "cores_partial_2020_subset.json"}
MAX_REDIRECTS = 5
ERROR_TEXT_BYTES = 4096
"""How much of an error response is read for the message (the API's own text)."""
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Extracted:
    """One resource's bytes as served, in a file, with where and when they came from."""

    resource: str
    source: str
    path: Path
    sha256: str
    bytes: int
    extracted_at: datetime
    attempts: int = 1


def snapshot_path(resource: str) -> Path:
    """Path of a bundled snapshot file (shipped inside the package)."""
    return Path(str(resources.files("spacex_etl") / "data" / SNAPSHOT_FILES[resource]))


# -- the allow-list ---------------------------------------------------------------------------
def masked(url: str) -> str:
    """`url` with the user name and password (if any) shown as `***`: for messages and logs."""
    return re.sub(r"(?<=//)[^/?#]*@", "***@", url, count=1)


def _check_url(url: str, settings: Settings, what: str) -> str:
    parts = urlsplit(url)
    shown = masked(url)  # a refused URL's credentials are never echoed back
    allowed = settings.source.allowed_hosts
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ExtractError(
            f"{what} {shown!r} refused: only https URLs (and `snapshot`) are allowed here"
        )
    if parts.username or parts.password:
        raise ExtractError(f"{what} {shown!r} refused: credentials in URLs are not allowed")
    if parts.scheme == "http" and not settings.source.allow_http:
        raise ExtractError(
            f"{what} {shown!r} refused: plain http:// needs SPACEX_SOURCE_ALLOW_HTTP=true"
        )
    if parts.hostname.lower() not in allowed:
        raise ExtractError(
            f"{what} {shown!r} refused: host {parts.hostname} is not in "
            f"SPACEX_SOURCE_ALLOWED_HOSTS ({','.join(allowed) or 'empty'})"
        )
    return url


def check_source(location: str, settings: Settings, *, local_ok: bool) -> str:
    """Return `location` if it may be read, else raise ExtractError naming the setting that
    would allow it. `local_ok`: the caller (the CLI) may read any local file; otherwise only
    files inside SPACEX_SOURCE_INBOX_DIR. Nothing is contacted."""
    if location == SNAPSHOT:
        return location
    if "://" in location:
        return _check_url(location, settings, "source")
    if local_ok:
        return location
    inbox = settings.source.inbox_dir
    if inbox is None:
        raise ExtractError(
            f"source {location!r} refused: local files are read only from the command line "
            "or from SPACEX_SOURCE_INBOX_DIR (not set)"
        )
    path = Path(location).expanduser()
    resolved = (path if path.is_absolute() else inbox / path).resolve()
    if not resolved.is_relative_to(inbox.resolve()):
        raise ExtractError(
            f"source {location!r} refused: outside SPACEX_SOURCE_INBOX_DIR ({inbox})"
        )
    return str(resolved)


def source_pattern(settings: Settings) -> str:
    """A regular expression (JSON-schema `pattern`, e.g. for a DAG param) matching the sources
    `check_source` accepts from someone else: `snapshot` or a URL on an allowed host. The DAG
    validates with it at trigger time; the job still checks (redirects, credentials) itself."""
    hosts = "|".join(re.escape(host) for host in settings.source.allowed_hosts) or "(?!)"
    scheme = "https?" if settings.source.allow_http else "https"
    # `$(?!\n)`: the very end (a JSON-schema validator in Python searches with `re`, where a
    # bare `$` also matches before a trailing newline; in ECMA-262 it is the same end)
    return rf"^({SNAPSHOT}|{API}|{scheme}://({hosts})(:[0-9]{{1,5}})?([/?#][^\s@]*)?)$(?!\n)"


# -- HTTP -------------------------------------------------------------------------------------
PERMANENT_CAUSES = ("host name not found", "TLS verification failed")
"""Failures a retry cannot fix: they fail on the first attempt (4xx other than 429 are never
retried either: only `RETRY_STATUSES` are)."""


def _permanent(error: BaseException | None) -> bool:
    """A DNS failure or a TLS error (certificate, handshake): the same on every attempt."""
    return isinstance(error, NameResolutionError | SSLError)


class _NoRetryLines(logging.Filter):
    """Drops urllib3's own `Retrying (Retry(total=…))` warnings: `CappedRetry` logs each retry
    as one short line of ours instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Retrying (")


def _retry_class(retry_after_max: float) -> type[Retry]:
    class CappedRetry(Retry):
        """`Retry-After` honoured, but never longer than the configured longest wait; DNS and
        TLS failures not retried; each retry one short log line."""

        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, retry_after_max)

        def increment(  # type: ignore[override]  # urllib3's signature, keywords passed through
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Retry:
            if _permanent(error):
                raise MaxRetryError(_pool, url or "", error) from error
            new = super().increment(method, url, response, error, _pool, _stacktrace)
            where = f"{getattr(_pool, 'host', '')}{url or ''}"
            cause = f"HTTP {response.status}" if response is not None else _wire_cause(error)
            retry_after = new.get_retry_after(response) if response is not None else None
            wait = retry_after if retry_after is not None else new.get_backoff_time()
            log.warning(
                "GET %s: %s; retry %d of %s in %.1fs",
                where,
                cause,
                len(new.history),
                len(new.history) + new.total if isinstance(new.total, int) else "?",
                wait,
            )
            return new

    return CappedRetry


def _wire_cause(error: BaseException | None) -> str:
    """urllib3's error in a few words (for the retry line)."""
    if isinstance(error, ReadTimeoutError):
        return "read timeout"
    if isinstance(error, ProtocolError):
        return "connection closed by the server"
    if isinstance(error, NewConnectionError):
        return "connection refused" if "refused" in str(error).lower() else "cannot connect"
    return type(error).__name__


def http_session(settings: Settings, retries: int | None = None) -> requests.Session:
    """A session that retries idempotent GETs on connection errors, 429 and 5xx."""
    http = settings.http
    budget = http.retries if retries is None else retries
    retry = _retry_class(http.backoff_max_s)(
        total=budget,
        connect=budget,
        read=budget,
        status=budget,
        redirect=False,  # redirects are followed by `_get`, each target checked
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=http.backoff_s,
        backoff_max=http.backoff_max_s,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _NoRetryLines) for f in pool_log.filters):
        pool_log.addFilter(_NoRetryLines())
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = f"spacex-elt/{__version__}"
    session.headers["Accept"] = "application/json"
    return session


def _cause(exc: BaseException) -> str:
    """What went wrong on the wire, in words: refused, read timeout, dropped, ..."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-body"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS verification failed"
    reason: BaseException | None = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    if isinstance(reason, ReadTimeoutError):
        return "read timeout"
    if isinstance(reason, ProtocolError):
        return "connection closed by the server"
    if isinstance(reason, NameResolutionError):
        return "host name not found"
    if isinstance(reason, NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else "cannot connect"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return (
            "connection dropped mid-body" if "Connection broken" in str(exc) else "cannot connect"
        )
    return type(exc).__name__


def _api_text(response: requests.Response) -> str:
    """The API's own words from an error response: its `error`/`message` field, or the text."""
    raw = response.raw.read(ERROR_TEXT_BYTES, decode_content=True) if response.raw else b""
    text = raw.decode("utf-8", "replace").strip()
    with contextlib.suppress(ValueError):
        import orjson

        data = orjson.loads(raw)
        if isinstance(data, dict):
            for field in ("error", "message", "detail"):
                if data.get(field):
                    text = str(data[field])
                    break
    return " ".join(text.split())[:300]


def _get(session: requests.Session, url: str, settings: Settings) -> tuple[requests.Response, int]:
    """GET `url`, following redirects only to allowed hosts; return the response (body unread)
    and the number of attempts urllib3 made."""
    attempts = 0
    for _ in range(MAX_REDIRECTS + 1):
        response = session.get(
            url, timeout=settings.http.timeout_s, stream=True, allow_redirects=False
        )
        retries = response.raw.retries if response.raw is not None else None
        attempts += len(retries.history) + 1 if retries else 1
        if not response.is_redirect:
            return response, attempts
        target = urljoin(url, response.headers.get("Location", ""))
        response.close()
        _check_url(target, settings, f"redirect from {url} to")
        url = target
    raise ExtractError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _download(response: requests.Response, url: str, target: Path, max_bytes: int) -> str:
    """Stream the body to `target`, hashing as it goes; refuse more than `max_bytes`."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as handle:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ExtractError(
                    f"{url}: response larger than SPACEX_HTTP_MAX_BYTES ({max_bytes} bytes); "
                    "nothing landed"
                )
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def _expire(response: requests.Response, expired: threading.Event) -> None:
    """The deadline passed: cut the connection, so a read blocked on a slow body returns."""
    expired.set()
    if response.raw is not None:
        response.raw.shutdown()


def _late(url: str, deadline_s: float, attempts: int) -> ExtractError:
    return ExtractError(
        f"{url}: download not finished within SPACEX_HTTP_DEADLINE_S ({deadline_s:g} s, "
        f"{attempts} attempt(s)); nothing landed"
    )


def fetch_http(url: str, resource: str, settings: Settings, workdir: Path) -> Extracted:
    """GET `url` into a file under `workdir`; raise ExtractError naming the URL on failure."""
    http = settings.http
    budget = http.retries  # retries left, shared by urllib3's and the mid-body ones
    attempts = 0
    target = workdir / f"{resource}.body"
    deadline = time.monotonic() + http.deadline_s
    while True:
        if time.monotonic() >= deadline:
            raise _late(url, http.deadline_s, attempts)
        with http_session(settings, budget) as session:
            try:
                response, made = _get(session, url, settings)
            except requests.RequestException as exc:
                # urllib3 gave up: at once on what retrying cannot fix, else after the budget
                final = _cause(exc) in PERMANENT_CAUSES
                attempts += 1 if final else budget + 1
                raise (SourceRefusedError if final else ExtractError)(
                    f"cannot reach {url} after {attempts} attempt(s) ({_cause(exc)}); "
                    "check the URL and the network, or use --input with a file"
                ) from exc
            attempts += made
            budget -= made - 1
            with response:
                if response.status_code != 200:
                    final = response.status_code not in RETRY_STATUSES
                    raise (SourceRefusedError if final else ExtractError)(
                        f"{url} answered HTTP {response.status_code} after {attempts} "
                        f"attempt(s): {_api_text(response) or response.reason}"
                    )
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > http.max_bytes:
                    raise ExtractError(
                        f"{url}: Content-Length {length} exceeds SPACEX_HTTP_MAX_BYTES "
                        f"({http.max_bytes} bytes); nothing landed"
                    )
                expired = threading.Event()
                watchdog = threading.Timer(
                    max(deadline - time.monotonic(), 0), _expire, (response, expired)
                )
                watchdog.daemon = True
                watchdog.start()
                try:
                    sha256 = _download(response, url, target, http.max_bytes)
                except requests.RequestException as exc:
                    if expired.is_set():
                        raise _late(url, http.deadline_s, attempts) from exc
                    if budget <= 0:
                        raise ExtractError(
                            f"cannot read {url} after {attempts} attempt(s) ({_cause(exc)}); "
                            "nothing landed"
                        ) from exc
                    wait = min(http.backoff_s * 2 ** (attempts - 1), http.backoff_max_s)
                    log.warning(
                        "%s: %s on attempt %d; retrying in %.1fs", url, _cause(exc), attempts, wait
                    )
                    budget -= 1
                    time.sleep(min(wait, max(deadline - time.monotonic(), 0)))
                    continue
                finally:
                    watchdog.cancel()
                if expired.is_set():  # the cut connection can look like the end of the body
                    raise _late(url, http.deadline_s, attempts)
        size = target.stat().st_size
        log.info("fetched %s: %d bytes in %d attempt(s)", url, size, attempts)
        return Extracted(resource, url, target, sha256, size, datetime.now(UTC), attempts)


# -- files ------------------------------------------------------------------------------------
def read_file(path: Path, resource: str, source: str | None = None) -> Extracted:
    """A local file as a source (hashed in chunks); ExtractError naming it if unreadable."""
    try:
        with path.open("rb") as handle:
            sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ExtractError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ExtractError(f"{path}: is a folder, expected a JSON file") from exc
    except OSError as exc:
        raise ExtractError(f"{path}: cannot read ({exc.strerror})") from exc
    return Extracted(resource, source or str(path), path, sha256, size, datetime.now(UTC))


@contextlib.contextmanager
def fetch(
    location: str, resource: str, settings: Settings, *, local_ok: bool
) -> Iterator[Extracted]:
    """Fetch one resource from an allowed source (see `check_source`); the file it yields
    lives until the block ends."""
    location = check_source(location, settings, local_ok=local_ok)
    if location == SNAPSHOT:
        path = snapshot_path(resource)
        yield read_file(path, resource, source=f"snapshot:{path.name}")
        return
    if "://" not in location:
        yield read_file(Path(location).expanduser(), resource)
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (
        _unwind_on_sigterm(),
        tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".download-") as workdir,
    ):
        yield fetch_http(location, resource, settings, Path(workdir))


class _Terminated(BaseException):
    """SIGTERM arrived while a download's temporary folder existed."""


@contextlib.contextmanager
def _unwind_on_sigterm() -> Iterator[None]:
    """While the block runs, SIGTERM (ECS stopping a task, `kill`) unwinds it like an exception,
    so the partial download is deleted; then the signal is delivered again with the handler the
    process had. Only where SIGTERM would otherwise kill at once (the default handler, in the
    main thread): a host with its own handler (Airflow's task runner) already unwinds."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def unwind(signum: int, frame: object) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def resolve_input(location: str, settings: Settings) -> str:
    """`api` names the configured API endpoint (SPACEX_SOURCE_URL); anything else is itself."""
    return settings.source.url if location == API else location


def cores_location(launches_location: str, settings: Settings) -> str | None:
    """Where to read cores from: an explicit setting, the snapshot's file, the API's cores
    endpoint (for `api` on the default endpoint), or nowhere."""
    if settings.source.cores_url:
        return settings.source.cores_url
    if launches_location == API and settings.source.url == DEFAULT_API_URL:
        return DEFAULT_CORES_API_URL
    return SNAPSHOT if launches_location == SNAPSHOT else None
