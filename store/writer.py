"""The one writer thread: drains a bounded queue and commits in batches (≤ max_delay or ≤ max_rows, or once the
queue has been quiet for QUIET_S: the last messages of a burst are not held for a batch that will not fill).

Transports put an Envelope per message; a full queue blocks them, which is the back-pressure that keeps QoS 1
messages waiting at the broker instead of in our memory. After a commit the writer acknowledges the batch's
messages (so an acknowledged message is always stored), bumps the data version and hands the batch to listeners
(the rule engine). A message delivered twice is stored once: duplicates within a batch are dropped here, and
against stored rows by the anti-join in `_insert_observations`.

When the store itself fails (a full disk, an I/O error) the writer keeps the batch and tries again until it is
written, opening the database again if DuckDB invalidated it; meanwhile the queue fills and the transports stop
taking messages. Only an error about the data (a value the schema refuses) sets messages aside as dead letters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from store import feed_health
from store.database import Store, typed
from store.feed_health import FeedEvent
from store.records import DeadLetter, Decoded
from store.transaction import is_conflict, registered, roll_back

log = logging.getLogger(__name__)

TS = pa.timestamp("us", tz="UTC")


class StoreFailure(Exception):
    """Writing failed for a reason of the store's (disk, I/O, an invalidated database), not of the messages."""


RATE_WINDOW_S = 10.0
CONFLICT_ATTEMPTS = 10  # a batch that loses to concurrent changes this often is handled as a failing one
# Short enough that the end of a burst (a backlog after a reconnection) is committed at once, long enough that a
# steady stream, even of tens of messages a second, still goes in batches.
QUIET_S = 0.05
# How often a batch being collected looks for more. Waiting on the queue instead woke the writer for every message
# put, and handed the interpreter lock back and forth with the transport's thread once per message.
COLLECT_PAUSE_S = 0.005


@dataclass(slots=True)
class Envelope:
    """One received message on its way to the store: its records, or the reason it could not be decoded."""

    feed_id: str
    received_at: datetime
    records: Decoded | None = None
    dead_letter: DeadLetter | None = None
    ack: Callable[[], None] | None = None

    @property
    def rows(self) -> int:
        return len(self.records) if self.records is not None else 1


@dataclass(slots=True)
class Batch:
    envelopes: list[Envelope] = field(default_factory=list)
    rows: int = 0
    _merged: Decoded | None = field(default=None, repr=False, compare=False)

    def records(self) -> Decoded:
        """The records of all its messages, merged once: the writer and the rule engine both read them."""
        if self._merged is None:
            merged = Decoded()
            for env in self.envelopes:
                if env.records is not None:
                    merged.entities.extend(env.records.entities)
                    merged.observations.extend(env.records.observations)
                    merged.events.extend(env.records.events)
            self._merged = merged
        return self._merged


class Abandoned(Exception):
    """The writer stopped before a batch could be written: it stays unacknowledged."""


class EnvelopeQueue(queue.Queue):
    """A queue the writer empties many messages at a time, under one lock, and marks done a batch at a time."""

    def take(self, rows: int) -> tuple[list[Envelope], int]:
        """What is queued now, up to `rows` rows (at least one message if any), and its rows; never waits."""
        taken: list[Envelope] = []
        count = 0
        with self.mutex:
            while self.queue and count < rows:
                envelope = self.queue.popleft()
                taken.append(envelope)
                count += envelope.rows
            if taken:
                self.not_full.notify(len(taken))
        return taken, count

    def done(self, count: int) -> None:
        """`task_done()` for `count` messages at once."""
        with self.all_tasks_done:
            self.unfinished_tasks -= count
            if self.unfinished_tasks <= 0:
                self.all_tasks_done.notify_all()


