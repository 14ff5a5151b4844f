"""How tests find the tools the project bootstraps, the same way `make` does.

`make` exports `UV` (the uv it uses) and puts its folder first on PATH; a test started by hand
finds the uv that `make bootstrap` put in `.tools/bin/`. One lookup here, not one per test file.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
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


def dag_env_names() -> set[str]:
    """The variables the DAG reads: its pydantic-settings classes' fields (env prefix + name, or
    the alias) and any `SPACEX_*` name quoted in its config module."""
    from pydantic_settings import BaseSettings

    from spacex_etl.config import settings_env_names

    sys.path.insert(0, str(REPO / "dags"))
    try:
        module = importlib.import_module("spacex_elt_support.config")
    finally:
        sys.path.remove(str(REPO / "dags"))
    names = set(re.findall(r'"(SPACEX_[A-Z0-9_]+)"', Path(module.__file__ or "").read_text()))
    for cls in vars(module).values():
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings:
            names |= set(settings_env_names(cls).values())
    return names
