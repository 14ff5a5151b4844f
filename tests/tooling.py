"""How tests find the tools the project bootstraps, the same way `make` does.

`make` exports `UV` (the uv it uses) and puts its folder first on PATH; a test started by hand
finds the uv that `make bootstrap` put in `.tools/bin/`. One lookup here, not one per test file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAPPED_UV = REPO / ".tools" / "bin" / "uv"


def uv() -> str:
    """The uv binary: `$UV` (set by make), else uv on PATH, else the bootstrapped one."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(BOOTSTRAPPED_UV)):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"no uv: neither $UV, uv on PATH nor {BOOTSTRAPPED_UV}; run `make bootstrap` first"
    )


def uv_tool_run(*args: str) -> list[str]:
    """`uv tool run <args>`: a tool run isolated from the project venv (what `uvx` does)."""
    return [uv(), "tool", "run", *args]