class Writer:
    def __init__(
        self,
        store: Store,
        *,
        queue_size: int = 20_000,
        max_delay: float = 0.1,
        max_rows: int = 5_000,
    ):
        self.store = store
        self.queue = EnvelopeQueue(maxsize=queue_size)
        self.max_delay = max_delay
        self.max_rows = max_rows
        self.listeners: list[Callable[[Batch], None]] = []
        self.last_error: str | None = None
        self.failing_since: datetime | None = None
        self.lag_s = 0.0  # receipt to commit, of the last batch's oldest message
        self.held_back = 0  # messages that found the queue full and waited for room
        self._held_lock = threading.Lock()  # several transports' threads count them
        self._commits: deque[tuple[float, int]] = deque()  # (monotonic time, messages) of recent commits
        self._stop = threading.Event()
        self._abandon = threading.Event()  # stopping took too long: leave the rest unwritten and unacknowledged
        self._thread = threading.Thread(target=self._run, name="cityops-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop. What is not written within `timeout` (a storm's backlog) is left
        unwritten and unacknowledged, so a QoS 1 broker sends it again after the restart: the store must not be
        closed under a batch, which then failed, was turned into dead letters and logged errors until exit."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandon.set()
            self._thread.join(timeout)
            log.info("stopped with %d messages queued and unwritten: not acknowledged, a broker sends them again",
                     self.queue.qsize())  # fmt: skip

    def put(self, envelope: Envelope, timeout: float | None = None) -> None:
        try:
            self.queue.put_nowait(envelope)
        except queue.Full:  # the transport waits here, and its source (the broker, a poll) with it
            with self._held_lock:
                self.held_back += 1
            self.queue.put(envelope, timeout=timeout)

    def stats(self) -> dict:
        """How the writer keeps up: what waits, for how long, how fast it commits, and whether the store fails."""
        now = time.monotonic()
        while self._commits and now - self._commits[0][0] > RATE_WINDOW_S:
            self._commits.popleft()
        with self.queue.mutex:  # the oldest waiting message says how far behind we are, even before it commits
            oldest = self.queue.queue[0].received_at if self.queue.queue else None
        waiting_s = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        return {
            "queued": self.queue.qsize(),
            "capacity": self.queue.maxsize,
            # Full: the transports wait, so QoS 1 messages wait at the broker and pollers poll later.
            "holding_back": self.queue.full(),
            "held_back": self.held_back,
            "lag_s": round(max(waiting_s, self.lag_s if self.queue.qsize() else 0.0), 3),
            "messages_per_s": round(sum(n for _, n in self._commits) / RATE_WINDOW_S, 1),
            "last_error": self.last_error,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
        }

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()) and not self._abandon.is_set():
            batch = self._collect()
            if batch.envelopes:
                with contextlib.suppress(Abandoned):  # stopping: unwritten and unacknowledged
                    self._commit_with_retry(batch)

    def _collect(self) -> Batch:
        batch = Batch()
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return batch
        batch.envelopes.append(first)
        batch.rows = first.rows
        began = time.monotonic()
        deadline, quiet_until = began + self.max_delay, began + QUIET_S
        while batch.rows < self.max_rows:
            taken, rows = self.queue.take(self.max_rows - batch.rows)
            now = time.monotonic()
            if taken:
                batch.envelopes += taken
                batch.rows += rows
                quiet_until = now + QUIET_S
            elif now >= quiet_until:
                break
            if now >= deadline:
                break
            time.sleep(min(COLLECT_PAUSE_S, deadline - now))
        return batch

    def _commit_with_retry(self, batch: Batch) -> None:
        delay = 0.2
        attempt = 0
        while True:
            attempt += 1
            try:
                changed = self._write(batch)
                break
            except Exception as exc:  # nothing of the batch is kept: the transaction rolled back
                if self._abandon.is_set():
                    raise Abandoned from exc
                if (is_conflict(exc) or is_conflict(exc.__cause__)) and attempt < CONFLICT_ATTEMPTS:
                    # Another transaction (a feed's health, a person's action) changed one of the batch's rows
                    # meanwhile: neither the store's failure nor the data's. Written again at once.
                    log.info("a batch of %d messages met a concurrent change; written again", len(batch.envelopes))
                    time.sleep(0.01 * attempt)
                    continue
                self.last_error = str(exc) if isinstance(exc, StoreFailure) else f"{type(exc).__name__}: {exc}"
                self.failing_since = self.failing_since or datetime.now(UTC)
                log.error(
                    "writing a batch of %d messages failed (attempt %d): %s",
                    len(batch.envelopes),
                    attempt,
                    exc,
                )
                if isinstance(exc, StoreFailure):
                    self.store.heal()
                elif attempt >= 3 and len(batch.envelopes) > 1:
                    # One bad message must not hold back the others: write them one by one, and turn the ones
                    # the store refuses into dead letters.
                    changed = set()
                    batch = Batch([self._write_alone(env, changed) for env in batch.envelopes], batch.rows)
                    break
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        if self.failing_since is not None:
            log.info("the store accepts writes again (failing since %s)", self.failing_since.isoformat())
        self.last_error = self.failing_since = None
        for env in batch.envelopes:
            if env.ack is not None:
                env.ack()
        committed = datetime.now(UTC)
        self.lag_s = max((committed - env.received_at).total_seconds() for env in batch.envelopes)
        self._commits.append((time.monotonic(), len(batch.envelopes)))
        if changed:  # descriptions alone that were already stored change nothing
            self.store.bump_version(*changed)
        for listener in self.listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("a batch listener failed")
        self.queue.done(len(batch.envelopes))  # only now does flush() consider them done

    def _write_alone(self, env: Envelope, changed: set[str]) -> Envelope:
        """Write one message, or its dead letter; adds what the store saw change to `changed`."""
        try:
            changed |= self._write(Batch([env]))
            return env
        except Exception as exc:
            raw = b""
            if env.records is not None:
                raw = repr(env.records).encode()[:10_000]
            dead = Envelope(
                feed_id=env.feed_id,
                received_at=env.received_at,
                dead_letter=DeadLetter(env.received_at, env.feed_id, "", f"store refused: {exc}", raw),
                ack=env.ack,
            )
            delay = 0.5
            while True:  # a dead letter must be kept too: wait for the store to accept it
                try:
                    changed |= self._write(Batch([dead]))
                    return dead
                except Exception as exc2:
                    if self._abandon.is_set():
                        raise Abandoned from exc2
                    log.error("cannot write a dead letter, retrying: %s", exc2)
                    time.sleep(delay)
                    delay = min(delay * 2, 10.0)

    def _write(self, batch: Batch) -> set[str]:
        """Write the batch in one transaction; returns what changed (store.database.CHANGES)."""
        # Its own transaction rather than store.transaction: a failed COMMIT is the store's failure whatever its
        # type (the batch is kept and written again), while an error before it may be the batch's own.
        now = datetime.now(UTC)
        envelopes, merged = batch.envelopes, batch.records()
        dead = [env.dead_letter for env in envelopes if env.dead_letter is not None]
        cur, changed = None, set()
        try:
            cur = self.store.cursor()
            if merged.observations:  # read lazily: DuckDB needs no partitions and never reads them
                self.store.make_partitions(o.ts for o in merged.observations)
            cur.execute("BEGIN")
            if merged.entities and _upsert_entities(cur, merged, now):
                changed.add("entities")
            if merged.observations:
                _insert_observations(cur, merged, now, self.store.engine)
                changed.add("readings")
            if merged.events:
                _insert_events(cur, merged, now)
                changed.add("events")
            if dead:
                _insert_dead_letters(cur, dead)
            if _record_feed_health(cur, envelopes, now) or dead:
                changed.add("feeds")  # a state, or the dead letters counted beside it
            self.store.record_batch(cur, merged)
        except Exception as exc:
            if cur is not None:
                roll_back(cur)
            # The store, not the data, failed: keep the batch and try again instead of blaming its messages.
            if isinstance(exc, self.store.failures):
                raise StoreFailure(f"{type(exc).__name__}: {exc}") from exc
            raise
        try:
            cur.execute("COMMIT")
        except Exception as exc:
            roll_back(cur)
            raise StoreFailure(f"{type(exc).__name__}: {exc}") from exc
        return changed


