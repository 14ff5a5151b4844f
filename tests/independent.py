"""Q1/Q2 computed straight from the bundled launches.json in plain Python — no SQL, no
project code — so that the tests check the pipeline against something it does not share."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from itertools import pairwise

from tests.conftest import SNAPSHOT_LAUNCHES

Flight = tuple[datetime, int, str]  # (date_utc, flight_number, launch id)


def independent_flights() -> dict[str, list[Flight]]:
    """Each core's flights in date order: past launches only, core slots with a known id."""
    flights: dict[str, list[Flight]] = defaultdict(list)
    for launch in json.loads(SNAPSHOT_LAUNCHES.read_text()):
        if launch["upcoming"]:
            continue
        when = datetime.fromisoformat(launch["date_utc"].replace("Z", "+00:00"))
        for slot in launch["cores"]:
            if slot["core"]:
                flights[slot["core"]].append((when, launch["flight_number"], launch["id"]))
    for items in flights.values():
        items.sort()
    return dict(flights)


def independent_answers() -> tuple[int, set[str], set[tuple[str, str]]]:
    """(Q1 value, the cores that reach it, Q2 as {(core id, launch id)} with gap < 50 days)."""
    flights = independent_flights()
    q1 = max(len(f) for f in flights.values()) - 1
    q1_cores = {core for core, f in flights.items() if len(f) - 1 == q1}
    q2 = {
        (core, launch_id)
        for core, items in flights.items()
        for (before, _, _), (after, _, launch_id) in pairwise(items)
        if (after - before).total_seconds() / 86400 < 50
    }
    return q1, q1_cores, q2
