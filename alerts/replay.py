"""`cityops rules test`: replay stored history through a rule file and say what would have fired, writing nothing.

The store file is attached read-only to an in-memory store; its readings and events are fed to a rule engine in time
slices, one batch a slice as the writer would have handed them over, its clock following the data, so `for`, clear,
absence and count rules behave as they would have live. The engine is given the rule file and the regions, so its
alerts are grouped into incidents and held back by inhibitions as they are live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from alerts.clusters import is_count
from alerts.engine import RuleEngine
from alerts.rules import Rule, RuleFile
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from store import history_replay
from store.duckdb_engine import DuckDBStore
from store.records import Decoded
from store.writer import Batch, Envelope


class ReplayError(Exception):
    """The history cannot be read, said for the person at the command line."""


@dataclass
class Fired:
    rule_id: str
    count: int
    first: list[tuple[datetime, str, str]]  # when, subject, title


@dataclass
class Opened:
    """The incidents one group would have opened."""

    group_id: str
    count: int
    members: int  # alerts raised in them
    inhibited: int  # alerts held back in them
    first: list[tuple[datetime, int, str]]  # opened when, members, title


@dataclass
class Backtest:
    start: datetime | None = None  # the period replayed; None when the history is empty
    end: datetime | None = None
    fired: list[Fired] = field(default_factory=list)
    incidents: list[Opened] = field(default_factory=list)
    # Count rules the period holds no events of the kind of: they could not have fired, whatever they say.
    without_events: list[Rule] = field(default_factory=list)


def replay(store_path: Path, book: RuleFile, since: timedelta, step: timedelta = timedelta(minutes=1),
           until: datetime | None = None, regions: RegionIndex | None = None,
           reference: ReferenceLayers | None = None) -> Backtest:  # fmt: skip
    memory = DuckDBStore(":memory:")
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
        end = until or history_replay.last_record_at(cur)
        count_rules = [rule for rule in book.rules if is_count(rule)]
        if end is None:
            return Backtest(without_events=count_rules)
        start = end - since
        history_replay.copy_entities(cur)
        clock = {"now": start}
        engine = RuleEngine(memory, book.rules, clock=lambda: clock["now"], book=book, regions=regions,
                            reference=reference)  # fmt: skip
        kinds: set[tuple[str, str]] = set()  # (domain, type) of the events replayed
        t = start
        while t < end:
            upper = min(t + step, end)
            readings = history_replay.copy_readings(cur, t, upper)
            events = history_replay.copy_events(cur, t, upper)
            kinds.update((e.domain, e.type) for e in events)
            clock["now"] = upper
            if readings or events:
                records = Decoded(observations=readings, events=events)
                engine.on_batch(Batch([Envelope("replay", upper, records=records)], len(records)))
            engine.tick()
            t = upper
        return Backtest(
            start=start,
            end=end,
            fired=[Fired(*fired) for fired in history_replay.alerts_by_rule(cur)],
            incidents=[Opened(*opened) for opened in history_replay.incidents_by_group(cur)],
            without_events=[rule for rule in count_rules if not any(_of_kind(rule, kind) for kind in kinds)],
        )
    finally:
        memory.close()


def _of_kind(rule: Rule, kind: tuple[str, str]) -> bool:
    """Whether events of this (domain, type) are the ones a count rule counts."""
    c = rule.when.count
    domain, event_type = kind
    return (c.event_type is None or c.event_type == event_type) and (c.domain is None or c.domain == domain)


def event_kind(rule: Rule) -> str:
    """The events a count rule counts, in words: "hotspot", "fire/hotspot", "fire" or "any"."""
    c = rule.when.count
    return "/".join(part for part in (c.domain, c.event_type) if part) or "any"
