"""Summaries and retention: hourly and daily summaries of the observations, kept current; old rows removed.

Summaries are rolled up from what was *received* since the last roll-up (a watermark on `received_at`), so every
row is counted exactly once whatever its own time: a reading that arrives a week late is added to that week's
summaries, which add up and are never overwritten. The watermark stays a few minutes behind the clock, because a
row's `received_at` is set when its batch is written and it becomes visible only at the commit. Retention then
removes the rows older than the configured age that are in the summaries already; long-range charts read the
summaries, never the raw rows.

The work goes in slices of time, each one short transaction, so the writer (appending meanwhile) never waits longer
than a slice; a slice that took long makes the next one smaller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg.errors

from store.database import Store
from store.transaction import ERRORS, is_conflict, transaction

log = logging.getLogger(__name__)

SLICE_TARGET_S = 0.25  # about one writer batch: the longest a slice may hold the store
SMALLEST_SLICE = timedelta(minutes=5)
LARGEST_SLICE = timedelta(days=7)
COMMIT_MARGIN = timedelta(minutes=5)  # far longer than a write takes from its received_at to its commit

_MERGE = """
    ON CONFLICT ({key}) DO UPDATE SET
        n = {t}.n + excluded.n, min = least({t}.min, excluded.min), max = greatest({t}.max, excluded.max),
        sum = coalesce({t}.sum + excluded.sum, {t}.sum, excluded.sum)
