"""A deterministic, streaming generator of realistic `/v5/launches` files of any size.

Why not repeat the bundled snapshot: a repeat has 205 distinct shapes and cores that fly at most
14 times, so it says nothing about how core histories (Q1/Q2) or memory behave at scale. Here
each launch borrows the free-text and link fields of a real launch (so records weigh what real
ones do, ~1.5 KB), and gets its own id, date, flight number, core slots, payloads and failures:

- a rolling pool of active cores, each flying ~20 times (5 + a long tail) before it
  retires, so reuse gaps
  straddle Q2's 50 days at every N;
- ~4 % Falcon Heavy launches with three distinct cores, ~2 % failures (success false, a
  `failures` entry, no landing), ~0.5 % duplicated flight numbers;
- the newest ~8 % of launches are upcoming: null core ids, null success, month precision.

Records are written one at a time (`[` … `,` … `]`), so memory stays flat in N. The same
(n, seed, bad_every) always gives the same bytes. `bad_every=k` swaps every k-th record for one
broken in a known way (see `BAD_KINDS`), for tests that compare quarantine behaviour.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from spacex_etl.sources import snapshot_path

START = datetime(2006, 3, 24, 22, 30, tzinfo=UTC)
MAX_SPAN = timedelta(days=365 * 250)  # keeps every date inside Python's datetime range
TARGET_GAP = timedelta(days=60)  # mean time between two flights of one core
LANDING_TYPES = ("ASDS", "RTLS", "Ocean")
FLORIDA = timezone(timedelta(hours=-4))
Record = dict[str, Any]


def _hex_id(kind: int, number: int, seed: int) -> str:
    """A 24-hex ObjectId, unique per (kind, number) and different per seed."""
    return f"{seed & 0xFFFF:04x}{kind:02x}{number:018x}"


@dataclass
class _CorePool:
    """Active cores; each retires after its drawn number of flights and is replaced by a new one."""

    rng: random.Random
    seed: int
    size: int
    active: list[list[Any]] = field(default_factory=list)  # [id, flights so far, lifetime]
    created: int = 0

    def _new(self) -> list[Any]:
        self.created += 1
        return [_hex_id(2, self.created, self.seed), 0, 5 + int(self.rng.expovariate(1 / 15))]

    def fly(self, count: int) -> list[tuple[str, int]]:
        """`count` distinct cores for one launch: (core id, its flight number)."""
        while len(self.active) < max(self.size, count):
            self.active.append(self._new())
        picks = self.rng.sample(range(len(self.active)), count)
        flown = []
        for slot in sorted(picks, reverse=True):
            core = self.active[slot]
            core[1] += 1
            flown.append((core[0], core[1]))
            if core[1] >= core[2]:
                self.active[slot] = self._new()
        return flown


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _slot(
    core: tuple[str, int] | None, rng: random.Random, failed: bool, pads: list[str]
) -> Record:
    if core is None:
        keys = ("core", "flight", "gridfins", "legs", "reused", "landing_attempt")
        return dict.fromkeys((*keys, "landing_success", "landing_type", "landpad"))
    attempt = not failed and rng.random() < 0.95
    landing_type = rng.choice(LANDING_TYPES) if attempt else None
    return {
        "core": core[0],
        "flight": core[1],
        "gridfins": True,
        "legs": True,
        "reused": core[1] > 1,
        "landing_attempt": attempt,
        "landing_success": (rng.random() < 0.97) if attempt else None,
        "landing_type": landing_type,
        "landpad": rng.choice(pads) if attempt and landing_type != "Ocean" else None,
    }


def launches(n: int, seed: int = 42) -> Iterator[Record]:
    """`n` realistic launches in date order (deterministic for a given seed)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    templates = orjson.loads(snapshot_path("launches").read_bytes())
    pads = sorted({s["landpad"] for t in templates for s in t["cores"] if s.get("landpad")})
    step = min(timedelta(days=2), MAX_SPAN / max(n, 1))
    pool = _CorePool(rng, seed, size=max(3, round(TARGET_GAP / step)))
    first_upcoming = n - n * 8 // 100
    flight_number = 0
    for index in range(n):
        template = rng.choice(templates)
        upcoming = index >= first_upcoming
        when = START + step * index + rng.random() * step / 2
        failed = not upcoming and rng.random() < 0.02
        heavy = rng.random() < 0.04
        flight_number += 0 if rng.random() < 0.005 else 1
        if upcoming:
            slots = [_slot(None, rng, False, pads) for _ in range(3 if heavy else 1)]
        else:
            slots = [_slot(core, rng, failed, pads) for core in pool.fly(3 if heavy else 1)]
        local = when.astimezone(FLORIDA)
        yield {
            **template,
            "id": _hex_id(1, index + 1, seed),
            "flight_number": flight_number,
            "date_utc": _iso(when),
            "date_unix": int(when.timestamp()),
            "date_local": local.replace(microsecond=0).isoformat(),
            "date_precision": "month" if upcoming else "hour",
            "upcoming": upcoming,
            "success": None if upcoming else not failed,
            "static_fire_date_utc": None if upcoming else _iso(when - timedelta(days=7)),
            "static_fire_date_unix": None if upcoming else int(when.timestamp()) - 7 * 86400,
            "window": None if upcoming else rng.choice((0, 0, 0, 3600, 7200)),
            "cores": slots,
            "payloads": [
                _hex_id(3, index * 4 + k, seed) for k in range(rng.choice((1, 1, 1, 2, 3)))
            ],
            "failures": (
                [{"time": rng.randint(1, 600), "altitude": None, "reason": "engine failure"}]
                if failed
                else []
            ),
        }


