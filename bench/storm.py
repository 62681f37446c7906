"""Storm: one batch that opens 5,000 alerts into incidents (target ≤ 1 s), and the ingest waiting behind it (held
≤ 1 s), against the one-at-a-time path that opened alerts before incidents did (issue 20).

5,000 devices of five kinds are described in the demo city's districts, at real places inside them, through the
real writer into a DuckDB file. A rule file of five rules with `groups` (a storm per district that waterlogging,
congestion and rivers join, crowding per district) drives a RuleEngine made as `cityops run` makes it (`book=`,
`regions=`), a listener of the writer. One quiet batch (every device below its threshold) lets the engine read the
entity table; then ONE batch of 5,000 readings in which every device crosses its threshold. The figure is that
batch's RuleEngine.on_batch, timed inside the listener: 5,000 alerts evaluated, placed in incidents and written.

Right behind the storm, the next batches (5,000 readings each: the storm goes on, every device stays above its
threshold, so no alert opens or clears) are put on the writer's queue; each carries an acknowledgement, which the
writer calls once its batch is committed. A batch's hold is from its put to that call.

The baseline is the path every alert took before 0fdfea2, copied here (`one_at_a_time`): per alert the open-alert
query, INSERT … RETURNING id and the timeline INSERT, in one transaction, for the same 5,000 alerts (same rules,
subjects, values), over a fresh store with the same data, run as the writer's listener on the same storm batch.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely

from alerts.engine import RuleEngine
from alerts.rule_alerts import severity_for, texts
from alerts.rules import Rule, parse_rule_file
from alerts.subjects import Subject, Subjects
from cityops import DEMO_DIR, config
from layers.regions import RegionIndex
from store import alerts as alert_store
from store.database import Store
from store.duckdb_engine import DuckDBStore
from store.records import Decoded, Entity, Observation
from store.transaction import transaction
from store.writer import Batch, Envelope, Writer

FEED = "storm"
# The next batches arrive this often: 5,000 readings a second, a busy city's whole stream.
GAP_S = 1.0
# kind → (metric, a quiet value, a storm value): the storm's values cross each rule's threshold below.
KINDS = {
    "rain_gauge": ("rain_1h", 5.0, 65.0),
    "waterlogging_sensor": ("depth", 0.0, 20.0),
    "road_segment": ("congestion_index", 3.0, 8.5),
    "river_gauge": ("water_level", 20.0, 22.0),
    "camera": ("people", 50.0, 900.0),
}
RULES = """
rules:
  - id: rainstorm
    domain: flood
    select: {kind: rain_gauge}
    when: {threshold: {metric: rain_1h, above: 50}}
    severity: orange
    step_up: [{above: 80, severity: red}]
    title: {zh_CN: "{name} 短时强降雨", en: "{name}: intense rainfall"}
    message: {zh_CN: "1 小时雨量 {value} 毫米", en: "{value} mm in one hour"}
    unit: emergency_management
  - id: road-waterlogging
    domain: flood
    select: {kind: waterlogging_sensor}
    when: {threshold: {metric: depth, above: 15}}
    severity: yellow
    step_up: [{above: 27, severity: orange}]
    title: {zh_CN: "{name} 道路积水", en: "{name}: road waterlogged"}
    message: {zh_CN: "积水深度 {value} 厘米", en: "Water {value} cm deep"}
    unit: urban_management
  - id: severe-congestion
    domain: traffic
    select: {kind: road_segment}
    when: {threshold: {metric: congestion_index, above: 8}}
    severity: yellow
    title: {zh_CN: "{name} 严重拥堵", en: "{name}: severe congestion"}
    message: {zh_CN: "拥堵指数 {value}", en: "Congestion index {value}"}
    unit: traffic_police
  - id: river-over-warning
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: water_level, above: attr.warning_level}}
    severity: yellow
    step_up: [{above: attr.guaranteed_level, severity: red}]
    title: {zh_CN: "{name} 超警戒水位", en: "{name} above warning level"}
    message: {zh_CN: "水位 {value} 米，警戒水位 {warning_level} 米", en: "Level {value} m; warning {warning_level} m"}
    unit: water_authority
  - id: crowding
    domain: security
    select: {kind: camera}
    when: {threshold: {metric: people, above: attr.capacity}}
    severity: orange
    title: {zh_CN: "{name} 人员聚集", en: "{name}: crowd gathering"}
    message: {zh_CN: "约 {value} 人，容量 {capacity} 人", en: "About {value} people; capacity {capacity}"}
    unit: public_security
