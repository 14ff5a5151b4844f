"""Wall time and peak memory of a command and EVERY process it starts (dbt, DuckDB threads, …).

Peak RSS of the tree = the largest sum, over one poll, of the RSS of the process and all its
live descendants (psutil, every 20 ms). The kernel's own high-water mark of the biggest single
process (`wait4` ru_maxrss) is a lower bound that catches a spike between two polls; the report
takes the larger of the two. An optional limit kills the whole tree once it is exceeded, the way
an out-of-memory killer would stop a container with that much memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1024 * 1024


@dataclass
class Measured:
    """One timed run of one command."""

    seconds: float
    cpu_seconds: float
    """User + system CPU of the process and every descendant it waited for."""
    peak_rss_mib: float
    returncode: int
    killed_over_mib: float | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.killed_over_mib is None


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _kill_tree(root: psutil.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(root.pid, signal.SIGKILL)  # the command runs in its own process group


def run(
    cmd: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    limit_mib: float | None = None,
    interval_s: float = 0.02,
) -> Measured:
    """Run `cmd` to completion (or to the memory limit) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        )
        root = psutil.Process(child.pid)
        peak = 0
        killed: float | None = None
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss(root))
            if limit_mib is not None and peak > limit_mib * MIB and killed is None:
                killed = limit_mib
                _kill_tree(root)
            time.sleep(interval_s)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss is in KiB on Linux: the biggest single process, a lower bound for the tree.
        peak = max(peak, usage.ru_maxrss * 1024)
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_rss_mib=peak / MIB,
            returncode=child.returncode,
            killed_over_mib=killed,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


if __name__ == "__main__":
    result = run(sys.argv[1:])
    print(
        f"{result.seconds:.2f} s ({result.cpu_seconds:.1f} s CPU), "
        f"peak RSS {result.peak_rss_mib:.0f} MiB, rc {result.returncode}"
    )
