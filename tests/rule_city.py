"""A store, its writer and a rule engine with a clock the test moves: the rule engine's and the incidents' unit
tests send messages through the real decoder and writer into a real store (a test gives it one of either engine)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts.engine import RuleEngine
from alerts.journal_reader import JournalReader
from alerts.rules import Rule, RuleFile
from feeds.decoders import cityops_json
from feeds.decoding import FeedDecoding
from layers.crs import to_wgs84
from store.database import Store, frame
from store.writer import Writer

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
LIANCHI = (115.4906, 38.8581)
JINGXIU = (115.40, 38.90)


class City:
    """A store, its writer and a rule engine, with a clock the test moves."""

    def __init__(self, store: Store, demo_regions, rules: list[Rule], book: RuleFile | None = None, reference=None,
                 org=None, journal: bool = False):  # fmt: skip
        """`journal`: the engine follows the store's journal, as a leader among several nodes does (PostgreSQL),
        caught up after each send; otherwise it is handed each batch, as the one node of a DuckDB store."""
        self.now = T0
        self.store = store
        self.writer = Writer(self.store, max_delay=0.01)  # each send is committed at once
        self.regions = demo_regions
        self.engine = RuleEngine(self.store, rules, clock=lambda: self.now, book=book, regions=demo_regions,
                                 reference=reference, org=org)  # fmt: skip
        self.journal = JournalReader(self.store, self.engine) if journal else None
        if self.journal is None:
            self.writer.listeners.append(self.engine.on_batch)
        self.writer.start()
        self.feed = FeedDecoding("f", cityops_json.decode, to_wgs84("wgs84"))
        self.seq = 0

    def send(self, *items: dict) -> None:
        for item in items:
            self.seq += 1
            item = {"ts": self.now.isoformat(), "id": f"m{self.seq}", **item}
            env = self.feed.envelope("t", json.dumps(item).encode(), self.now, self.regions)
            assert env.dead_letter is None, env.dead_letter
            self.writer.put(env)
        assert self.writer.flush()
        if self.journal is not None:
            self.journal.catch_up()

    def entity(self, eid: str, where=LIANCHI, kind="river_gauge", **attributes) -> None:
        self.send(
            {
                "type": "entity",
                "id": eid,
                "domain": "flood",
                "kind": kind,
                "name": eid.upper(),
                "lon": where[0],
                "lat": where[1],
                "attributes": attributes,
            }
        )

    def value(self, eid: str, **values) -> None:
        self.send({"type": "observation", "entity": eid, "values": values})

    def at(self, **delta) -> City:
        self.now = self.now + timedelta(**delta)
        return self

    def tick(self, **delta) -> None:
        self.at(**delta)
        self.engine.tick()

    def alerts(self) -> list[dict]:
        return frame(
            self.store.cursor(),
            "SELECT id, rule_id, subject_id, severity, state, condition, fire_count, title_en, last_value "
            "FROM alerts ORDER BY id",
        ).to_dict("records")

    def timeline(self, alert_id: int) -> list[str]:
        rows = self.store.cursor().execute("SELECT action FROM alert_log WHERE alert_id = ? ORDER BY id", [alert_id])
        return [r[0] for r in rows.fetchall()]

    def close(self):
        self.writer.stop()
        self.store.close()