groups:
  - id: rainstorm
    title: {zh_CN: "{region}暴雨内涝", en: "Rainstorm and waterlogging in {region}"}
    rules: [rainstorm]
    joins: [road-waterlogging, severe-congestion, river-over-warning]
    by: district
    window: 2h
  - id: river
    title: {zh_CN: "{region}河道超警戒水位", en: "Rivers above warning level in {region}"}
    rules: [river-over-warning]
    by: district
  - id: crowding
    title: {zh_CN: "{region}人员聚集", en: "Crowds gathering in {region}"}
    rules: [crowding]
    by: district
"""


@dataclass
class Storm:
    """What one storm did to a store: the storm batch's time in the writer's listener; each next batch's hold
    (put to commit) and its own time in the listener."""

    storm_s: float
    holds: list[float]
    next_s: list[float]
    alerts: int = 0
    incidents: int = 0


def devices(count: int, regions: RegionIndex, rng: random.Random) -> list[Entity]:
    """`count` devices of the five kinds, spread evenly over the districts, each at a random place inside its own."""
    districts = regions.level("district")
    lons, lats = [], []
    for i in range(count):
        shape = districts[i % len(districts)].geometry
        west, south, east, north = shape.bounds
        while True:
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            if shapely.contains_xy(shape, lon, lat):
                break
        lons.append(lon)
        lats.append(lat)
    where = regions.locate_many(lons, lats)
    kinds = list(KINDS)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        attributes = {"rain_gauge": {}, "waterlogging_sensor": {}, "road_segment": {}, "camera": {"capacity": 800},
                      "river_gauge": {"warning_level": 21.0, "guaranteed_level": 23.0}}[kind]  # fmt: skip
        out.append(Entity(f"{FEED}:d{i}", FEED, "flood", kind, f"D{i}", lons[i], lats[i], attributes,
                          where["district"][i], where["town"][i], where["grid"][i]))  # fmt: skip
    return out


def readings(entities: list[Entity], values: list[float], ts: datetime, seq: str) -> Decoded:
    """One reading per device, of its kind's metric."""
    out = Decoded()
    for n, (e, value) in enumerate(zip(entities, values, strict=True)):
        out.observations.append(Observation(e.id, KINDS[e.kind][0], value, "", ts + timedelta(microseconds=n), FEED,
                                            f"{seq}-{n}"))  # fmt: skip
    return out


def phase(batch: Batch) -> str:
    """Which of the storm's batches this is: described, quiet, storm or next<k> (its readings' message ids)."""
    observations = batch.records().observations
    return observations[0].msg_id.split("-")[0] if observations else "described"


def storm(store: Store, settings, entities: list[Entity], listener: Callable[[Batch], None], next_batches: int,
          seed: int) -> Storm:  # fmt: skip
    """Describe the devices, send a quiet batch (every device below its threshold), then the storm (every device
    above) and right behind it the next batches (each device reading again what it read in the storm: nothing
    opens, clears or steps up). `listener` is the writer's, as the rule engine is in `cityops run`."""
    rng = random.Random(seed)
    # The writer as configured, except that each message (a batch's readings) is a batch of its own at any size.
    writer = Writer(store, queue_size=settings.store.queue_size, max_delay=settings.store.batch_max_delay_ms / 1000,
                    max_rows=len(entities))  # fmt: skip
    spent: dict[str, float] = {}

    def timed(batch: Batch) -> None:
        began = time.perf_counter()
        listener(batch)
        spent[phase(batch)] = time.perf_counter() - began

    writer.listeners.append(timed)
    writer.start()
    try:
        now = datetime.now(UTC)
        writer.put(Envelope(FEED, now, records=Decoded(entities=entities)))
        quiet = [KINDS[e.kind][1] for e in entities]
        writer.put(Envelope(FEED, now, records=readings(entities, quiet, now, "quiet")))
        writer.flush(timeout=600)
        # A little above each threshold, a fifth of the rain past its step up to red.
        high = [KINDS[e.kind][2] * rng.uniform(1.0, 1.3) for e in entities]
        nexts = [readings(entities, high, now + timedelta(seconds=k + 1), f"next{k}") for k in range(next_batches)]
        put_at, committed_at = [0.0] * next_batches, [0.0] * next_batches
        now = datetime.now(UTC)
        began = time.perf_counter()
        writer.put(Envelope(FEED, now, records=readings(entities, high, now, "storm")))
        for k, records in enumerate(nexts):

            def ack(k: int = k) -> None:  # the writer acknowledges a message once its batch is committed
                committed_at[k] = time.perf_counter()

            # The readings keep coming as a feed sends them: the first right behind the storm, then one every GAP_S.
            time.sleep(max(0.0, began + k * GAP_S - time.perf_counter()))
            put_at[k] = time.perf_counter()
            writer.put(Envelope(FEED, datetime.now(UTC), records=records, ack=ack))
        if not writer.flush(timeout=1800):
            raise RuntimeError("the storm and the batches behind it were not committed within 30 minutes")
    finally:
        writer.stop()
    holds = [c - p for p, c in zip(put_at, committed_at, strict=True)]
    return Storm(spent["storm"], holds, [spent[f"next{k}"] for k in range(next_batches)])


