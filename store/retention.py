"""Retention: observations past their age are rolled up into hourly and daily summaries, then removed.

The work goes in slices of time, each one short transaction, so the writer (appending meanwhile) never waits
longer than a slice; a slice that took long makes the next one smaller. A reading that arrives late, older than the
limit, is rolled into the summaries it belongs to by the next run: summaries add up, they are never overwritten.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from store.database import Store

log = logging.getLogger(__name__)

SLICE_TARGET_S = 0.25  # about one writer batch: the longest a slice may hold the store
SMALLEST_SLICE = timedelta(hours=1)
LARGEST_SLICE = timedelta(days=7)

_HOURLY = """
    INSERT INTO observations_hourly
    SELECT entity_id, metric, date_trunc('hour', ts), any_value(unit), count(value), min(value), max(value),
           sum(value)
    FROM observations WHERE ts >= $low AND ts < $high GROUP BY ALL
    ON CONFLICT DO UPDATE SET
        n = observations_hourly.n + excluded.n,
        min = least(observations_hourly.min, excluded.min), max = greatest(observations_hourly.max, excluded.max),
        sum = coalesce(observations_hourly.sum + excluded.sum, observations_hourly.sum, excluded.sum)
"""
_DAILY = """
    INSERT INTO observations_daily
    SELECT entity_id, metric, timezone($tz, ts)::DATE, any_value(unit), count(value), min(value), max(value),
           sum(value)
    FROM observations WHERE ts >= $low AND ts < $high GROUP BY ALL
    ON CONFLICT DO UPDATE SET
        n = observations_daily.n + excluded.n,
        min = least(observations_daily.min, excluded.min), max = greatest(observations_daily.max, excluded.max),
        sum = coalesce(observations_daily.sum + excluded.sum, observations_daily.sum, excluded.sum)
"""


@dataclass
class RetentionRun:
    cutoff: datetime
    removed: int = 0
    slices: int = 0
    longest_slice_s: float = 0.0


def apply(store: Store, keep_days: int, timezone: str, now: datetime | None = None) -> RetentionRun:
    """Roll up and remove the observations older than `keep_days` (counted back from `now`, on an hour)."""
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=keep_days)).replace(minute=0, second=0, microsecond=0)
    run = RetentionRun(cutoff)
    cur = store.cursor()
    span = timedelta(days=1)
    low = _next_hour(cur, None, cutoff)
    while low is not None:
        high = min(low + span, cutoff)
        began = time.monotonic()
        run.removed += _roll_up_slice(cur, low, high, timezone)
        took = time.monotonic() - began
        run.slices += 1
        run.longest_slice_s = max(run.longest_slice_s, took)
        if took > SLICE_TARGET_S:
            span = max(span / 2, SMALLEST_SLICE)
        elif took < SLICE_TARGET_S / 4:
            span = min(span * 2, LARGEST_SLICE)
        low = _next_hour(cur, high, cutoff)
    if run.removed:
        log.info("retention: %d observations before %s rolled up and removed in %d slices (longest %.2f s)",
                 run.removed, cutoff.isoformat(), run.slices, run.longest_slice_s)  # fmt: skip
    return run


def _next_hour(cur: duckdb.DuckDBPyConnection, after: datetime | None, cutoff: datetime) -> datetime | None:
    """The hour of the oldest observation still to roll up (skipping empty stretches), or None when done."""
    (oldest,) = cur.execute(
        "SELECT date_trunc('hour', min(ts)) FROM observations WHERE ts < $cutoff AND ($after IS NULL OR ts >= $after)",
        {"cutoff": cutoff, "after": after},
    ).fetchone()
    return oldest


def _roll_up_slice(cur: duckdb.DuckDBPyConnection, low: datetime, high: datetime, timezone: str) -> int:
    params = {"low": low, "high": high}
    for attempt in range(5):
        cur.execute("BEGIN")
        try:
            cur.execute(_HOURLY, params)
            cur.execute(_DAILY, {**params, "tz": timezone})
            (removed,) = cur.execute("DELETE FROM observations WHERE ts >= $low AND ts < $high", params).fetchone()
            cur.execute("COMMIT")
            return removed
        except duckdb.TransactionException:  # a concurrent commit touched the same rows: this slice again
            cur.execute("ROLLBACK")
            time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"retention could not roll up {low.isoformat()} to {high.isoformat()}: conflicts persist")
