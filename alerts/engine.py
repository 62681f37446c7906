"""The rule engine: turns what the store holds into alerts.

The writer hands it each committed batch (`on_batch`): value rules are evaluated for the entities the batch
touched, count rules for its events, warning rules follow its official warnings (alerts/warnings.py). The
scheduler calls `tick`: time moves pending and clearing instances on, absence and silent feeds are judged, clusters
counted again, alerts left unhandled stepped up, expired warnings cleared. The clock is injectable, so tests run
hours of rule time in milliseconds.

Read the house in this order: alerts/instances.py (where one (rule, subject) stands, and the pure step that moves
it), alerts/subjects.py (what a rule watches), alerts/conditions.py (conditions over arrays), alerts/clusters.py
(count rules), alerts/rule_alerts.py (what a step writes to the alert). This module ties them together: it keeps
every instance that is not inactive, steps only those whose inputs changed or that are not inactive, applies the
effects, and persists the instances in the store (rule_state), so a restart resumes where it was. Its SQL is in
store/rule_inputs.py and store/alerts.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

import numpy as np

from alerts.clusters import Clusters, is_count
from alerts.conditions import Frame, holds, read_frame
from alerts.incidents import Incidents
from alerts.instances import INACTIVE, Effect, Instance, Phase, Reading, from_stored, reading, step, stored
from alerts.org import Organisation
from alerts.rule_alerts import RuleAlerts
from alerts.rules import Rule, RuleFile
from alerts.subjects import Subjects, watches_feed
from alerts.warnings import Warnings
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from store import alerts as alert_store
from store import feed_health
from store.database import Store
from store.records import Entity, Event
from store.transaction import retrying, transaction
from store.writer import Batch

Clock = Callable[[], datetime]
Key = tuple[str, str]  # (rule id, subject id)


def utc_now() -> datetime:
    return datetime.now(UTC)


class RuleEngine:
    def __init__(self, store: Store, rules: list[Rule], clock: Clock = utc_now, book: RuleFile | None = None,
                 regions: RegionIndex | None = None, reference: ReferenceLayers | None = None,
                 org: Organisation | None = None):  # fmt: skip
        """`book`: the rule file, whose groups and inhibitions place alerts in incidents (without one, each rule's
        alerts are grouped per district); `regions` name the incidents' regions; `reference` holds the layers
        rules are `near`; `org` routes each new incident to its centre and department."""
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self.subjects = Subjects(store, reference, regions)
        self.incidents = Incidents(book or RuleFile(rules=list(rules)), regions, org)
        self.alerts = RuleAlerts(store, self.subjects, self.incidents)
        self.warnings = Warnings(self.alerts, self.incidents)
        self.rules: list[Rule] = []
        self.set_rules(rules, book)
        self._states: dict[Key, Instance] = {}  # every instance that is not inactive
        self._persisted: dict[Key, tuple] = {}  # the clocks of each as the store has them
        self._by_rule: dict[str, set[str]] = {}  # rule id → the subjects it has an instance for
        self._dirty: set[Key] = set()  # instances the store has not heard of yet
        self._load_states()
        self.clusters = Clusters(store, followed=self._states)
        with self._transaction():
            self.alerts.changed = self.incidents.adopt(self.store.cursor(), self.clock())

    # -- configuration ----------------------------------------------------------------------------------------
    def set_rules(self, rules: list[Rule], book: RuleFile | None = None) -> None:
        """Swap the rules (on reload); open alerts, incidents and pending states of rules that remain are kept."""
        with self._lock:
            self.rules = list(rules)
            self.subjects.set_rules(self.rules)
            self.incidents.book = book or RuleFile(rules=self.rules)

    # -- entry points -----------------------------------------------------------------------------------------
    def on_batch(self, batch: Batch) -> None:
        """A batch this process's writer committed (one node, DuckDB)."""
        records = batch.records()
        touched = {o.entity_id for o in records.observations} | {e.id for e in records.entities}
        # Evaluated again when its commit loses a write conflict (a person's action or the time limits touched the
        # same alert): memory is put back first, so a batch is never left unevaluated nor evaluated twice.
        retrying(lambda: self._on_stored(touched, records.entities, records.events))

    def on_stored(self, touched: set[str], entities: list[Entity], events: list[Event],
                  within: Callable[[], None]) -> None:  # fmt: skip
        """What any node stored, as the leader reads it back (alerts/journal_reader.py): evaluated as a batch is,
        with `within` run in the same transaction (it moves the journal's position, and refuses when another node
        leads). The instances are persisted with it: the next leader resumes from what this one last did."""
        retrying(lambda: self._on_stored(touched, entities, events, within))

    def _on_stored(self, touched: set[str], entities: list[Entity], events: list[Event],
                   within: Callable[[], None] | None = None) -> None:  # fmt: skip
        with self._lock, self._transaction(persist=within is not None):
            now = self.clock()
            if within is not None:
                within()
            if entities and self.subjects.described_anew(entities):
                self.subjects.forget()  # a place, kind or threshold changed: the selections are made again
            value_rules = [r for r in self.rules if r.subject == "entity" and not is_count(r)]
            if len(touched) and value_rules:
                frame = read_frame(self.store, self.subjects, touched, value_rules, now)
                for rule in value_rules:
                    self._evaluate(rule, np.flatnonzero(self.subjects.watched(rule)[frame.pos]), frame, now)
            if events:
                self.warnings.on_events(self.store.cursor(), self.rules, events, now)
                for rule in self.rules:
                    if is_count(rule):
                        in_zone = partial(self.subjects.event_in_zone, rule)
                        for subject, n, where in self.clusters.grown(rule, events, now, in_zone):
                            self._advance(rule, subject, Reading.HOLDS, n, now, where=where)

    def resume(self) -> None:
        """Take up the work where the store has it: this node has just become the leader, and the one before may have
        moved instances, alerts and incidents on since this one last looked."""
        with self._lock:
            self._load_states()
            self.alerts.forget()
            self.subjects.forget()
            self.clusters = Clusters(self.store, followed=self._states)
            with self._transaction():
                self.alerts.changed = self.incidents.adopt(self.store.cursor(), self.clock())

    def tick(self) -> None:
        """Let time pass: pending and clearing durations, absence, alerts left unhandled too long (again when it
        loses a write conflict, as a batch is)."""
        retrying(self._tick)

    def _tick(self) -> None:
        with self._lock, self._transaction(persist=True):
            now = self.clock()
            watches_feeds = any(rule.subject == "feed" for rule in self.rules)
            feeds_heard = feed_health.last_messages(self.store.cursor()) if watches_feeds else {}
            self.warnings.expire(self.store.cursor(), self.rules, now)
            for rule in self.rules:
                if rule.subject == "warning":
                    continue  # warnings follow their messages and their expiry
                if rule.subject == "feed":
                    for feed_id, last in feeds_heard.items():
                        if watches_feed(rule, feed_id):
                            silent = last is None or now - last >= rule.when.absent
                            self._advance(rule, feed_id, Reading.HOLDS if silent else Reading.CLEARS, None, now)
                elif is_count(rule):
                    followed = list(self._by_rule.get(rule.id, ()))
                    for subject, read, n in self.clusters.recounted(rule, followed, now):
                        self._advance(rule, subject, read, n, now)
                        if (rule.id, subject) not in self._states:
                            self.clusters.forget((rule.id, subject))
                elif "absent" in rule.when.kinds() or (rule.clear and "absent" in rule.clear.kinds()):
                    ids = self.subjects.watched_ids(rule)
                    frame = read_frame(self.store, self.subjects, ids, [rule], now)
                    self._evaluate(rule, np.arange(len(ids)), frame, now)
                else:
                    # Only clocks move here: pending and clearing instances. Firing subjects are evaluated again
                    # when their data arrives.
                    waiting = [
                        s for s in self._by_rule.get(rule.id, ())
                        if self._states[(rule.id, s)].phase in (Phase.PENDING, Phase.CLEARING)
                    ]  # fmt: skip
                    if len(waiting):
                        frame = read_frame(self.store, self.subjects, waiting, [rule], now)
                        self._evaluate(rule, np.arange(len(waiting)), frame, now)
            self.alerts.escalate_unhandled(self.rules, now)
            self.alerts.flush(now)  # what this tick opened is placed before the inhibitions are looked at again
            cur = self.store.cursor()
            placed = self.incidents.adopt(cur, now)  # alerts left by an incident someone ended
            if self.incidents.release(cur, now) | self.incidents.close_all_cleared(cur, now) | placed:
                self.alerts.changed = True

    @contextlib.contextmanager
    def _transaction(self, persist: bool = False) -> Iterator[None]:
        """One transaction for all an evaluation writes (one commit, not one per alert). If it fails, memory is
        put back to what the store holds, so the two never disagree.

        Instances are written with `persist` (the scheduler's tick, every few seconds), not on every batch:
        after a crash a pending instance resumes a few seconds late, and a firing one finds its open alert again."""
        try:
            with transaction(self.store.cursor()):
                yield
                self.alerts.flush(self.clock())
                if persist:
                    self._persist()
        except BaseException:
            self.alerts.changed = self.alerts.refreshed = False
            self._load_states()
            self.alerts.forget()
            raise
        # Readers learn of it only once it is committed. While a storm goes on every batch refreshes its alerts'
        # values, which no view lists: that is not news to the views' copies of what people handle.
        changed = ["handling"] * self.alerts.changed + ["alert_values"] * self.alerts.refreshed
        self.alerts.changed = self.alerts.refreshed = False
        if changed:
            self.store.bump_version(*changed)

    # -- evaluation -------------------------------------------------------------------------------------------
    def _evaluate(self, rule: Rule, rows: np.ndarray, frame: Frame, now: datetime) -> None:
        """Evaluate `rule` for the subjects at `rows` of the frame."""
        if not len(rows):
            return
        held, value = holds(rule.when, rows, frame, now)
        # Python only for the subjects that matter: the condition holds, or the subject has an instance already.
        attention = held == 1
        known = self._by_rule.get(rule.id)
        if known:
            followed = np.zeros(len(frame.ids), dtype=bool)
            followed[[frame.row_of[k] for k in known if k in frame.row_of]] = True
            attention |= followed[rows]
        attention = np.flatnonzero(attention)
        if not len(attention):
            return
        rows, held, value = rows[attention], held[attention], value[attention]
        clears = holds(rule.clear, rows, frame, now)[0] == 1 if rule.clear is not None else held == 0
        for i, row in enumerate(rows):
            h = None if np.isnan(held[i]) else bool(held[i])
            v = None if np.isnan(value[i]) else float(value[i])
            self._advance(rule, frame.ids[row], reading(h, bool(clears[i])), v, now, int(frame.pos[row]))

    def _advance(self, rule: Rule, subject_id: str, read: Reading, value: float | None, now: datetime,
                 row: int | None = None, where: tuple | None = None) -> None:  # fmt: skip
        """Step one (rule, subject) and apply the effect to its alert; `row` is its entity's row in the entity
        table (None: not an entity), `where` the place of a cluster."""
        key = (rule.id, subject_id)
        before = self._states.get(key, INACTIVE)
        after, effect = step(before, read, now, value, for_=rule.for_, clear_for=rule.clear_for)
        if effect is Effect.FIRE:
            subject = self.subjects.at(row) if row is not None else None
            self.alerts.fire(rule, subject_id, value, now, subject, where)
        elif effect is Effect.REFIRE:
            self.alerts.refire(rule, subject_id, value, now)
        elif effect is Effect.CLEAR:
            self.alerts.clear(rule, subject_id, now)
        if after is not before:
            self._save(key, after)

    # -- instances --------------------------------------------------------------------------------------------
    def _save(self, key: Key, state: Instance) -> None:
        """Keep the instance in memory; `_persist` writes the ones whose phase or clocks changed, in one go."""
        if state.phase is Phase.INACTIVE:
            self._states.pop(key, None)
            self._by_rule.get(key[0], set()).discard(key[1])
            self.alerts.forget(key)
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

    def _load_states(self) -> None:
        """The instances as the store holds them (at start, and after a rollback)."""
        self._states = {key: from_stored(row) for key, row in alert_store.rule_states(self.store.cursor()).items()}
        self._persisted = {key: state.clocks() for key, state in self._states.items()}
        self._by_rule = {}
        for rule_id, subject_id in self._states:
            self._by_rule.setdefault(rule_id, set()).add(subject_id)
        self._dirty.clear()
