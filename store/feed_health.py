"""Feed health: ok, degraded or down, and why, decided by one table. "Why is this feed grey?" is answered here.

A feed's health moves only by an event, through NEXT: (state, event) → the next state, or None when the event says
nothing new about the feed (its state and reason stay as they are). A move to ok clears the reason; any other
outcome takes the event's reason ("no answer within 5 s (3 failed polls in a row)", "no message for 75 s", …).

    event                 sent by                                         from: unknown  ok        degraded  down
    stored                the writer: a message of the feed decoded              ok       ok        ok        ok
    undecodable           the writer: only dead letters came                     degraded degraded  degraded  degraded
    stored earlier        as stored, all received before the last change         ok       ok        ok        -
    undecodable earlier   as undecodable, all received before the last change    degraded degraded  degraded  -
    answered              a polled source answered (data, the same, or 304)      ok       -         -         ok
    poll recovered        a polled source answered after failed polls            ok       ok        ok        ok
    poll failed           a poll got no data (fewer than down_after in a row)    degraded degraded  degraded  degraded
    polls failed          down_after polls or more in a row got no data          down     down      down      down
    broker lost           the MQTT connection dropped or was refused             down     down      down      down
    broker back           connected again: not yet healthy, messages will say    -        -         -         -
    silent                nothing for longer than the feed's stale_after_s       down     down      down      -

Unknown is a feed with no row yet in `feed_status` (nothing heard since the store was made). Messages that were
still queued when a feed went down are no sign it is back: the writer sends them as the "earlier" events. For a
polled source "silence" means it stopped answering, not that it had nothing new to say, so an answer ends an outage
but leaves undecodable data degraded. A feed down for silence whose next poll fails becomes degraded (one failed
poll), and down again after down_after of them.

`record_all` applies events to the stored rows (state, reason, changed_at, last_message_at, messages, errors) and keeps
each change of state in `feed_log`. The writer calls it inside its batch's transaction; feeds/health.py calls it for
what only the transports see (polls, the broker, silence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import duckdb
import pyarrow as pa

from store import feed_log
from store.transaction import registered


class FeedState(StrEnum):
    UNKNOWN = "unknown"  # no row in feed_status: never stored, so never shown as a state
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


class FeedEvent(StrEnum):
    STORED = "stored"
    UNDECODABLE = "undecodable"
    STORED_EARLIER = "stored earlier"
    UNDECODABLE_EARLIER = "undecodable earlier"
    ANSWERED = "answered"
    POLL_RECOVERED = "poll recovered"
    POLL_FAILED = "poll failed"
    POLLS_FAILED = "polls failed"
    BROKER_LOST = "broker lost"
    BROKER_BACK = "broker back"
    SILENT = "silent"


UNKNOWN, OK, DEGRADED, DOWN = FeedState.UNKNOWN, FeedState.OK, FeedState.DEGRADED, FeedState.DOWN
# The table of the docstring: one row per event, one column per state it comes from (None: no change).
_FROM = (UNKNOWN, OK, DEGRADED, DOWN)
_ROWS: dict[FeedEvent, tuple[FeedState | None, ...]] = {
    FeedEvent.STORED: (OK, OK, OK, OK),
    FeedEvent.UNDECODABLE: (DEGRADED, DEGRADED, DEGRADED, DEGRADED),
    FeedEvent.STORED_EARLIER: (OK, OK, OK, None),
    FeedEvent.UNDECODABLE_EARLIER: (DEGRADED, DEGRADED, DEGRADED, None),
    FeedEvent.ANSWERED: (OK, None, None, OK),
    FeedEvent.POLL_RECOVERED: (OK, OK, OK, OK),
    FeedEvent.POLL_FAILED: (DEGRADED, DEGRADED, DEGRADED, DEGRADED),
    FeedEvent.POLLS_FAILED: (DOWN, DOWN, DOWN, DOWN),
    FeedEvent.BROKER_LOST: (DOWN, DOWN, DOWN, DOWN),
    FeedEvent.BROKER_BACK: (None, None, None, None),
    FeedEvent.SILENT: (DOWN, DOWN, DOWN, None),
}  # fmt: skip
NEXT: dict[tuple[FeedState, FeedEvent], FeedState | None] = {
    (state, event): outcome for event, row in _ROWS.items() for state, outcome in zip(_FROM, row, strict=True)
}
# The writer's events for messages all received before the feed's last change of state.
EARLIER = {FeedEvent.STORED: FeedEvent.STORED_EARLIER, FeedEvent.UNDECODABLE: FeedEvent.UNDECODABLE_EARLIER}
REASON_CHARS = 500


@dataclass(frozen=True)
class Recorded:
    """What one event did to a feed's stored health."""

    before: FeedState
    after: FeedState

    @property
    def changed(self) -> bool:
        return self.before != self.after


