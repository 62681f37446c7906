"""The rule engine: turns what the store holds into alerts.

Per (rule, subject) it keeps a small state, like Prometheus: nothing → pending (the condition holds, `for` has not
passed) → firing (an alert is open) → clearing (the clear condition holds, `clear_for` has not passed) → nothing.
Value rules are evaluated for the subjects of each committed batch (the writer calls `on_batch`); time (pending
durations, clearing, absence, `unhandled_for`) moves on in `tick`, which the scheduler calls. The clock is
injectable, so tests run hours of rule time in milliseconds. One open alert per (rule, subject): firing again
updates it. The state lives in the store (rule_state), so a restart resumes where it was.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from shapely.geometry import Polygon

from alerts.instances import INACTIVE, Effect, Instance, Phase, Reading, from_stored, reading, step, stored
from alerts.rules import Condition, Rule
from layers.regions import RegionIndex
from store import alerts as alert_store
from store.database import Store, frame
from store.records import severity_rank
from store.writer import Batch

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Subject:
    id: str
    name: str
    domain: str
    kind: str
    feed_id: str
    lon: float | None
    lat: float | None
    district_id: str | None
    town_id: str | None
    grid_id: str | None
    first_seen: datetime
    attributes: dict[str, Any]


@dataclass
class Frame:
    """What the store says of some subjects now, as arrays aligned with `ids`."""

    ids: np.ndarray  # entity ids (objects)
    pos: np.ndarray  # each id's row in the entity table
    values: dict[str, np.ndarray]  # metric → latest value (NaN where none)
    last_seen: np.ndarray  # seconds since the epoch of the latest report (NaN: never)
    rates: dict[str, np.ndarray]  # metric → change per hour over the rule's window (NaN: not enough data)
    row_of: dict[str, int]  # entity id → its place in `ids`

    def column(self, metric: str, rows: np.ndarray) -> np.ndarray:
        values = self.values.get(metric)
        return values[rows] if values is not None else np.full(len(rows), np.nan)


class RuleEngine:
    def __init__(self, store: Store, rules: list[Rule], regions: RegionIndex | None = None, clock: Clock = utc_now):
        self.store = store
        self.regions = regions
        self.clock = clock
        self._lock = threading.Lock()
        self._zones: dict[str, Polygon] = {}
        self.rules: list[Rule] = []
        self.set_rules(rules)
        self._states: dict[tuple[str, str], Instance] = {}  # every instance that is not inactive
        self._persisted: dict[tuple[str, str], tuple] = {}  # the clocks of each as the store has them
        self._by_rule: dict[str, set[str]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._load_states()
        self._changed = False  # an alert was written in the current transaction
        self._entities: dict[int, Subject] = {}  # by row of the entity table
        self._table: pd.DataFrame | None = None
        self._table_row: dict[str, int] = {}
        self._descriptions: dict[str, tuple] = {}  # each entity as the table has it, in DESCRIBED order
        self._applicable_cache: dict[str, np.ndarray] = {}
        self._attribute_cache: dict[str, np.ndarray] = {}
        self._first_seen = np.array([np.nan])
        self._alert_touched: dict[tuple[str, str], datetime] = {}
        # Where each followed cluster of a count rule started; after a restart, from its open alert.
        self._cluster_places: dict[tuple[str, str], tuple[float, float]] = {
            (a["rule_id"], a["subject_id"]): (a["lon"], a["lat"])
            for a in alert_store.open_alerts(store.cursor())
            if a["lon"] is not None and (a["rule_id"], a["subject_id"]) in self._states
        }

    # -- configuration ----------------------------------------------------------------------------------------
    def set_rules(self, rules: list[Rule]) -> None:
        """Swap the rules (on reload); open alerts and pending states of rules that remain are kept."""
        with self._lock:
            self.rules = list(rules)
            self._zones = {
                r.id: Polygon(r.zone.polygon) for r in self.rules if r.zone is not None and r.zone.polygon is not None
            }
            self._applicable_cache = {}

    # -- entry points -----------------------------------------------------------------------------------------
    def on_batch(self, batch: Batch) -> None:
        records = batch.records()
        touched = {o.entity_id for o in records.observations} | {e.id for e in records.entities}
        with self._lock, self._transaction():
            now = self.clock()
            if records.entities and self._described_anew(records.entities):
                self._table = None  # a place, kind or threshold changed: the selections are made again
            value_rules = [r for r in self.rules if r.subject == "entity" and "count" not in r.when.kinds()]
            if len(touched) and value_rules:
                frame = self._frame(touched, value_rules, now)
                for rule in value_rules:
                    self._evaluate(rule, np.flatnonzero(self._applicable(rule)[frame.pos]), frame, now)
            if records.events:
                for rule in self.rules:
                    if "count" in rule.when.kinds():
                        self._evaluate_counts(rule, records.events, now)

    def tick(self) -> None:
        """Let time pass: pending and clearing durations, absence, alerts left unhandled too long."""
        with self._lock, self._transaction(persist=True):
            now = self.clock()
            for rule in self.rules:
                if rule.subject == "feed":
                    self._evaluate_feeds(rule, now)
                elif "count" in rule.when.kinds():
                    self._recount(rule, now)
                elif "absent" in rule.when.kinds() or (rule.clear and "absent" in rule.clear.kinds()):
                    ids = self._entity_table().index[self._applicable(rule)[:-1]].tolist()
                    frame = self._frame(ids, [rule], now)
                    self._evaluate(rule, np.arange(len(ids)), frame, now)
                else:
                    # Only clocks move here: pending and clearing states. Firing subjects are re-evaluated when
                    # their data arrives.
                    waiting = [
                        s for s in self._by_rule.get(rule.id, ())
                        if self._states[(rule.id, s)].phase in (Phase.PENDING, Phase.CLEARING)
                    ]  # fmt: skip
                    if len(waiting):
                        self._evaluate(rule, np.arange(len(waiting)), self._frame(waiting, [rule], now), now)
            self._escalate_unhandled(now)

    @contextlib.contextmanager
    def _transaction(self, persist: bool = False):
        """One transaction for all an evaluation writes (one commit, not one per alert). If it fails, memory is
        put back to what the store holds, so the two never disagree.

        Rule states are written with `persist` (the scheduler's tick, every few seconds), not on every batch:
        after a crash a pending state resumes a few seconds late, and a firing one finds its open alert again."""
        cur = self.store.cursor()
        cur.execute("BEGIN")
        try:
            yield
            if persist:
                self._persist()
            cur.execute("COMMIT")
        except BaseException:
            self._changed = False
            cur.execute("ROLLBACK")
            self._load_states()
            self._alert_touched.clear()
            raise
        if self._changed:  # readers learn of it only once it is committed
            self._changed = False
            self.store.bump_version()

    def _load_states(self) -> None:
        """The instances as the store holds them (at start, and after a rollback)."""
        self._states = {key: from_stored(row) for key, row in alert_store.rule_states(self.store.cursor()).items()}
        self._persisted = {key: state.clocks() for key, state in self._states.items()}
        self._by_rule = {}
        for rule_id, subject_id in self._states:
            self._by_rule.setdefault(rule_id, set()).add(subject_id)
        self._dirty.clear()

    # -- subjects ---------------------------------------------------------------------------------------------
    def _subject_at(self, row: int) -> Subject | None:
        """The description of the entity at `row` of the entity table (kept until entities change)."""
        table = self._entity_table()
        if row >= len(table):
            return None
        subject = self._entities.get(row)
        if subject is None:
            r = table.iloc[row]
            subject = Subject(
                table.index[row], r["name"], r["domain"], r["kind"], r["feed_id"], _num(r["lon"]), _num(r["lat"]),
                _text(r["district_id"]), _text(r["town_id"]), _text(r["grid_id"]), r["first_seen"], r["attributes"],
            )  # fmt: skip
            self._entities[row] = subject
        return subject

    def _entity_table(self) -> pd.DataFrame:
        """All entities as one frame (rebuilt when an entity is described again), for vectorised selection."""
        if self._table is None:
            table = frame(
                self.store.cursor(),
                "SELECT id, name, domain, kind, feed_id, district_id, town_id, grid_id, lon, lat, first_seen, "
                "attributes FROM entities ORDER BY id",
            )
            table["attributes"] = [json.loads(a) if a else {} for a in table["attributes"]]
            self._descriptions = {
                row[0]: (*(None if pd.isna(v) else v for v in row[1:-1]), row[-1])
                for row in table[["id", *DESCRIBED]].itertuples(index=False, name=None)
            }
            self._table = table.set_index("id")
            self._table_row = {entity_id: i for i, entity_id in enumerate(self._table.index)}
            self._entities = {}
            self._applicable_cache = {}
            self._attribute_cache = {}
            # When each entity was registered, in epoch seconds (last slot: "not in the table").
            seconds = self._table["first_seen"].astype("int64").to_numpy() / 1e6
            self._first_seen = np.append(seconds, np.nan)
        return self._table

    def _described_anew(self, entities) -> bool:
        """Whether any of these descriptions is of a new entity or differs from the entity table's. Feeds that
        describe a device with every message (NGSI does) must not have a city's table rebuilt on every batch: at
        100,000 entities that took a third of a second."""
        if self._table is None:
            return True
        for e in entities:
            described = (e.name, e.domain, e.kind, e.feed_id, e.district_id, e.town_id, e.grid_id, e.lon, e.lat,
                         e.attributes)  # fmt: skip
            if self._descriptions.get(e.id) != described:
                return True
        return False

    def _applicable(self, rule: Rule) -> np.ndarray:
        """Which rows of the entity table `rule` watches (by its select and zone), cached until entities change."""
        table = self._entity_table()
        cached = self._applicable_cache.get(rule.id)
        if cached is not None:
            return cached
        mask = np.ones(len(table) + 1, dtype=bool)  # the extra last row stands for "not in the table"
        mask[-1] = False
        rows = mask[:-1]
        sel = rule.select
        if sel.domain:
            rows &= (table["domain"] == sel.domain).to_numpy()
        if sel.kind:
            rows &= table["kind"].isin([sel.kind] if isinstance(sel.kind, str) else sel.kind).to_numpy()
        if sel.feed:
            rows &= (table["feed_id"] == sel.feed).to_numpy()
        if sel.district:
            rows &= (table["district_id"] == sel.district).to_numpy()
        if rule.zone is not None:
            if rule.zone.region is not None:
                region = rule.zone.region
                rows &= ((table["district_id"] == region) | (table["town_id"] == region)
                         | (table["grid_id"] == region)).to_numpy()  # fmt: skip
            else:
                lon, lat = table["lon"].to_numpy(float), table["lat"].to_numpy(float)
                inside = shapely.contains_xy(self._zones[rule.id], np.nan_to_num(lon), np.nan_to_num(lat))
                rows &= inside & ~np.isnan(lon)
        self._applicable_cache[rule.id] = mask
        return mask

    def _attribute(self, name: str) -> np.ndarray:
        """A numeric entity attribute for every table row (NaN where missing or not a number; last slot NaN)."""
        table = self._entity_table()
        if name not in self._attribute_cache:
            values = [a.get(name) for a in table["attributes"]]
            numbers = [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan for v in values]
            self._attribute_cache[name] = np.array([*numbers, np.nan], dtype=float)
        return self._attribute_cache[name]

    def _frame(self, ids, rules: list[Rule], now: datetime) -> Frame:
        """The latest data of `ids` as arrays in the order of `ids` (and rates where rules need them)."""
        ids = np.asarray(list(ids), dtype=object)
        row_of = {entity_id: i for i, entity_id in enumerate(ids)}
        self._entity_table()
        missing = len(self._table)  # unknown entities point at the table's empty last slot
        pos = np.fromiter((self._table_row.get(i, missing) for i in ids), dtype=np.int64, count=len(ids))
        cur = self.store.cursor()
        cur.complete()
        # The ids go in as a registered Arrow table: binding thousands of strings as a parameter costs more.
        cur.register("frame_ids", pa.table({"entity_id": pa.array(ids.tolist(), pa.string())}))
        try:
            latest = cur.sql(
                "SELECT entity_id, metric, value, epoch_us(ts) AS us FROM latest SEMI JOIN frame_ids USING (entity_id)"
            ).to_arrow_table()
            rate_tables = {}
            for cond in _walk(*(c for r in rules for c in (r.when, r.clear))):
                if cond.rate is None or cond.rate.metric in rate_tables:
                    continue
                rate_tables[cond.rate.metric] = (cond.rate, cur.sql(
                    "SELECT entity_id, arg_min(value, ts) AS first, arg_max(value, ts) AS last, "
                    "(epoch_us(max(ts)) - epoch_us(min(ts))) / 3.6e9 AS hours FROM observations "
                    "SEMI JOIN frame_ids USING (entity_id) "
                    "WHERE metric = $metric AND ts >= $since AND value IS NOT NULL GROUP BY entity_id",
                    params={"metric": cond.rate.metric, "since": now - cond.rate.window},
                ).to_arrow_table())  # fmt: skip
        finally:
            cur.unregister("frame_ids")
        rows = np.fromiter((row_of[e] for e in latest.column("entity_id").to_pylist()), np.int64, latest.num_rows)
        metrics = np.asarray(latest.column("metric").to_pylist(), dtype=object)
        numbers = latest.column("value").to_numpy(zero_copy_only=False).astype(float)
        values: dict[str, np.ndarray] = {}
        for metric in set(metrics.tolist()):
            column = np.full(len(ids), np.nan)
            mask = metrics == metric
            column[rows[mask]] = numbers[mask]
            values[metric] = column
        last_seen = np.full(len(ids), np.nan)
        np.fmax.at(last_seen, rows, latest.column("us").to_numpy(zero_copy_only=False).astype(float) / 1e6)
        rates: dict[str, np.ndarray] = {}
        for metric, (rate, table) in rate_tables.items():
            hours = table.column("hours").to_numpy(zero_copy_only=False).astype(float)
            change = (table.column("last").to_numpy(zero_copy_only=False).astype(float)
                      - table.column("first").to_numpy(zero_copy_only=False).astype(float))  # fmt: skip
            # Less than a twentieth of the window says nothing about a rate.
            enough = hours >= rate.window.total_seconds() / 3600 / 20
            column = np.full(len(ids), np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                at = np.fromiter((row_of[e] for e in table.column("entity_id").to_pylist()), np.int64, table.num_rows)
                column[at] = np.where(enough, change / hours, np.nan)
            rates[metric] = column
        return Frame(ids, pos, values, last_seen, rates, row_of)

    def _evaluate(self, rule: Rule, rows: np.ndarray, frame: Frame, now: datetime) -> None:
        """Evaluate `rule` for the subjects at `rows` of the frame."""
        if not len(rows):
            return
        holds, value = self._holds(rule.when, rows, frame, now)
        # Python only for the subjects that matter: the condition holds, or the subject has a state already.
        attention = holds == 1
        known = self._by_rule.get(rule.id)
        if known:
            followed = np.zeros(len(frame.ids), dtype=bool)
            followed[[frame.row_of[k] for k in known if k in frame.row_of]] = True
            attention |= followed[rows]
        attention = np.flatnonzero(attention)
        if not len(attention):
            return
        rows, holds, value = rows[attention], holds[attention], value[attention]
        clears = self._holds(rule.clear, rows, frame, now)[0] == 1 if rule.clear is not None else holds == 0
        for i, row in enumerate(rows):
            h = None if np.isnan(holds[i]) else bool(holds[i])
            v = None if np.isnan(value[i]) else float(value[i])
            self._advance(rule, frame.ids[row], reading(h, bool(clears[i])), v, now, int(frame.pos[row]))

    def _holds(self, cond: Condition, rows: np.ndarray, frame: Frame, now: datetime) -> tuple[np.ndarray, np.ndarray]:
        """Per subject: 1 (holds), 0 (does not) or NaN (the data to decide is missing); and the deciding value."""
        n = len(rows)
        if cond.threshold is not None:
            t = cond.threshold
            ref = t.above if t.above is not None else t.below
            values = frame.column(t.metric, rows)
            unknown = np.isnan(values)
            if ref.attr:
                limit = self._attribute(ref.attr)[frame.pos[rows]] + ref.value
                unknown |= np.isnan(limit)
            else:
                limit = ref.value
            with np.errstate(invalid="ignore"):
                hit = values >= limit if t.above is not None else values <= limit
            result = hit.astype(float)
            result[unknown] = np.nan
            return result, values
        if cond.rate is not None:
            r = cond.rate
            rates = frame.rates[r.metric][rows]
            hit = rates >= r.rise_per_hour if r.rise_per_hour else -rates >= r.fall_per_hour
            return np.where(np.isnan(rates), np.nan, hit.astype(float)), rates
        if cond.absent is not None:
            # A device that never reported is silent since it was registered.
            seen = frame.last_seen[rows]
            first_seen = self._first_seen[frame.pos[rows]]  # the frame was built on the current table
            seen = np.where(np.isnan(seen), first_seen, seen)
            silent = now.timestamp() - seen >= cond.absent.total_seconds()
            return np.where(np.isnan(seen), np.nan, silent.astype(float)), np.full(n, np.nan)
        parts = [self._holds(c, rows, frame, now) for c in (cond.all or cond.any)]
        results = np.vstack([p[0] for p in parts])
        value = np.full(n, np.nan)
        for _, v in parts:
            value = np.where(np.isnan(value), v, value)
        if cond.all is not None:
            combined = np.where((results == 0).any(axis=0), 0.0, np.where((results == 1).all(axis=0), 1.0, np.nan))
        else:
            combined = np.where((results == 1).any(axis=0), 1.0, np.where((results == 0).all(axis=0), 0.0, np.nan))
        return combined, value

    def _advance(self, rule: Rule, subject_id: str, read: Reading, value: float | None, now: datetime,
                 row: int | None = None, where=None) -> None:  # fmt: skip
        """Move one (rule, subject) along and apply the effect to its alert; `row` is its entity's row in the
        entity table (None: not an entity), `where` the place of a cluster."""
        key = (rule.id, subject_id)
        before = self._states.get(key, INACTIVE)
        after, effect = step(before, read, now, value, for_=rule.for_, clear_for=rule.clear_for)
        if effect is Effect.FIRE:
            self._fire(rule, subject_id, value, now, self._subject_at(row) if row is not None else None, where)
        elif effect is Effect.REFIRE:
            self._refire(rule, subject_id, value, now)
        elif effect is Effect.CLEAR:
            self._clear(rule, subject_id, now)
        if after is not before:
            self._save(key, after)

    def _save(self, key: tuple[str, str], state: Instance) -> None:
        """Keep the instance in memory; `_persist` writes the ones whose phase or clocks changed, in one go."""
        if state.phase is Phase.INACTIVE:
            self._states.pop(key, None)
            self._by_rule.get(key[0], set()).discard(key[1])
            self._alert_touched.pop(key, None)
            if key in self._persisted:
                self._dirty.add(key)
            return
        self._states[key] = state
        self._by_rule.setdefault(key[0], set()).add(key[1])
        if self._persisted.get(key) != state.clocks():
            self._dirty.add(key)

    def _persist(self) -> None:
        if not self._dirty:
            return
        changed = {key: self._states.get(key) for key in self._dirty}
        alert_store.save_rule_states(self.store.cursor(), {k: s and stored(s) for k, s in changed.items()})
        for key, state in changed.items():
            if state is None:
                self._persisted.pop(key, None)
            else:
                self._persisted[key] = state.clocks()
        self._dirty.clear()

    # -- alerts -----------------------------------------------------------------------------------------------
    def _fire(self, rule: Rule, subject_id: str, value, now: datetime, subject: Subject | None, where) -> None:
        cur = self.store.cursor()
        existing = alert_store.open_alert(cur, rule.id, subject_id)
        if existing is not None:  # still open from before (cleared meanwhile, or restarted): one alert per subject
            self._refire(rule, subject_id, value, now, existing)
            return
        severity = _severity_for(rule, rule.severity, value, subject)
        fields = _texts(rule, subject_id, value, subject)
        lon, lat, district = (subject.lon, subject.lat, subject.district_id) if subject else (None, None, None)
        if where is not None:
            lon, lat, district = where
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
        self._changed = True

    def _refire(self, rule: Rule, subject_id: str, value, now: datetime, alert: dict | None = None) -> None:
        key = (rule.id, subject_id)
        touched = self._alert_touched.get(key)
        may_step_up = any(s.above is not None or s.below is not None for s in rule.step_up)
        if alert is None and not may_step_up and touched is not None and now - touched < REFRESH_FIRING:
            return  # nothing new to say: the alert's last value is refreshed at most once a minute
        cur = self.store.cursor()
        alert = alert or alert_store.open_alert(cur, rule.id, subject_id)
        if alert is None:
            return
        self._alert_touched[key] = now
        fields: dict[str, Any] = {"last_value": value, "last_fired_at": now, "updated_at": now}
        if alert["condition"] == "cleared":
            fields.update(condition="active", cleared_at=None, fire_count=int(alert["fire_count"]) + 1)
            alert_store.log(cur, alert["id"], now, "rules", "refire", alert["state"], alert["state"], "",
                            {"value": value})  # fmt: skip
        higher = _severity_for(rule, alert["severity"], value, None, attributes=self._attributes(subject_id))
        if higher != alert["severity"]:
            fields["severity"] = higher
            alert_store.log(cur, alert["id"], now, "rules", "escalate", alert["state"], alert["state"],
                            "threshold crossed", {"severity": higher, "value": value})  # fmt: skip
        alert_store.update(cur, alert["id"], fields)
        self._changed = True

    def _clear(self, rule: Rule, subject_id: str, now: datetime) -> None:
        cur = self.store.cursor()
        alert = alert_store.open_alert(cur, rule.id, subject_id)
        if alert is None or alert["condition"] == "cleared":
            return
        alert_store.update(cur, alert["id"], {"condition": "cleared", "cleared_at": now, "updated_at": now})
        alert_store.log(cur, alert["id"], now, "rules", "clear", alert["state"], alert["state"])
        self._changed = True

    def _attributes(self, subject_id: str) -> dict[str, Any]:
        table = self._entity_table()
        return table["attributes"].iloc[table.index.get_loc(subject_id)] if subject_id in table.index else {}

    def _escalate_unhandled(self, now: datetime) -> None:
        rules = {r.id: r for r in self.rules if any(s.unhandled_for for s in r.step_up)}
        if not rules:
            return
        cur = self.store.cursor()
        for alert in alert_store.open_alerts(cur):
            rule = rules.get(alert["rule_id"])
            if rule is None or alert["state"] != "new":
                continue
            age = now - alert["created_at"]
            for up in rule.step_up:
                if up.unhandled_for and age >= up.unhandled_for and _higher(up.severity, alert["severity"]):
                    alert_store.update(cur, alert["id"], {"severity": up.severity, "updated_at": now})
                    alert_store.log(cur, alert["id"], now, "rules", "escalate", "new", "new",
                                    f"unhandled for {up.unhandled_for}", {"severity": up.severity})  # fmt: skip
                    alert["severity"] = up.severity
                    self._changed = True

    # -- feeds and counts -------------------------------------------------------------------------------------
    def _evaluate_feeds(self, rule: Rule, now: datetime) -> None:
        limit = rule.when.absent
        for feed_id, last in self.store.cursor().execute("SELECT feed_id, last_message_at FROM feed_status").fetchall():
            if rule.select.feed and feed_id != rule.select.feed:
                continue
            silent = last is None or now - last >= limit
            self._advance(rule, feed_id, Reading.HOLDS if silent else Reading.CLEARS, None, now)

    def _count_near(self, rule: Rule, lon: float, lat: float, now: datetime) -> int:
        c = rule.when.count
        return self.store.cursor().execute(
            """
            SELECT count(*) FROM events
            WHERE ts >= $since AND ($type IS NULL OR type = $type) AND ($domain IS NULL OR domain = $domain)
              AND lon IS NOT NULL
              AND 2 * 6371 * asin(sqrt(pow(sin(radians(lat - $lat) / 2), 2)
                  + cos(radians($lat)) * cos(radians(lat)) * pow(sin(radians(lon - $lon) / 2), 2))) <= $km
            """,
            {"since": now - c.window, "type": c.event_type, "domain": c.domain, "lat": lat, "lon": lon,
             "km": c.within_km},
        ).fetchone()[0]  # fmt: skip

    def _evaluate_counts(self, rule: Rule, events, now: datetime) -> None:
        c = rule.when.count
        for e in events:
            if e.lon is None or (c.event_type and e.type != c.event_type) or (c.domain and e.domain != c.domain):
                continue
            if rule.zone is not None and not self._event_in_zone(rule, e):
                continue
            n = self._count_near(rule, e.lon, e.lat, now)
            if n < c.min:
                continue
            # The subject is the cluster: an event near a cluster this rule already follows joins it, whatever
            # district border lies between them.
            subject = next(
                (s for (r, s), place in self._cluster_places.items()
                 if r == rule.id and _km(place, (e.lon, e.lat)) <= c.within_km),
                f"{e.district_id or 'outside'}:{e.id}",
            )  # fmt: skip
            self._cluster_places.setdefault((rule.id, subject), (e.lon, e.lat))
            self._advance(rule, subject, Reading.HOLDS, float(n), now, where=(e.lon, e.lat, e.district_id))

    def _recount(self, rule: Rule, now: datetime) -> None:
        """A cluster's alert clears when the events near where it started fall below the count."""
        c = rule.when.count
        for (rule_id, subject), _state in list(self._states.items()):
            place = self._cluster_places.get((rule_id, subject))
            if rule_id != rule.id or place is None:
                continue
            n = self._count_near(rule, place[0], place[1], now)
            self._advance(rule, subject, Reading.HOLDS if n >= c.min else Reading.CLEARS, float(n), now)
            if (rule_id, subject) not in self._states:
                self._cluster_places.pop((rule_id, subject), None)

    def _event_in_zone(self, rule: Rule, e) -> bool:
        if rule.zone.region is not None:
            return rule.zone.region in (e.district_id, e.town_id, e.grid_id)
        return bool(shapely.contains_xy(self._zones[rule.id], e.lon, e.lat))


# -- pure helpers ---------------------------------------------------------------------------------------------
REFRESH_FIRING = timedelta(minutes=1)


# The entity table's columns that a description sets, in the order of _described_anew's comparison.
DESCRIBED = ("name", "domain", "kind", "feed_id", "district_id", "town_id", "grid_id", "lon", "lat", "attributes")


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def _walk(*conditions: Condition | None) -> Iterable[Condition]:
    for cond in conditions:
        if cond is None:
            continue
        yield cond
        yield from _walk(*(cond.all or cond.any or []))


def _higher(a: str, b: str) -> bool:
    return severity_rank(a) < severity_rank(b)


def _severity_for(rule: Rule, current: str, value, subject: Subject | None, attributes=None) -> str:
    """The severity after value steps: the highest of `current` and every step whose threshold is crossed."""
    attributes = attributes if attributes is not None else (subject.attributes if subject else {})
    best = current
    if value is None:
        return best
    for up in rule.step_up:
        ref = up.above if up.above is not None else up.below
        if ref is None:
            continue
        limit = ref.resolve(attributes)
        if limit is None:
            continue
        crossed = value >= limit if up.above is not None else value <= limit
        if crossed and _higher(up.severity, best):
            best = up.severity
    return best


class _Template(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _texts(rule: Rule, subject_id: str, value, subject: Subject | None) -> dict[str, str]:
    values = _Template(subject.attributes if subject else {})
    values.update(
        id=subject_id,
        name=subject.name if subject else subject_id,
        value="" if value is None else (f"{value:.2f}".rstrip("0").rstrip(".")),
    )
    return {
        "title_zh": rule.title.zh_CN.format_map(values),
        "title_en": rule.title.en.format_map(values),
        "message_zh": rule.message.zh_CN.format_map(values),
        "message_en": rule.message.en.format_map(values),
    }
