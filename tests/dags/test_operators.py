"""The container modes' load task: its command gets `--raw-uri` for each object the extract
landed, whether the container is started by Docker (`command`) or by ECS (the container
override's `command`), and the command it was built with is kept as given."""

from __future__ import annotations

import json
from typing import Any

EXTRACTED = json.dumps(
    {
        "run_id": "r1.try1",
        "landed": [{"raw_uri": "s3://lake/raw/a/launches.json"}, {"raw_uri": "s3://lake/b.json"}],
    }
)
RAW_URIS = ["--raw-uri", "s3://lake/raw/a/launches.json", "--raw-uri", "s3://lake/b.json"]


class _TI:
    def xcom_pull(self, task_ids: str) -> Any:
        assert task_ids == "extract"
        return "INFO landed ...\n" + EXTRACTED  # a container's last log line is its XCom


class _Started:
    """Stands in for DockerOperator / EcsRunTaskOperator: execute returns what would start."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def execute(self, context: Any) -> Any:
        return self.__dict__


def test_docker_load_command_ends_with_the_raw_uris() -> None:
    from spacex_elt_support.operators import with_raw_uris

    load = with_raw_uris(_Started)(command=["load", "--date", "2024-06-01"])
    started = load.execute({"ti": _TI()})
    assert started["command"] == ["load", "--date", "2024-06-01", *RAW_URIS]
    assert type(load).__name__ == "Load_Started"


def test_ecs_load_override_ends_with_the_raw_uris() -> None:
    from spacex_elt_support.operators import with_raw_uris

    overrides = {"containerOverrides": [{"name": "job", "command": ["load", "--json"]}]}
    started = with_raw_uris(_Started)(overrides=overrides).execute({"ti": _TI()})
    [container] = started["overrides"]["containerOverrides"]
    assert container == {"name": "job", "command": ["load", "--json", *RAW_URIS]}
    assert "command" not in started  # ECS takes the command from the override only
