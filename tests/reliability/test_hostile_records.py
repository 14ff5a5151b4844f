"""Records that mean different things to different parsers, or that one supported warehouse
cannot store, through `spacex-etl run` on DuckDB and on the real PostgreSQL: each is quarantined
with its field and rule, alike on every warehouse and on both staging paths (the DuckDB checks,
and the record models that decide every record a check sends them, e.g. one whose text
mentions NaN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import DAY2, Env, snapshot_records

OTHER_ID = "0" * 24


def _run(
    env: Env, tmp_path: Path, body: bytes
) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
    path = tmp_path / "launches.json"
    path.write_bytes(body)
    proc = env.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", "--json")
    quarantined = [(q["record_index"], q["field"], q["rule"]) for q in env.quarantine_lines(DAY2)]
    return json.loads(proc.stdout)["counts"], quarantined


def _texts(records: list[dict[str, Any]], slow: bool) -> list[str]:
    """Each record's JSON text; `slow` sends records 0-9 to the record models (NaN in a string
    they do not read)."""
    if slow:
        for record in records[:10]:
            record["links"]["wikipedia"] = "NaN"
    return [json.dumps(record) for record in records]


def _twice(text: str, key: str, first: Any, second: Any) -> str:
    old = f'"{key}": {json.dumps(first)}'
    assert old in text, old
    return text.replace(old, f"{old}, {json.dumps(key)}: {json.dumps(second)}", 1)


@pytest.mark.parametrize("slow", [False, True], ids=["checks", "models"])
def test_a_key_given_twice_is_quarantined_with_the_key_on_every_path(
    env: Env, tmp_path: Path, slow: bool
) -> None:
    """DuckDB keeps the first of two equal keys, orjson the last: the record has no single
    meaning (with two ids, not even one identity), so it is set aside, never loaded."""
    records = snapshot_records()
    texts = _texts(records, slow)
    texts[1] = _twice(texts[1], "id", records[1]["id"], OTHER_ID)
    texts[2] = _twice(texts[2], "name", records[2]["name"], "Forged")
    texts[3] = _twice(texts[3], "core", records[3]["cores"][0]["core"], OTHER_ID)
    texts[4] = _twice(texts[4], "reddit", records[4]["links"]["reddit"], None)  # not loaded
    body = ("[" + ", ".join(texts) + "]").encode()

    counts, quarantined = _run(env, tmp_path, body)

    assert quarantined == [
        (1, "id", "duplicate_key"),
        (2, "name", "duplicate_key"),
        (3, "cores.0.core", "duplicate_key"),
        (4, "links.reddit", "duplicate_key"),
    ]
    received, loaded = counts["received"], counts["loaded"]["launches"]
    assert (received, counts["quarantined"], loaded) == (205, 4, 201)
    ids = {row["launch_id"] for row in env.query("select launch_id from {raw}.launches")}
    assert OTHER_ID not in ids and records[1]["id"] not in ids
    names = [row["name"] for row in env.query("select name from {raw}.launches")]
    assert "Forged" not in names and records[2]["name"] not in names
    rules = env.query("select field, rule from {raw}.quarantine order by record_index")
    assert [(r["field"], r["rule"]) for r in rules] == [q[1:] for q in quarantined]


@pytest.mark.parametrize("slow", [False, True], ids=["checks", "models"])
def test_values_a_warehouse_cannot_store_are_quarantined_alike_everywhere(
    env: Env, tmp_path: Path, slow: bool
) -> None:
    """U+0000 (PostgreSQL's text and Redshift's varchar refuse it; DuckDB stores it) and
    numbers too long for any numeric type: one record each is set aside with field and rule,
    the rest of the batch loads, whatever the warehouse."""
    records = snapshot_records()
    records[1]["details"] = "before\x00after"
    records[2]["name"] = "\x00"
    records[3]["cores"][0]["landing_type"] = "AS\x00DS"
    texts = _texts(records, slow)
    texts[4] = texts[4].replace(
        f'"flight_number": {records[4]["flight_number"]}', '"flight_number": ' + "9" * 5000, 1
    )
    texts[5] = texts[5].replace(
        f'"date_unix": {records[5]["date_unix"]}', '"date_unix": -' + "1" * 400, 1
    )
    body = ("[" + ", ".join(texts) + "]").encode()

    counts, quarantined = _run(env, tmp_path, body)

    assert quarantined == [
        (1, "details", "unstorable_character"),
        (2, "name", "unstorable_character"),
        (3, "cores.0.landing_type", "unstorable_character"),
        (4, "flight_number", "out_of_range"),
        (5, "date_unix", "out_of_range"),
    ]
    received, loaded = counts["received"], counts["loaded"]["launches"]
    assert (received, counts["quarantined"], loaded) == (205, 5, 200)
    rows = env.query("select message from {raw}.quarantine order by record_index")
    messages = [row["message"] for row in rows]
    assert all("U+0000" in m for m in messages[:3]), messages
    assert "too large for any numeric type" in messages[3], messages
    assert "does not fit a 64-bit integer column" in messages[4], messages