def _bad_type(record: Record) -> Any:
    return {**record, "flight_number": str(record["flight_number"])}


def _bad_empty_name(record: Record) -> Any:
    return {**record, "name": ""}


def _bad_id(record: Record) -> Any:
    return {**record, "id": record["id"][:-1] + "z"}


def _bad_date(record: Record) -> Any:
    return {**record, "date_utc": "not a date"}


def _naive_date(record: Record) -> Any:
    return {**record, "date_utc": record["date_utc"].rstrip("Z")}


def _bad_core(record: Record) -> Any:
    return {**record, "cores": [{**record["cores"][0], "core": 12345}]}


def _missing_upcoming(record: Record) -> Any:
    return {k: v for k, v in record.items() if k != "upcoming"}


def _not_an_object(record: Record) -> Any:
    return [record["id"]]


def _float_flight(record: Record) -> Any:
    return {**record, "flight_number": float(record["flight_number"])}  # valid: 3.0 is 3


def _bad_bool(record: Record) -> Any:
    return {**record, "upcoming": "false"}


def _bad_precision(record: Record) -> Any:
    return {**record, "date_precision": "week"}


def _missing_core_key(record: Record) -> Any:
    return {**record, "cores": [{k: v for k, v in record["cores"][0].items() if k != "core"}]}


def _null_cores(record: Record) -> Any:
    return {**record, "cores": None}


def _no_cores(record: Record) -> Any:
    return {k: v for k, v in record.items() if k != "cores"}  # valid: defaults to []


def _bad_failure(record: Record) -> Any:
    return {**record, "failures": [{"time": 1.5, "altitude": None, "reason": None}]}


BAD_KINDS: list[Callable[[Record], Any]] = [
    _bad_type,
    _bad_empty_name,
    _bad_id,
    _bad_date,
    _naive_date,
    _bad_core,
    _missing_upcoming,
    _not_an_object,
    _float_flight,
    _bad_bool,
    _bad_precision,
    _bad_failure,
    _missing_core_key,
    _null_cores,
    _no_cores,
]
"""One record each: broken types, formats, missing fields, a non-object, plus valid oddities."""


def records(n: int, seed: int = 42, bad_every: int | None = None) -> Iterator[Any]:
    """The launches, with every `bad_every`-th one broken (and exact and conflicting duplicates)."""
    previous: Record | None = None
    bad = 0
    for index, record in enumerate(launches(n, seed)):
        if bad_every and index % bad_every == bad_every - 1 and previous is not None:
            kind = bad % (len(BAD_KINDS) + 2)
            bad += 1
            if kind == len(BAD_KINDS):
                yield previous  # an exact duplicate: collapsed, not quarantined
            elif kind == len(BAD_KINDS) + 1:
                yield {**previous, "name": previous["name"] + " (conflicting copy)"}
            else:
                yield BAD_KINDS[kind](record)
        else:
            yield record
        previous = record


def write(path: Path, n: int, seed: int = 42, bad_every: int | None = None) -> Path:
    """Write the file record by record (never the whole array in memory); return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with tmp.open("wb", buffering=1 << 20) as out:
        out.write(b"[")
        for index, record in enumerate(records(n, seed, bad_every)):
            out.write((b",\n" if index else b"\n") + orjson.dumps(record))
        out.write(b"\n]\n")
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bad-every", type=int, default=None)
    args = parser.parse_args()
    write(args.out, args.n, args.seed, args.bad_every)


if __name__ == "__main__":
    main()
