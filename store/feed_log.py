"""Each feed's changes of health, kept: when it went down or degraded, why, and when it came back.

`feed_status` holds only the present; an outage that ended an hour ago is told by this log. Every writer of
`feed_status` notes the change here first, in the same transaction where it has one.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from store.database import Store, frame


def note(
    cur: duckdb.DuckDBPyConnection,
    feed_id: str,
    state: str,
    reason: str,
    now: datetime,
    only_from: str | None = None,
) -> None:
    """Log `state` for the feed if it is a change (and, with `only_from`, only if the feed is in that state now)."""
    cur.execute(
        """
        INSERT INTO feed_log (feed_id, ts, state, reason)
        SELECT $feed, $now, $state, $reason
        WHERE coalesce((SELECT state FROM feed_status WHERE feed_id = $feed), '') <> $state
          AND ($only_from IS NULL OR (SELECT state FROM feed_status WHERE feed_id = $feed) = $only_from)
        """,
        {"feed": feed_id, "now": now, "state": state, "reason": reason[:500], "only_from": only_from},
    )


def changes(store: Store, since: datetime, limit: int = 50) -> pd.DataFrame:
    """The feeds' changes of health since a time, newest first."""
    return frame(
        store.cursor(),
        "SELECT feed_id, ts, state, reason FROM feed_log WHERE ts >= $since ORDER BY id DESC LIMIT $limit",
        {"since": since, "limit": limit},
    )