def _upsert_entities(cur, records: Decoded, now: datetime) -> bool:
    """Insert new entities and update those whose description changed (many feeds describe a device again with
    each message); True when any row changed."""
    latest = {e.id: e for e in records.entities}  # the last description of an entity in the batch wins
    rows = list(latest.values())
    table = pa.table(
        {
            "id": [e.id for e in rows],
            "feed_id": [e.feed_id for e in rows],
            "domain": [e.domain for e in rows],
            "kind": [e.kind for e in rows],
            "name": [e.name for e in rows],
            "lon": pa.array([e.lon for e in rows], pa.float64()),
            "lat": pa.array([e.lat for e in rows], pa.float64()),
            "district_id": pa.array([e.district_id for e in rows], pa.string()),
            "town_id": pa.array([e.town_id for e in rows], pa.string()),
            "grid_id": pa.array([e.grid_id for e in rows], pa.string()),
            "attributes": [json.dumps(e.attributes, ensure_ascii=False) for e in rows],
        }
    )
    with registered(cur, "batch_entities", table):
        cur.execute(
            """
            INSERT INTO entities
            SELECT id, feed_id, domain, kind, name, lon, lat, district_id, town_id, grid_id,
                   attributes::JSON, $now, $now FROM batch_entities
            ON CONFLICT (id) DO UPDATE SET
                feed_id = excluded.feed_id, domain = excluded.domain, kind = excluded.kind, name = excluded.name,
                lon = excluded.lon, lat = excluded.lat, district_id = excluded.district_id,
                town_id = excluded.town_id, grid_id = excluded.grid_id, attributes = excluded.attributes,
                updated_at = excluded.updated_at
            WHERE (entities.feed_id, entities.domain, entities.kind, entities.name, entities.lon, entities.lat,
                   entities.district_id, entities.town_id, entities.grid_id, entities.attributes::VARCHAR)
                  IS DISTINCT FROM
                  (excluded.feed_id, excluded.domain, excluded.kind, excluded.name, excluded.lon, excluded.lat,
                   excluded.district_id, excluded.town_id, excluded.grid_id, excluded.attributes::VARCHAR)
            """,
            {"now": now},
        )
        return cur.fetchone()[0] > 0


