"""`make aws-test`'s bad input: one line naming the cause (and the log), nothing left running.

The full run (apply, job, destroy) is `make aws-test` itself; these are the failures that
happen before an apply, so they take seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_aws(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.aws.run_aws"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def moto_servers() -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", "tests.aws.moto_server"], capture_output=True, text=True
    )
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_a_taken_port_is_one_line_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_aws(AWS_TEST_PORT=str(port))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is taken" in line


@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform is not on PATH")
def test_a_missing_provider_mirror_is_one_line_and_the_server_stops(tmp_path: Path) -> None:
    before = moto_servers()
    proc = run_aws(TF_PLUGIN_MIRROR=str(tmp_path / "no-mirror"))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "no-mirror" in line and "holds no registry.terraform.io/hashicorp/aws" in line
    assert moto_servers() == before
