"""`cityops rules test`: replay stored history through rules and say what would have fired, writing nothing.

The store file is attached read-only to an in-memory store; history is fed to a rule engine in time slices, its
clock following the data, so `for`, clear and absence behave as they would have live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from alerts.engine import RuleEngine
from alerts.rules import Rule
from store import history_replay
from store.database import Store
from store.records import Decoded
from store.writer import Batch, Envelope


class ReplayError(Exception):
    """The history cannot be read, said for the person at the command line."""


@dataclass
class Fired:
    rule_id: str
    count: int
    first: list[tuple[datetime, str, str]]  # when, subject, title


def replay(store_path: Path, rules: list[Rule], since: timedelta, step: timedelta = timedelta(minutes=1),
           until: datetime | None = None) -> list[Fired]:  # fmt: skip
    memory = Store(":memory:")
    cur = memory.cursor()
    try:
        history_replay.attach(cur, str(store_path))
    except duckdb.Error as exc:
        memory.close()
        if "lock" in str(exc).lower():
            raise ReplayError(f"{store_path} is open in a running cityops (DuckDB allows one process per file): "
                              "stop it first, or replay a copy of the file") from None  # fmt: skip
        raise ReplayError(f"cannot read {store_path}: {exc}") from None
    try:
        end = until or history_replay.last_reading_at(cur)
        if end is None:
            return []
        start = end - since
        history_replay.copy_entities(cur)
        clock = {"now": start}
        engine = RuleEngine(memory, rules, clock=lambda: clock["now"])
        t = start
        while t < end:
            upper = min(t + step, end)
            readings = history_replay.copy_readings(cur, t, upper)
            clock["now"] = upper
            if readings:
                records = Decoded(observations=readings)
                engine.on_batch(Batch([Envelope("replay", upper, records=records)], len(readings)))
            engine.tick()
            t = upper
        return [Fired(*fired) for fired in history_replay.alerts_by_rule(cur)]
    finally:
        memory.close()