def _insert_observations(cur, records: Decoded, now: datetime, engine: str) -> None:
    unique = {(o.feed_id, o.msg_id, o.entity_id, o.metric, o.ts): o for o in records.observations}
    rows = list(unique.values())
    table = pa.table(
        {
            "entity_id": [o.entity_id for o in rows],
            "metric": [o.metric for o in rows],
            "value": pa.array([o.value for o in rows], pa.float64()),
            "unit": [o.unit for o in rows],
            "ts": pa.array([o.ts for o in rows], TS),
            "quality": [o.quality for o in rows],
            "feed_id": [o.feed_id for o in rows],
            "msg_id": [o.msg_id for o in rows],
            "quality_reason": pa.array([o.quality_reason or None for o in rows], pa.string()),
        }
    )
    low = min(o.ts for o in rows)
    high = max(o.ts for o in rows)
    with registered(cur, "batch_observations", table):
        cur.execute(_NEW_OBSERVATIONS[engine], {"now": now, "low": low, "high": high})
        # In key order, as every writer takes the rows' locks: two nodes' batches never wait on each other in turn.
        cur.execute(
            """
            INSERT INTO latest
            SELECT entity_id, metric, arg_max(value, ts), arg_max(unit, ts), max(ts), arg_max(quality, ts), $now
            FROM batch_observations WHERE quality <> 'suspect' GROUP BY entity_id, metric ORDER BY entity_id, metric
            ON CONFLICT (entity_id, metric) DO UPDATE SET
                value = excluded.value, unit = excluded.unit, ts = excluded.ts, quality = excluded.quality,
                written_at = excluded.written_at
            WHERE excluded.ts >= latest.ts
            """,
            {"now": now},
        )


_COLUMNS = "entity_id, metric, value, unit, ts, quality, feed_id, msg_id, received_at, quality_reason"
# Each reading once. DuckDB: an anti-join over the batch's time range (zone maps on ts make it cheap; no index).
# PostgreSQL: its unique index, which also keeps out what another node inserts at the same moment.
_NEW_OBSERVATIONS = {
    "duckdb": f"""
        INSERT INTO observations ({_COLUMNS})
        SELECT b.entity_id, b.metric, b.value, b.unit, b.ts, b.quality, b.feed_id, b.msg_id, $now, b.quality_reason
        FROM batch_observations b
        ANTI JOIN (SELECT feed_id, msg_id, entity_id, metric, ts FROM observations
                   WHERE ts BETWEEN $low AND $high) o
        USING (feed_id, msg_id, entity_id, metric, ts)
        """,
    "postgresql": f"""
        INSERT INTO observations ({_COLUMNS})
        SELECT entity_id, metric, value, unit, ts, quality, feed_id, msg_id, $now, quality_reason
        FROM batch_observations ORDER BY feed_id, msg_id, entity_id, metric, ts
        ON CONFLICT DO NOTHING
        """,
}