def one_at_a_time(store: Store, opening: list[tuple[Rule, str, float, Subject | None]], now: datetime) -> None:
    """The baseline: how RuleAlerts.fire opened each alert before 0fdfea2 (its removed lines), in the engine's one
    transaction: the open alert of the (rule, subject) looked up, the alert inserted, its timeline entry written."""
    cur = store.cursor()
    with transaction(cur):
        for rule, subject_id, value, subject in opening:
            existing = alert_store.open_alert(cur, rule.id, subject_id)
            if existing is not None:  # fired again instead (none is, in a fresh store)
                continue
            severity = severity_for(rule, rule.severity, value, subject.attributes if subject else {})
            fields = texts(rule, subject_id, value, subject)
            lon, lat, district = (subject.lon, subject.lat, subject.district_id) if subject else (None, None, None)
            alert_id = alert_store.insert(
                cur,
                {
                    "rule_id": rule.id, "subject_id": subject_id, "domain": rule.domain, "severity": severity,
                    "initial_severity": rule.severity, "state": "new", "condition": "active", **fields,
                    "unit_type": rule.unit, "sop": rule.sop, "district_id": district, "lon": lon, "lat": lat,
                    "last_value": value, "first_fired_at": now, "last_fired_at": now, "created_at": now,
                    "updated_at": now,
                },
            )  # fmt: skip
            alert_store.log(cur, alert_id, now, "rules", "fire", None, "new", "",
                            {"value": value, "severity": severity, "metrics": rule.when.metrics()})  # fmt: skip
    store.bump_version("handling")


class Baseline:
    """The writer's listener for the baseline: on the storm batch it opens the alerts the engine opened, one at a
    time; on the others it does nothing. Their subjects are looked up on the quiet batch (the engine too has each
    subject at hand when it fires), so only the opening is timed."""

    def __init__(self, store: Store, rules: list[Rule], opened: list[tuple[str, str, float]]):
        self.store = store
        self.rules = {r.id: r for r in rules}
        self.opened = opened
        self.opening: list[tuple[Rule, str, float, Subject | None]] = []

    def on_batch(self, batch: Batch) -> None:
        if phase(batch) == "quiet":
            subjects = Subjects(self.store)
            rows = subjects.positions(np.asarray([s for _, s, _ in self.opened], dtype=object))
            self.opening = [(self.rules[r], s, v, subjects.at(int(row)))
                            for (r, s, v), row in zip(self.opened, rows, strict=True)]  # fmt: skip
        elif phase(batch) == "storm":
            one_at_a_time(self.store, self.opening, datetime.now(UTC))


