"""The exclusive file lock the job and the DAG's dbt tasks take (flock): the holder writes
who it is into the file, so whoever finds it held can name them. The kernel releases the lock
when the process ends however it ends, so a crashed holder never blocks the next."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path


@contextlib.contextmanager
def held(path: Path, holder: str, busy: Callable[[str], None]) -> Iterator[None]:
    """Hold the exclusive flock at `path`, writing `pid <pid>, <holder> <UTC time>` into it.
    When another process holds it, `busy(its line)` runs first ("" when it wrote none): raise
    to refuse, return to wait for the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            busy(os.pread(fd, 512, 0).decode("utf-8", "replace").strip())
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.pwrite(fd, f"pid {os.getpid()}, {holder} {started}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
