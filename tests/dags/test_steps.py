"""The python-mode task bodies: a failing dbt test fails the task with a message naming it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest


def _node(name: str, status: str, message: str = "") -> Any:
    return SimpleNamespace(node=SimpleNamespace(name=name), status=status, message=message)


def test_failing_dbt_test_raises_naming_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    from spacex_elt_support import steps

    from spacex_etl import transform
    from spacex_etl.errors import TransformError

    calls: list[list[str]] = []

    def invoke(settings: Any, command: list[str]) -> Any:
        calls.append(command)
        return SimpleNamespace(
            success=False,
            result=[
                _node(
                    "unique_fct_launches_launch_id", "fail", "Got 2 results,\n configured to fail"
                ),
                _node("not_null_dim_cores_core_id", "pass"),
            ],
        )

    monkeypatch.setattr(transform, "invoke", invoke)
    with pytest.raises(TransformError) as failed:
        steps.dbt(["test"])
    assert calls == [["test"]]
    message = str(failed.value)
    assert (
        "dbt test failed: unique_fct_launches_launch_id (fail: Got 2 results, configured" in message
    )
    assert "dbt.log" in message


def test_passing_dbt_command_returns_its_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    from spacex_elt_support import steps

    from spacex_etl import transform

    result = SimpleNamespace(success=True, result=[_node("a", "pass"), _node("b", "pass")])
    monkeypatch.setattr(transform, "invoke", lambda settings, command: result)
    summary = steps.dbt(["test"])
    assert (summary["command"], summary["statuses"], summary["failures"]) == (
        "test",
        {"pass": 2},
        [],
    )
