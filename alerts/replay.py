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
from store.database import Store
from store.records import Decoded, Observation
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
        cur.execute(f"ATTACH '{store_path}' AS history (READ_ONLY)")
    except duckdb.Error as exc:
        memory.close()
        if "lock" in str(exc).lower():
            raise ReplayError(f"{store_path} is open in a running cityops (DuckDB allows one process per file): "
                              "stop it first, or replay a copy of the file") from None  # fmt: skip
        raise ReplayError(f"cannot read {store_path}: {exc}") from None
    try:
        end = until or cur.execute("SELECT max(ts) FROM history.observations").fetchone()[0]
        if end is None:
            return []
        start = end - since
        cur.execute("INSERT INTO entities SELECT * FROM history.entities")
        clock = {"now": start}
        engine = RuleEngine(memory, rules, clock=lambda: clock["now"])
        t = start
        while t < end:
            upper = min(t + step, end)
            rows = cur.execute(
                "SELECT entity_id, metric, value, unit, ts, quality, feed_id, msg_id FROM history.observations "
                "WHERE ts > ? AND ts <= ? ORDER BY ts",
                [t, upper],
            ).fetchall()
            clock["now"] = upper
            if rows:
                cur.execute(
                    "INSERT INTO observations SELECT entity_id, metric, value, unit, ts, quality, feed_id, msg_id, "
                    "received_at FROM history.observations WHERE ts > ? AND ts <= ?",
                    [t, upper],
                )
                cur.execute(
                    """
                    INSERT INTO latest
                    SELECT entity_id, metric, arg_max(value, ts), arg_max(unit, ts), max(ts), arg_max(quality, ts)
                    FROM history.observations WHERE ts > ? AND ts <= ? GROUP BY entity_id, metric
                    ON CONFLICT (entity_id, metric) DO UPDATE SET
                        value = excluded.value, unit = excluded.unit, ts = excluded.ts, quality = excluded.quality
                    """,
                    [t, upper],
                )
                records = Decoded(observations=[Observation(*row) for row in rows])
                engine.on_batch(Batch([Envelope("replay", upper, records=records)], len(rows)))
            engine.tick()
            t = upper
        fired = []
        for (rule_id,) in cur.execute("SELECT DISTINCT rule_id FROM alerts ORDER BY rule_id").fetchall():
            first = cur.execute(
                "SELECT first_fired_at, subject_id, title_en FROM alerts WHERE rule_id = ? ORDER BY first_fired_at "
                "LIMIT 3",
                [rule_id],
            ).fetchall()
            count = cur.execute("SELECT count(*) FROM alerts WHERE rule_id = ?", [rule_id]).fetchone()[0]
            fired.append(Fired(rule_id, count, first))
        return fired
    finally:
        memory.close()
