"""What the transports see of their feeds' health, told to the store: store/feed_health.py decides what it means.

The writer reports what becomes of messages (stored, or only dead letters). This module reports what the writer
cannot see: a poll's outcome (feeds/http.py), a lost or regained broker connection (feeds/mqtt.py), and silence
longer than a feed's `stale_after_s` (a scheduled job).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store import feed_health
from store.database import Store
from store.feed_health import FeedEvent
from store.transaction import retrying, transaction


def record(
    store: Store, feed_ids: list[str], event: FeedEvent, reason: str = "", now: datetime | None = None,
    heard: bool = False,
) -> list[str]:  # fmt: skip
    """Apply one event to these feeds; `heard`: the source was heard from now (not silent). Returns the feeds whose
    state changed."""
    return _record(store, {feed_id: reason for feed_id in feed_ids}, event, now or datetime.now(UTC), heard)


def _record(store: Store, reasons: dict[str, str], event: FeedEvent, now: datetime, heard: bool = False) -> list[str]:
    """One event for each feed of `reasons`, with its reason, through one cursor and one new data version."""
    cur = store.cursor()

    def apply() -> list:
        with transaction(cur):
            reports = [feed_health.Report(feed_id, event, reason, last_message_at=now if heard else None)
                       for feed_id, reason in reasons.items()]  # fmt: skip
            return list(zip(reasons, feed_health.record_all(cur, reports, now), strict=True))

    done = retrying(apply)
    if any(result is not None for _, result in done):
        store.bump_version("feeds")
    return [feed_id for feed_id, result in done if result is not None and result.changed]


def connection_changed(store: Store, feed_ids: list[str], up: bool, reason: str) -> None:
    """Called by a transport when it loses or regains its source."""
    record(store, feed_ids, FeedEvent.BROKER_BACK if up else FeedEvent.BROKER_LOST, reason)


def check_silence(
    store: Store, stale_after_s: dict[str, int], started_at: datetime, now: datetime | None = None
) -> list[str]:
    """Tell the feeds silent longer than their limit (run on the scheduler); returns those that went down."""
    now = now or datetime.now(UTC)
    last_of = feed_health.last_messages(store.cursor())
    silent = {}
    for feed_id, limit in stale_after_s.items():
        last = last_of.get(feed_id)
        since = last or started_at
        if now - since > timedelta(seconds=limit):
            silent[feed_id] = f"no message for {int((now - since).total_seconds())} s" if last else "no message yet"
    return _record(store, silent, FeedEvent.SILENT, now) if silent else []
