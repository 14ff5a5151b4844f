"""One interface over the lake: a local folder or an S3 prefix.

Objects are write-once: `put` refuses to replace an object with different bytes (raw data is
immutable) and is a no-op when the same bytes are already there, so a retried task is safe.
Keys are `/`-separated and relative to the lake root; see `raw_key` etc. for the layout.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

from spacex_etl.errors import LakeError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ZONE_PREFIX = "spacex"


def raw_key(resource: str, ingest_date: str, run_id: str) -> str:
    """`raw/spacex/<resource>/ingest_date=YYYY-MM-DD/<run_id>/<resource>.json`."""
    return f"raw/{ZONE_PREFIX}/{resource}/ingest_date={ingest_date}/{run_id}/{resource}.json"


def zone_key(zone: str, resource: str, ingest_date: str, run_id: str, name: str) -> str:
    """A key under another zone (`staged`, `quarantine`) with the same partition keys as raw."""
    return f"{zone}/{ZONE_PREFIX}/{resource}/ingest_date={ingest_date}/{run_id}/{name}"


def manifest_key(data_key: str) -> str:
    """The `_manifest.json` that sits beside a raw object."""
    return data_key.rsplit("/", 1)[0] + "/_manifest.json"


class Lake(Protocol):
    """Write-once object storage."""

    root: str

    def put(self, key: str, data: bytes) -> str:
        """Store `data` at `key` unless it exists; return the object's URI."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""
        ...

    def uri(self, key: str) -> str: ...

    def key_of(self, uri: str) -> str:
        """The key of a URI this lake produced."""
        ...


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class LocalLake:
    """A lake in a local folder (the embedded default)."""

    root: str

    def _path(self, key: str) -> Path:
        path = (Path(self.root) / key).resolve()
        if not path.is_relative_to(Path(self.root).resolve()):
            raise LakeError(f"lake key escapes the lake root: {key}")
        return path

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            try:
                os.link(tmp, path)  # atomic and fails if the key exists: never overwrite
            except FileExistsError:
                if _digest(path.read_bytes()) != _digest(data):
                    raise LakeError(
                        f"{path} already exists with other bytes; raw objects are immutable "
                        "(use a new run id)"
                    ) from None
        finally:
            os.unlink(tmp)
        return self.uri(key)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise LakeError(f"{self.uri(key)}: no such object in the lake") from exc

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
        return Path(uri).resolve().relative_to(Path(self.root).resolve()).as_posix()


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
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> str:
        from botocore.exceptions import ClientError

        full = self._key(key)
        try:
            # Conditional write: S3 rejects it with 412 if the key exists (never overwrite).
            self.client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                IfNoneMatch="*",
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                if _digest(self.get(key)) != _digest(data):
                    raise LakeError(
                        f"{self.uri(key)} already exists with other bytes; raw objects are "
                        "immutable (use a new run id)"
                    ) from None
                return self.uri(key)
            raise LakeError(f"cannot write {self.uri(key)}: {code or exc}") from exc
        return self.uri(key)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404"}:
                raise LakeError(f"{self.uri(key)}: no such object in the lake") from exc
            raise LakeError(f"cannot read {self.uri(key)}: {code or exc}") from exc
        return obj["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise LakeError(f"cannot read {self.uri(key)}: {exc}") from exc
        return True

    def list(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def key_of(self, uri: str) -> str:
        parsed = urlparse(uri)
        path = parsed.path.lstrip("/")
        if parsed.netloc != self.bucket or not path.startswith(self.prefix):
            raise LakeError(f"{uri} is not in the lake {self.root}")
        return path[strip:] if (strip := len(self.prefix) + 1 if self.prefix else 0) else path


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