"""
_HOURLY = """
    INSERT INTO observations_hourly
    SELECT entity_id, metric, date_trunc('hour', ts), any_value(unit), count(value), min(value), max(value), sum(value)
    FROM observations WHERE received_at >= $low AND received_at < $high AND quality <> 'suspect' GROUP BY 1, 2, 3
    """ + _MERGE.format(t="observations_hourly", key="entity_id, metric, hour")
_DAILY = """
    INSERT INTO observations_daily
    SELECT entity_id, metric, timezone($tz, ts)::DATE, any_value(unit), count(value), min(value), max(value), sum(value)
    FROM observations WHERE received_at >= $low AND received_at < $high AND quality <> 'suspect' GROUP BY 1, 2, 3
    """ + _MERGE.format(t="observations_daily", key="entity_id, metric, day")


@dataclass
class Progress:
    rows: int = 0
    slices: int = 0
    longest_slice_s: float = 0.0

    def add(self, other: Progress) -> None:
        self.rows += other.rows
        self.slices += other.slices
        self.longest_slice_s = max(self.longest_slice_s, other.longest_slice_s)


@dataclass
class RetentionRun:
    cutoff: datetime
    rolled_up: Progress
    removed: Progress


def watermark(cur) -> datetime | None:
    """Observations received before this time are in the summaries."""
    row = cur.execute("SELECT until FROM summary_progress WHERE name = 'observations'").fetchone()
    return row[0] if row else None


def roll_up(store: Store, timezone: str, now: datetime | None = None) -> Progress:
    """Add what was received since the last roll-up to the hourly and daily summaries."""
    upper = (now or datetime.now(UTC)) - COMMIT_MARGIN
    cur = store.cursor()
    start = watermark(cur)

    def first(after: datetime | None) -> datetime | None:
        (found,) = cur.execute(
            "SELECT min(received_at) FROM observations WHERE received_at < $upper "
            "AND (CAST($after AS TIMESTAMPTZ) IS NULL OR received_at >= $after)",
            {"upper": upper, "after": after or start},
        ).fetchone()
        return found

    def one(low: datetime, high: datetime) -> int:
        params = {"low": low, "high": high}
        (hours,) = cur.execute(_HOURLY, params).fetchone()
        cur.execute(_DAILY, {**params, "tz": timezone})
        _advance(cur, high)
        return hours

    (rows,) = cur.execute(
        "SELECT count(*) FROM observations WHERE received_at < $upper "
        "AND (CAST($start AS TIMESTAMPTZ) IS NULL OR received_at >= $start)",
        {"upper": upper, "start": start},
    ).fetchone()
    progress = _in_slices(cur, first, upper, one)
    progress.rows = rows  # counted once: a count per slice cost as much again
    _transaction(cur, lambda: _advance(cur, upper))  # nothing is left to roll up before `upper`
    return progress


def apply(store: Store, keep_days: int, timezone: str, now: datetime | None = None) -> RetentionRun:
    """Bring the summaries up to date, then remove observations older than `keep_days` (on an hour) that are in
    them; `keep_days` 0 keeps every observation. The one scheduled job: roll-ups must not run side by side."""
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=keep_days)).replace(minute=0, second=0, microsecond=0)
    rolled = roll_up(store, timezone, now)
    if not keep_days:
        return RetentionRun(cutoff, rolled, Progress())
    cur = store.cursor()
    summarised = watermark(cur)

    def first(after: datetime | None) -> datetime | None:
        (found,) = cur.execute(
            "SELECT min(ts) FROM observations WHERE ts < $cutoff AND received_at < $summarised "
            "AND (CAST($after AS TIMESTAMPTZ) IS NULL OR ts >= $after)",
            {"cutoff": cutoff, "summarised": summarised, "after": after},
        ).fetchone()
        return found

    def one(low: datetime, high: datetime) -> int:
        (removed,) = cur.execute(
            "DELETE FROM observations WHERE ts >= $low AND ts < $high AND received_at < $summarised",
            {"low": low, "high": high, "summarised": summarised},
        ).fetchone()
        return removed

    removed = _drop_days(store, cutoff, summarised) if store.engine == "postgresql" else Progress()
    removed.add(_in_slices(cur, first, cutoff, one))
    if removed.rows:
        log.info("retention: %d observations before %s removed (in the summaries) in %d slices, the longest %.2f s",
                 removed.rows, cutoff.isoformat(), removed.slices, removed.longest_slice_s)  # fmt: skip
    return RetentionRun(cutoff, rolled, removed)


def _drop_days(store: Store, cutoff: datetime, summarised: datetime | None) -> Progress:
    """PostgreSQL: drop the days' partitions of observations that end by `cutoff` and hold nothing that is not in
    the summaries: a day goes at once, without a row-by-row delete or the vacuum after it. The drop locks the whole
    table for a moment (DETACH CONCURRENTLY, which would not, is refused beside the default partition): given up after
    2 s rather than hold the writers longer. A day that also holds readings received after the summaries' watermark is
    left to the slices."""
    progress = Progress()
    if summarised is None:
        return progress
    cur = store.cursor()
    days = cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'observations'::regclass AND c.relname ~ '^observations_[0-9]{8}$' ORDER BY 1"
    ).fetchall()
    for (name,) in days:
        day = datetime.strptime(name.removeprefix("observations_"), "%Y%m%d").replace(tzinfo=UTC)
        if day + timedelta(days=1) > cutoff:
            break
        began = time.monotonic()
        (rows, late) = cur.execute(
            f"SELECT count(*), count(*) FILTER (WHERE received_at >= ?) FROM {name}", [summarised]
        ).fetchone()
        if late:
            continue
        try:
            with transaction(cur):  # the drop locks the parent table: briefly, or not this time
                cur.execute("SET LOCAL lock_timeout = '2s'")
                cur.execute(f"DROP TABLE {name}")
        except psycopg.errors.LockNotAvailable:
            log.info("retention: %s is busy; dropped at the next run", name)
            continue
        progress.rows += rows
        progress.slices += 1
        progress.longest_slice_s = max(progress.longest_slice_s, time.monotonic() - began)
    return progress


def _advance(cur, until: datetime) -> None:
    cur.execute(
        "INSERT INTO summary_progress VALUES ('observations', $until) "
        "ON CONFLICT (name) DO UPDATE SET until = greatest(summary_progress.until, excluded.until)",
        {"until": until},
    )


def _in_slices(
    cur,
    first: Callable[[datetime | None], datetime | None],
    end: datetime,
    one: Callable[[datetime, datetime], int | None],
) -> Progress:
    """Run `one(low, high)` over [first row, end) in slices, each its own transaction, skipping empty stretches.
    `one` says how many rows it touched: after a slice that touched none, `first` finds where the rows go on."""
    progress = Progress()
    # Grown only as slices prove quick: a first slice of a day could hold a dense history in one long transaction
    # that raised the process's memory by hundreds of MB (the memory benchmark shows it).
    span = SMALLEST_SLICE
    low = first(None)
    while low is not None:
        high = min(low + span, end)
        began = time.monotonic()
        touched = _transaction(cur, lambda low=low, high=high: one(low, high))
        took = time.monotonic() - began
        progress.rows += touched
        progress.slices += 1
        progress.longest_slice_s = max(progress.longest_slice_s, took)
        # Grown below half the target, not a quarter: on PostgreSQL each statement costs tens of ms whatever the
        # slice (it visits every day's partition), and a quarter kept a year's first roll-up in 5-minute slices.
        if took > SLICE_TARGET_S:
            span = max(span / 2, SMALLEST_SLICE)
        elif took < SLICE_TARGET_S / 2:
            span = min(span * 2, LARGEST_SLICE)
        if high >= end:
            break
        low = high if touched else first(high)
    return progress


def _transaction(cur, work: Callable[[], int | None]) -> int:
    for attempt in range(5):
        try:
            with transaction(cur):
                result = work()
            return result or 0
        except ERRORS as exc:
            if not is_conflict(exc):
                raise
            time.sleep(0.1 * (attempt + 1))  # a concurrent commit touched the same rows: this slice again
    raise RuntimeError("retention: conflicts with concurrent writes persist; trying again at the next run")