def run(alerts: int = 5000, next_batches: int = 5) -> dict:
    settings = config.load(DEMO_DIR / "cityops.toml")
    regions = settings.city.regions()
    book = parse_rule_file(RULES, "bench/storm.py")
    entities = devices(alerts, regions, random.Random(1))
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "ours.duckdb", settings.store.memory_limit_mb)
        try:
            engine = RuleEngine(store, book.rules, book=book, regions=regions)
            ours = storm(store, settings, entities, engine.on_batch, next_batches, seed=2)
            cur = store.cursor()
            opened = cur.execute("SELECT rule_id, subject_id, last_value FROM alerts ORDER BY id").fetchall()
            ours.alerts = len(opened)
            ours.incidents = cur.execute("SELECT count(*) FROM incidents").fetchone()[0]
            groups = dict(cur.execute("SELECT group_id, count(*) FROM incidents GROUP BY ALL").fetchall())
        finally:
            store.close()
        store = DuckDBStore(Path(tmp) / "baseline.duckdb", settings.store.memory_limit_mb)
        try:
            base = storm(store, settings, entities, Baseline(store, book.rules, opened).on_batch, next_batches, 2)
            base.alerts = store.cursor().execute("SELECT count(*) FROM alerts").fetchone()[0]
        finally:
            store.close()
    if ours.alerts != alerts or base.alerts != alerts:
        raise RuntimeError(f"the storm opened {ours.alerts} alerts, the baseline {base.alerts}; {alerts} expected")
    hold, first, base_first = max(ours.holds), ours.holds[0], base.holds[0]
    full = (alerts, next_batches) == (5000, 5)
    within = ours.storm_s <= 1.0 and hold <= 1.0
    districts = len(regions.level("district"))
    placed = ", ".join(f"{n} {g}" for g, n in sorted(groups.items()))
    again = f"{min(ours.next_s):.1f}-{max(ours.next_s):.1f} s"
    stepping = {r.id for r in book.rules if any(up.above is not None or up.below is not None for up in r.step_up)}
    step_alerts = sum(1 for rule_id, _, _ in opened if rule_id in stepping)
    return {
        "name": "Storm: alerts opened into incidents",
        "figure": f"a batch that opens {alerts:,} alerts: {ours.storm_s * 1000:,.0f} ms, into {ours.incidents} "
        f"incidents ({placed}); the next {next_batches} batches held {first:.2f} s (the first) to {hold:.2f} s "
        f"(each of them evaluated in {again}, its {alerts:,} alerts fired again in bulk)",
        "target": "5,000 alerts opened into incidents in one batch ≤ 1 s; the next batches held ≤ 1 s",
        "met": within if full else None,
        "baseline": f"one at a time, 3 statements an alert, no incidents: {base.storm_s:,.1f} s; the first next "
        f"batch held {base_first:.1f} s",
        "ratio": f"{base.storm_s / ours.storm_s:.0f}× faster than the baseline; the first next batch held "
        f"{base_first / first:.0f}× shorter",
        "how": f"{alerts:,} devices of five kinds at random places in the demo city's {districts} districts, "
        "described through the writer into a DuckDB file; 5 rules with groups (a rainstorm per district that "
        "waterlogging, congestion and rivers join, crowding per district; no `for`, three of them with a `step_up`), "
        "the RuleEngine made with the rule file and the regions, the writer's listener. After a quiet batch, one "
        "batch in which every device crosses its threshold: its on_batch timed inside the listener. Right behind it "
        f"{next_batches} batches of {alerts:,} readings, the first right behind the storm, then one a second (a "
        f"stream of {alerts:,} readings a second), each device reading again its storm value (no alert opens, "
        "clears or steps up), each one message whose acknowledgement the writer calls after its commit: hold from "
        "put to that call. Baseline: the path each alert took before 0fdfea2 (RuleAlerts.fire: the open-alert "
        "query, INSERT … RETURNING id, the timeline INSERT), copied in bench/storm.py, for the same alerts over a "
        "fresh store with the same data, in one transaction, as the listener of the same storm batch. It places no "
        "alert in an incident and evaluates no rule, and does nothing on the next batches, so only the first next "
        "batch's hold compares",
        "limits": f"the storm batch is {'within' if ours.storm_s <= 1 else 'over'} its target by "
        f"{abs(1000 - ours.storm_s * 1000):.0f} ms; the batches behind it are {'within' if hold <= 1 else 'over'} "
        f"theirs by up to {abs(hold - 1):.1f} s. In the storm batch (cProfile and timers, 2026-12-03): the subject of "
        "each alert read from the entity table row by row (Subjects.at, a pandas row each) ~340 ms; flush ~175 ms "
        "(placing in incidents ~55, the alerts' and the timeline's inserts ~30 each, the rows built in Python the "
        "rest); evaluation, firing and the commit ~90. Behind it, each device's reading fires its open alert again: "
        "all of them on the first batch, those of rules with a `step_up` on every batch after "
        f"({step_alerts:,} of {alerts:,} here), read in one query and written in one UPDATE at the evaluation's "
        "end (the path before 0fdfea2 took a query and an UPDATE for each, ~3 ms an alert, which held the batches "
        "behind a storm for 9-14 s each). Next: read the subjects of a batch's alerts in one go",
    }


if __name__ == "__main__":
    print(run())