_UPSERT = """
    INSERT INTO feed_status (feed_id, state, reason, changed_at, last_message_at, messages, errors, discarded,
                             suspect)
    SELECT feed_id, state, reason, $now, last_message_at, messages, errors, discarded, suspect FROM feed_reports
    ON CONFLICT (feed_id) DO UPDATE SET
        changed_at = CASE WHEN feed_status.state = excluded.state THEN feed_status.changed_at
                          ELSE excluded.changed_at END,
        state = excluded.state, reason = excluded.reason,
        last_message_at = coalesce(excluded.last_message_at, feed_status.last_message_at),
        messages = feed_status.messages + excluded.messages,
        errors = feed_status.errors + excluded.errors,
        discarded = feed_status.discarded + excluded.discarded,
        suspect = feed_status.suspect + excluded.suspect
"""


@dataclass(frozen=True)
class Report:
    """One event of one feed, and what to add to its row whatever the state does (see `record_all`)."""

    feed_id: str
    event: FeedEvent
    reason: str = ""
    received_at: datetime | None = None
    last_message_at: datetime | None = None
    messages: int = 0
    errors: int = 0
    discarded: int = 0
    suspect: int = 0


def record(cur: duckdb.DuckDBPyConnection, feed_id: str, event: FeedEvent, reason: str, now: datetime,
           **more) -> Recorded | None:  # fmt: skip
    """`record_all` for one feed (`more`: Report's other fields)."""
    return record_all(cur, [Report(feed_id, event, reason, **more)], now)[0]


def record_all(cur: duckdb.DuckDBPyConnection, reports: list[Report], now: datetime) -> list[Recorded | None]:
    """Apply each report's event to its feed's row in `feed_status` (and a change of state to `feed_log`), a feed
    once, in two statements whatever their number: the writer does this in every batch, for every feed in it.

    A report's `received_at` is when the newest message behind a writer's event arrived (to tell the "earlier"
    events); `last_message_at`, `messages`, `errors`, `discarded` (values refused) and `suspect` (records marked
    implausible) are added to the row whatever the state does. Returns what was recorded for each report, or None
    when there was nothing to write."""
    stored = cur.execute("SELECT feed_id, state, reason, changed_at FROM feed_status WHERE feed_id IN "
                         "(SELECT unnest($feeds))", {"feeds": [r.feed_id for r in reports]}).fetchall()  # fmt: skip
    current = {feed_id: rest for feed_id, *rest in stored}
    out: list[Recorded | None] = []
    rows = []
    for report in reports:
        row = current.get(report.feed_id)
        before = FeedState(row[0]) if row is not None else FeedState.UNKNOWN
        event, reason = report.event, report.reason
        if row is not None and report.received_at is not None and report.received_at < row[2]:
            event = EARLIER.get(event, event)
        after = NEXT[before, event]
        if after is None:
            adds = report.last_message_at or report.messages or report.errors or report.discarded or report.suspect
            if row is None or not adds:
                out.append(None)
                continue
            after, reason = before, row[1]
        elif after is FeedState.OK:
            reason = ""
        reason = reason[:REASON_CHARS]
        if after != before:
            feed_log.note(cur, report.feed_id, after, reason, now)
        rows.append((report, after, reason))
        out.append(Recorded(before, after))
    if rows:
        table = pa.table({
            "feed_id": [r.feed_id for r, _, _ in rows],
            "state": [after.value for _, after, _ in rows],
            "reason": [reason for _, _, reason in rows],
            "last_message_at": pa.array([r.last_message_at for r, _, _ in rows], pa.timestamp("us", tz="UTC")),
            "messages": pa.array([r.messages for r, _, _ in rows], pa.int64()),
            "errors": pa.array([r.errors for r, _, _ in rows], pa.int64()),
            "discarded": pa.array([r.discarded for r, _, _ in rows], pa.int64()),
            "suspect": pa.array([r.suspect for r, _, _ in rows], pa.int64()),
        })  # fmt: skip
        with registered(cur, "feed_reports", table):
            cur.execute(_UPSERT, {"now": now})
    return out


def last_messages(cur: duckdb.DuckDBPyConnection) -> dict[str, datetime | None]:
    """Each feed with a row, and when its last message came (None: never)."""
    return dict(cur.execute("SELECT feed_id, last_message_at FROM feed_status").fetchall())
