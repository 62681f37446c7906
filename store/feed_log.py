"""Each feed's changes of health, kept: when it went down or degraded, why, and when it came back.

`feed_status` holds only the present; an outage that ended an hour ago is told by this log. store/feed_health.py,
the one writer of `feed_status`, notes each change here, in the same transaction where it has one.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from store.database import Store, frame


def note(cur: duckdb.DuckDBPyConnection, feed_id: str, state: str, reason: str, now: datetime) -> None:
    """Log that the feed is now in `state` (store/feed_health.py calls this for each change, and only then)."""
    cur.execute(
        "INSERT INTO feed_log (feed_id, ts, state, reason) VALUES ($feed, $now, $state, $reason)",
        {"feed": feed_id, "now": now, "state": state, "reason": reason},
    )


def changes(store: Store, since: datetime, limit: int = 50) -> pd.DataFrame:
    """The feeds' changes of health since a time, newest first."""
    return frame(
        store.cursor(),
        "SELECT feed_id, ts, state, reason FROM feed_log WHERE ts >= $since ORDER BY id DESC LIMIT $limit",
        {"since": since, "limit": limit},
    )