def _insert_events(cur, records: Decoded, now: datetime) -> None:
    rows = list({e.id: e for e in records.events}.values())
    table = pa.table(
        {
            "id": [e.id for e in rows],
            "feed_id": [e.feed_id for e in rows],
            "msg_id": [e.msg_id for e in rows],
            "domain": [e.domain for e in rows],
            "type": [e.type for e in rows],
            "ts": pa.array([e.ts for e in rows], TS),
            "lon": pa.array([e.lon for e in rows], pa.float64()),
            "lat": pa.array([e.lat for e in rows], pa.float64()),
            "district_id": pa.array([e.district_id for e in rows], pa.string()),
            "town_id": pa.array([e.town_id for e in rows], pa.string()),
            "grid_id": pa.array([e.grid_id for e in rows], pa.string()),
            "severity": pa.array([e.severity for e in rows], pa.string()),
            "title": [e.title for e in rows],
            "description": [e.description for e in rows],
            "entity_id": pa.array([e.entity_id for e in rows], pa.string()),
            "source_ref": [e.source_ref for e in rows],
            "raw": [e.raw for e in rows],
            "area": pa.array([e.area for e in rows], pa.string()),
            "expires_at": pa.array([e.expires_at for e in rows], TS),
            "refs": pa.array([e.references or None for e in rows], pa.list_(pa.string())),
            "details": pa.array(
                [json.dumps(e.details, ensure_ascii=False) if e.details else None for e in rows], pa.string()
            ),  # fmt: skip
        }
    )
    columns = ", ".join(table.column_names)
    values = ", ".join(typed(cur, "events", table.column_names))
    with registered(cur, "batch_events", table):
        cur.execute(f"INSERT INTO events ({columns}, received_at) SELECT {values}, $now FROM batch_events "
                    "ORDER BY id ON CONFLICT DO NOTHING", {"now": now})  # fmt: skip


def _insert_dead_letters(cur, dead: list[DeadLetter]) -> None:
    table = pa.table(
        {
            "ts": pa.array([d.ts for d in dead], TS),
            "feed_id": [d.feed_id for d in dead],
            "source": [d.source for d in dead],
            "reason": [d.reason for d in dead],
            "raw": pa.array([d.raw for d in dead], pa.binary()),
        }
    )
    with registered(cur, "batch_dead", table):
        cur.execute("INSERT INTO dead_letters (ts, feed_id, source, reason, raw) SELECT * FROM batch_dead")


def _record_feed_health(cur, envelopes: list[Envelope], now: datetime) -> bool:
    """Each feed of the batch: stored (a message decoded) or undecodable (only dead letters), by store/feed_health;
    True when a feed's state changed."""
    per_feed: dict[str, list[Envelope]] = {}
    for env in envelopes:
        per_feed.setdefault(env.feed_id, []).append(env)
    reports = []
    for feed_id, received in per_feed.items():
        decoded = [env.received_at for env in received if env.dead_letter is None]
        failed = [env.dead_letter for env in received if env.dead_letter is not None]
        reports.append(feed_health.Report(
            feed_id,
            FeedEvent.STORED if decoded else FeedEvent.UNDECODABLE,
            "" if decoded else f"messages cannot be decoded: {failed[-1].reason}",
            received_at=max(env.received_at for env in received),
            last_message_at=max(decoded, default=None),
            messages=len(decoded),
            errors=len(failed),
            discarded=sum(env.records.discarded for env in received if env.records is not None),
            suspect=sum(env.records.suspect for env in received if env.records is not None),
        ))  # fmt: skip
    return any(recorded is not None and recorded.changed for recorded in feed_health.record_all(cur, reports, now))
