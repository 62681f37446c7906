"""Feed health: ok | degraded | down, with the reason and the time it changed.

The writer marks a feed ok when its messages decode (degraded when only dead letters come); this module adds what
the writer cannot see: a lost broker connection, and silence longer than the feed's `stale_after_s`. Each change is
also kept in `feed_log`, so an outage that has ended can still be seen with its start and end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store import feed_log
from store.database import Store

_UPSERT = """
    INSERT INTO feed_status (feed_id, state, reason, changed_at) VALUES ($feed, $state, $reason, $now)
    ON CONFLICT (feed_id) DO UPDATE SET
        changed_at = CASE WHEN feed_status.state = excluded.state THEN feed_status.changed_at
                          ELSE excluded.changed_at END,
        state = excluded.state, reason = excluded.reason
"""


def set_state(store: Store, feed_ids: list[str], state: str, reason: str, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    cur = store.cursor()
    for feed_id in feed_ids:
        feed_log.note(cur, feed_id, state, reason, now)
        cur.execute(_UPSERT, {"feed": feed_id, "state": state, "reason": reason, "now": now})
    store.bump_version()


def heard_from(store: Store, feed_id: str, now: datetime | None = None) -> None:
    """A polled source answered (new data, the same data, or nothing new: 304): it is alive, so not silent.

    For a polled feed "silence" means the source stopped answering, not that it had nothing new to say; otherwise
    a warning service with no warning in force would read as an outage.
    """
    now = now or datetime.now(UTC)
    cur = store.cursor()
    feed_log.note(cur, feed_id, "ok", "", now, only_from="down")
    cur.execute(
        """
        INSERT INTO feed_status (feed_id, state, reason, changed_at, last_message_at)
        VALUES ($feed, 'ok', '', $now, $now)
        ON CONFLICT (feed_id) DO UPDATE SET
            changed_at = CASE WHEN feed_status.state = 'ok' THEN feed_status.changed_at ELSE excluded.changed_at END,
            state = CASE WHEN feed_status.state = 'down' THEN 'ok' ELSE feed_status.state END,
            reason = CASE WHEN feed_status.state = 'down' THEN '' ELSE feed_status.reason END,
            last_message_at = excluded.last_message_at
        """,
        {"feed": feed_id, "now": now},
    )
    store.bump_version()


def connection_changed(store: Store, feed_ids: list[str], up: bool, reason: str) -> None:
    """Called by a transport when it loses or regains its source."""
    if up:
        # Connected is not yet healthy: the writer marks the feed ok when its messages arrive.
        return
    set_state(store, feed_ids, "down", reason)


def check_silence(
    store: Store, stale_after_s: dict[str, int], started_at: datetime, now: datetime | None = None
) -> list[str]:
    """Mark feeds down that have been silent longer than their limit (run on the scheduler)."""
    now = now or datetime.now(UTC)
    cur = store.cursor()
    known = {
        row[0]: row[1:] for row in cur.execute("SELECT feed_id, state, last_message_at FROM feed_status").fetchall()
    }
    changed = []
    for feed_id, limit in stale_after_s.items():
        state, last = known.get(feed_id, (None, None))
        since = last or started_at
        if now - since > timedelta(seconds=limit) and state != "down":
            reason = f"no message for {int((now - since).total_seconds())} s" if last else "no message yet"
            feed_log.note(cur, feed_id, "down", reason, now)
            cur.execute(_UPSERT, {"feed": feed_id, "state": "down", "reason": reason, "now": now})
            changed.append(feed_id)
    if changed:
        store.bump_version()
    return changed
