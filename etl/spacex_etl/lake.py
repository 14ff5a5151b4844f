"""One interface over the lake: a local folder or an S3 prefix.

Objects are write-once: `put`/`put_file` refuse to replace an object with different bytes (raw
data is immutable) and are no-ops when the same bytes are already there, so a retried task is
safe. A write either lands the whole object or nothing: a local write goes to a temporary file
that is linked into place; an S3 upload is a conditional PutObject, or a multipart upload that
the transfer manager aborts on failure. `put_file` and `open` stream, so memory stays flat
whatever the object's size; a local `put_file` copies in the kernel (`kernel_copy`), so the
bytes never pass through Python.

Keys are `/`-separated and relative to the lake root; see `raw_key` etc. for the layout. Run ids
and keys are checked here, for both backends, so no run id or crafted manifest can address an
object outside its partition (`..` segments are refused).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlparse

from spacex_etl.errors import ConfigError, LakeError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ZONE_PREFIX = "spacex"
LAKE_ZONES = ("raw", "staged", "quarantine", "reports")
"""The zones the job writes, each under `<zone>/spacex/`. The ECS task role may write exactly
these (`lake_prefixes` in terraform/modules/etl_job; tests/aws/test_lake_zones.py joins them)."""
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
"""What a run id is, matched against the whole value (`re.fullmatch`: no trailing newline)."""
CHUNK = 1024 * 1024
MULTIPART_THRESHOLD = 64 * 1024 * 1024
"""S3 objects above this size go up in parts (the transfer manager aborts the upload on failure)."""
KERNEL_COPY_BYTES = 64 * 1024 * 1024
"""Bytes asked of one copy_file_range/sendfile call (a signal is handled between calls)."""
UNSUPPORTED_COPY = frozenset(
    {
        errno.EXDEV,  # across filesystems (refused again since Linux 5.19)
        errno.ENOSYS,  # copy_file_range before Linux 4.5, or a seccomp filter that lacks it
        errno.EPERM,  # an older seccomp filter's answer to a syscall it does not know
        errno.EINVAL,  # a filesystem that does not implement it (e.g. ecryptfs)
        errno.EOPNOTSUPP,  # ... or says so (some FUSE and network filesystems)
        errno.ETXTBSY,
        errno.ENOTSOCK,  # sendfile to a file before Linux 2.6.33
    }
)
"""Errors that mean "this kernel copy does not work here": `kernel_copy` then tries the next way.
Any other error (a full disk, an I/O error) is raised."""


def check_run_id(run_id: str) -> str:
    """The run id, if it is safe as one path segment; else a one-line ConfigError."""
    if not re.fullmatch(RUN_ID_PATTERN, run_id) or ".." in run_id:
        raise ConfigError(
            f"run id {run_id!r} is not allowed: 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, no '..'"
        )
    return run_id


def check_key(key: str) -> str:
    """The key, if it is a plain relative key; `..`/`.` segments and absolute keys are refused."""
    parts = key.split("/")
    if key.startswith("/") or "\\" in key or "\x00" in key or any(p in {".", ".."} for p in parts):
        raise LakeError(f"lake key {key!r} escapes its partition ('..', '.' or absolute)")
    return key


def partition_prefix(zone: str, resource: str, ingest_date: str) -> str:
    """`<zone>/spacex/<resource>/ingest_date=YYYY-MM-DD/`: every run of one logical date."""
    if zone not in LAKE_ZONES:
        raise LakeError(f"lake zone {zone!r} is not one of {LAKE_ZONES} (see LAKE_ZONES)")
    return f"{zone}/{ZONE_PREFIX}/{resource}/ingest_date={ingest_date}/"


def raw_key(resource: str, ingest_date: str, run_id: str) -> str:
    """`raw/spacex/<resource>/ingest_date=YYYY-MM-DD/<run_id>/<resource>.json`."""
    check_run_id(run_id)
    return f"{partition_prefix('raw', resource, ingest_date)}{run_id}/{resource}.json"


def zone_key(zone: str, resource: str, ingest_date: str, run_id: str, name: str) -> str:
    """A key under another zone (`staged`, `quarantine`) with the same partition keys as raw."""
    check_run_id(run_id)
    return f"{partition_prefix(zone, resource, ingest_date)}{run_id}/{name}"


def manifest_key(data_key: str) -> str:
    """The `_manifest.json` that sits beside a raw object."""
    return data_key.rsplit("/", 1)[0] + "/_manifest.json"


class Readable(Protocol):
    """What `Lake.open` yields: a binary stream read in chunks."""

    def read(self, size: int = -1, /) -> bytes: ...


class Lake(Protocol):
    """Write-once object storage."""

    root: str

    def put(self, key: str, data: bytes) -> str:
        """Store `data` at `key` unless it exists; return the object's URI."""
        ...

    def put_file(self, key: str, path: Path) -> str:
        """Store a local file's bytes at `key` (streamed; all or nothing); return the URI."""
        ...

    def get(self, key: str) -> bytes: ...

    def open(self, key: str) -> contextlib.AbstractContextManager[Readable]:
        """Read an object as a stream (`with lake.open(key) as body: body.read(CHUNK)`)."""
        ...

    def local_copy(self, key: str, work: Path) -> contextlib.AbstractContextManager[Path]:
        """A local file with the object's bytes (the object itself when the lake is local;
        else a download under `work`, deleted afterwards), streamed, never held in memory."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""
        ...

    def uri(self, key: str) -> str: ...

    def key_of(self, uri: str) -> str:
        """The key of a URI this lake produced."""
        ...


def stream_digest(body: Readable) -> str:
    """sha256 of a stream, read in chunks."""
    digest = hashlib.sha256()
    while chunk := body.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return stream_digest(handle)


def same_bytes(path: Path, other: Path) -> bool:
    """Do two files hold the same bytes? Sizes first, then chunk by chunk up to the first
    difference: cheaper than hashing both (filecmp's 8 KiB reads are slow on gigabytes)."""
    if path.stat().st_size != other.stat().st_size:
        return False
    with path.open("rb") as one, other.open("rb") as two:
        while chunk := one.read(CHUNK):
            if chunk != two.read(CHUNK):
                return False
        return not two.read(1)


def _copy_file_range(source: int, target: int, offset: int) -> int:
    return os.copy_file_range(source, target, KERNEL_COPY_BYTES, offset, offset)


def _sendfile(source: int, target: int, offset: int) -> int:
    return os.sendfile(target, source, offset, KERNEL_COPY_BYTES)


def _read_write(source: int, target: int, offset: int) -> int:
    data = os.pread(source, CHUNK, offset)
    view = memoryview(data)
    while view:
        view = view[os.write(target, view) :]
    return len(data)


COPIES: tuple[Callable[[int, int, int], int], ...] = (_copy_file_range, _sendfile, _read_write)
"""The ways `kernel_copy` tries, in order: each copies the source's bytes from `offset` to the
same offset of the target (where the target's position is) and returns how many, 0 at the end."""


def kernel_copy(source: int, target: int) -> int:
    """Copy the whole of the file `source` into the empty file `target` (descriptors) in the
    kernel: copy_file_range (which also lets a filesystem share blocks: reflinks on XFS/btrfs),
    else sendfile, else reads and writes through a buffer. A way that does not work here (see
    UNSUPPORTED_COPY) is dropped, even midway: the next way starts again from the first byte.
    Returns the bytes copied."""
    *kernel, last = COPIES
    for copy in kernel:
        try:
            return _copy_all(copy, source, target)
        except OSError as exc:
            if exc.errno not in UNSUPPORTED_COPY:
                raise
            if os.fstat(target).st_size:
                # only then: on ext4 a file truncated to 0 is flushed when it is closed
                # (auto_da_alloc), which cost 0.8 s of waiting after a 2 GB copy
                os.ftruncate(target, 0)
            os.lseek(target, 0, os.SEEK_SET)
    return _copy_all(last, source, target)


def _copy_all(copy: Callable[[int, int, int], int], source: int, target: int) -> int:
    offset = 0
    while sent := copy(source, target, offset):
        offset += sent
    return offset


def _immutable(uri: str) -> LakeError:
    return LakeError(
        f"{uri} already exists with other bytes; raw objects are immutable (use a new run id)"
    )


@dataclass
class LocalLake:
    """A lake in a local folder (the embedded default)."""

    root: str

    def _path(self, key: str) -> Path:
        path = (Path(self.root) / check_key(key)).resolve()
        if not path.is_relative_to(Path(self.root).resolve()):
            raise LakeError(f"lake key escapes the lake root: {key}")
        return path

    def _write(
        self, key: str, write: Callable[[BinaryIO], object], same: Callable[[Path], bool]
    ) -> str:
        """Write to a temporary file beside the target, then link it into place (atomic, and
        it fails if the key exists: never overwrite). An object already there is compared
        (`same`) instead: equal bytes make the write a no-op, other bytes are refused; when it
        is there before the write starts, nothing is written at all (a retried task)."""
        path = self._path(key)
        if path.is_file():
            return self._existing(key, same)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another writer got there first: compare below
            else:
                return self.uri(key)
        finally:
            os.unlink(tmp)
        return self._existing(key, same)

    def _existing(self, key: str, same: Callable[[Path], bool]) -> str:
        path = self._path(key)
        if not same(path):
            raise _immutable(str(path))
        return self.uri(key)

    def put(self, key: str, data: bytes) -> str:
        def same(path: Path) -> bool:
            return path.stat().st_size == len(data) and path.read_bytes() == data

        return self._write(key, lambda h: h.write(data), same)

    def put_file(self, key: str, path: Path) -> str:
        def copy(handle: BinaryIO) -> None:
            with path.open("rb") as source:
                kernel_copy(source.fileno(), handle.fileno())

        return self._write(key, copy, lambda existing: same_bytes(existing, path))

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise LakeError(f"{self.uri(key)}: no such object in the lake") from exc

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[Readable]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise LakeError(f"{self.uri(key)}: no such object in the lake") from exc
        with handle:
            yield handle

    @contextlib.contextmanager
    def local_copy(self, key: str, work: Path) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise LakeError(f"{self.uri(key)}: no such object in the lake")
        yield path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = Path(self.root)
        start = self._path(prefix)
        if start.is_file():
            return [prefix]
        if not start.is_dir():
            return []
        return sorted(
            p.relative_to(base).as_posix()
            for p in start.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def uri(self, key: str) -> str:
        return str(Path(self.root) / key)

    def key_of(self, uri: str) -> str:
        try:
            key = Path(uri).resolve().relative_to(Path(self.root).resolve()).as_posix()
        except ValueError:
            raise LakeError(f"{uri} is not in the lake {self.root}") from None
        return check_key(key)


def _error_code(exc: BaseException) -> str:
    """The S3 error code of a ClientError (also when wrapped by the transfer manager)."""
    from botocore.exceptions import ClientError

    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, ClientError):
            return str(candidate.response.get("Error", {}).get("Code", ""))
    return ""


EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


@dataclass
class S3Lake:
    """A lake under `s3://bucket/prefix`. Credentials come from the usual AWS chain."""

    root: str
    client: S3Client = field(repr=False)

    def __post_init__(self) -> None:
        parsed = urlparse(self.root)
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """S3 and connection failures as one-line LakeErrors naming the object."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (ClientError, S3UploadFailedError) as exc:
            code = _error_code(exc)
            if code in MISSING_CODES:
                raise LakeError(f"{self.uri(key)}: no such object in the lake") from exc
            raise LakeError(f"cannot {action} {self.uri(key)}: {code or exc}") from exc
        except BotoCoreError as exc:  # EndpointConnectionError, NoCredentialsError, ...
            raise LakeError(f"cannot {action} {self.uri(key)}: {exc}") from exc

    def put(self, key: str, data: bytes) -> str:
        from botocore.exceptions import ClientError

        full = self._key(key)
        with self._errors("write", key):
            try:
                # Conditional write: S3 rejects it with 412 if the key exists.
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=full,
                    Body=data,
                    IfNoneMatch="*",
                    ChecksumAlgorithm="SHA256",
                )
            except ClientError as exc:
                if _error_code(exc) not in EXISTS_CODES:
                    raise
                if self._digest(key) != hashlib.sha256(data).hexdigest():
                    raise _immutable(self.uri(key)) from None
        return self.uri(key)

    def put_file(self, key: str, path: Path) -> str:
        """Upload through the transfer manager (multipart for big files, aborted on failure);
        every PutObject/CompleteMultipartUpload it sends is conditional (If-None-Match: *)."""
        from boto3.s3.transfer import TransferConfig

        full = self._key(key)
        events = self.client.meta.events
        handler_id = f"spacex-if-none-match-{uuid.uuid4().hex}"

        def if_none_match(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key") == full:
                params["IfNoneMatch"] = "*"

        operations = ("PutObject", "CompleteMultipartUpload")
        for operation in operations:
            events.register(
                f"before-parameter-build.s3.{operation}",
                if_none_match,
                unique_id=f"{handler_id}-{operation}",  # ids are unique across events
            )
        try:
            with self._errors("write", key):
                try:
                    self.client.upload_file(
                        str(path),
                        self.bucket,
                        full,
                        ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                        Config=TransferConfig(
                            multipart_threshold=MULTIPART_THRESHOLD,
                            multipart_chunksize=MULTIPART_THRESHOLD // 4,
                        ),
                    )
                except Exception as exc:
                    if _error_code(exc) not in EXISTS_CODES:
                        raise
                    if self._digest(key) != file_digest(path):
                        raise _immutable(self.uri(key)) from None
        finally:
            for operation in operations:
                events.unregister(
                    f"before-parameter-build.s3.{operation}", unique_id=f"{handler_id}-{operation}"
                )
        return self.uri(key)

    def _digest(self, key: str) -> str:
        with self.open(key) as body:
            return stream_digest(body)

    def get(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[Readable]:
        with self._errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        try:
            with self._errors("read", key):
                yield body
        finally:
            body.close()

    @contextlib.contextmanager
    def local_copy(self, key: str, work: Path) -> Iterator[Path]:
        from boto3.s3.transfer import TransferConfig

        work.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=work, prefix="download-", suffix=Path(key).suffix)
        os.close(fd)
        try:
            with self._errors("read", key):
                self.client.download_file(
                    self.bucket,
                    self._key(key),
                    name,
                    Config=TransferConfig(multipart_threshold=MULTIPART_THRESHOLD),
                )
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._errors("read", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if _error_code(exc) in MISSING_CODES:
                    return False
                raise
        return True

    def list(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        with self._errors("list", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}{key}"

    def key_of(self, uri: str) -> str:
        parsed = urlparse(uri)
        path = parsed.path.lstrip("/")
        if parsed.netloc != self.bucket or not path.startswith(self.prefix):
            raise LakeError(f"{uri} is not in the lake {self.root}")
        key = path[len(self.prefix) + 1 :] if self.prefix else path
        return check_key(key)


def open_lake(root: str, s3_client: S3Client | None = None) -> Lake:
    """The lake for a root: `s3://bucket/prefix` or a local folder."""
    if root.startswith("s3://"):
        if not urlparse(root).netloc:
            raise LakeError(f"lake URI {root!r} has no bucket")
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        return S3Lake(root, s3_client)
    Path(root).mkdir(parents=True, exist_ok=True)
    return LocalLake(root)
