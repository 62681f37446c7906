"""Summaries and retention: observations are rolled up into hourly and daily summaries that keep their counts,
sums, minima and maxima, and those older than the configured age are removed, while ingest goes on: the writer
never waits for more than a slice. A real DuckDB file, the real writer with a steady stream, 60 days of history;
and a reading that arrives late is counted once, in the hour it belongs to."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from store import retention
from store.duckdb_engine import DuckDBStore
from store.records import Decoded, Observation
from store.writer import Envelope, Writer

HISTORY = 3_000_000  # observations over 60 days, 300 entities
KEEP_DAYS = 30
STREAM_RATE = 1_000  # messages/s written while retention runs
TZ = "Asia/Shanghai"


def test_retention_rolls_up_and_removes_old_observations_without_blocking_ingest(tmp_path):
    store = DuckDBStore(tmp_path / "cityops.duckdb")
    cur = store.cursor()
    now = datetime.now(UTC)
    cur.execute(
        """
        INSERT INTO observations
        SELECT 'e' || (i % 300), 'water_level', CASE WHEN i % 50 = 0 THEN NULL ELSE (i % 97) / 10 END, 'm',
               t, 'ok', 'f', 'h' || i, t + INTERVAL 2 SECOND, NULL
        FROM (SELECT i, $start + to_microseconds(i * (60 * 86400 * 1000000::BIGINT // $n)) AS t FROM range($n) r(i))
        """,
        {"start": now - timedelta(days=60, minutes=10), "n": HISTORY},  # the newest past the roll-up's margin
    )
    cutoff = (now - timedelta(days=KEEP_DAYS)).replace(minute=0, second=0, microsecond=0)
    old = "FROM observations WHERE ts < $cutoff"
    (removed,) = cur.execute(f"SELECT count(*) {old}", {"cutoff": cutoff}).fetchone()
    expected = cur.execute("SELECT count(value), sum(value), min(value), max(value) FROM observations").fetchone()
    expected_days = dict(cur.execute(f"SELECT timezone('{TZ}', ts)::DATE d, count(value) FROM observations "
                                     "WHERE entity_id = 'e7' GROUP BY d").fetchall())  # fmt: skip
    kept = cur.execute("SELECT count(*) FROM observations WHERE ts >= $cutoff", {"cutoff": cutoff}).fetchone()[0]

    writer = Writer(store)
    lags: list[tuple[float, float]] = []  # (when, receipt to commit) of every batch
    writer.listeners.append(
        lambda batch: lags.append(
            (time.monotonic(), max((datetime.now(UTC) - e.received_at).total_seconds() for e in batch.envelopes))
        )
    )
    writer.start()
    streaming = threading.Event()
    streaming.set()
    sent = 0

    def stream() -> None:
        nonlocal sent
        while streaming.is_set():
            at = datetime.now(UTC)
            reading = Observation("live", "water_level", 1.0, "m", at, "f", f"live{sent}")
            writer.put(Envelope("f", at, records=Decoded(observations=[reading])))
            sent += 1
            time.sleep(1 / STREAM_RATE)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    time.sleep(3)  # the baseline: the writer's lag with no retention running
    began = time.monotonic()
    run = retention.apply(store, KEEP_DAYS, TZ, now)
    ended = time.monotonic()
    time.sleep(1)
    streaming.clear()
    streamer.join(5)
    assert writer.flush(60)
    writer.stop()

    values, total, low, high = expected
    assert run.rolled_up.rows == HISTORY and run.removed.rows == removed
    hourly = cur.execute("SELECT sum(n), sum(sum), min(min), max(max) FROM observations_hourly").fetchone()
    daily = cur.execute("SELECT sum(n), sum(sum), min(min), max(max) FROM observations_daily").fetchone()
    for summary in (hourly, daily):
        assert summary[0] == values and abs(summary[1] - total) < 1e-6 * total and summary[2:] == (low, high)
    days = dict(cur.execute("SELECT day, n FROM observations_daily WHERE entity_id = 'e7'").fetchall())
    assert days == expected_days  # the city's days, not UTC's
    assert cur.execute(f"SELECT count(*) {old}", {"cutoff": cutoff}).fetchone() == (0,)
    stream_rows = cur.execute("SELECT count(*) FROM observations WHERE entity_id = 'live'").fetchone()[0]
    assert cur.execute("SELECT count(*) FROM observations WHERE entity_id <> 'live'").fetchone() == (kept,)
    assert stream_rows == sent, f"ingest lost {sent - stream_rows} of {sent} messages during retention"
    store.close()

    before = [lag for at, lag in lags if at < began]
    during = [lag for at, lag in lags if began <= at <= ended + 0.5]
    longest = max(run.rolled_up.longest_slice_s, run.removed.longest_slice_s)
    print(f"\n{HISTORY:,} observations rolled up ({run.rolled_up.slices} slices) and {removed:,} older than "
          f"{KEEP_DAYS} days removed ({run.removed.slices} slices) in {ended - began:.1f} s, the longest slice "
          f"{longest:.2f} s; writer lag (receipt to commit) "
          f"before: median {statistics.median(before):.2f} s, max {max(before):.2f} s; during: median "
          f"{statistics.median(during):.2f} s, max {max(during):.2f} s over {len(during)} batches; "
          f"{stream_rows:,} streamed, all stored")  # fmt: skip
    assert during, "no batch was written while retention ran"
    # Blocked for at most about a slice: the worst lag is the usual batching plus the longest slice.
    assert max(during) <= max(before) + longest + 0.5, (max(before), max(during), longest)


def test_a_late_reading_is_counted_once_in_the_hour_it_belongs_to(tmp_path):
    store = DuckDBStore(tmp_path / "cityops.duckdb")
    cur = store.cursor()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    insert = "INSERT INTO observations VALUES ('e1', 'level', $v, 'm', $ts, 'ok', 'f', $id, $received, NULL)"
    cur.execute(insert, {"v": 1.0, "ts": now - timedelta(hours=2), "id": "a", "received": now - timedelta(hours=2)})
    retention.roll_up(store, TZ, now)
    retention.roll_up(store, TZ, now)  # again: nothing is counted twice
    # A reading of three hours ago arrives an hour from now (a gateway that was offline).
    later = now + timedelta(hours=1)
    cur.execute(insert, {"v": 5.0, "ts": now - timedelta(hours=3), "id": "b", "received": later})
    retention.roll_up(store, TZ, later)  # not yet: it may still be committing
    assert cur.execute("SELECT sum(n) FROM observations_hourly").fetchone() == (1,)
    retention.roll_up(store, TZ, later + timedelta(minutes=10))
    hours = cur.execute("SELECT hour, n, sum FROM observations_hourly ORDER BY hour").fetchall()
    assert hours == [(now - timedelta(hours=3), 1, 5.0), (now - timedelta(hours=2), 1, 1.0)]
    assert cur.execute("SELECT n, sum FROM observations_daily").fetchall() == [(2, 6.0)]
    store.close()


def test_a_dense_backlog_is_rolled_up_in_short_slices_from_the_first(tmp_path):
    """A city's hour of readings not yet summarised (after an import or a long stop) starts with the smallest slice:
    a first slice of a day took one transaction of 10 M rows and 470 MB more memory (bench/city_scale.py)."""
    store = DuckDBStore(tmp_path / "cityops.duckdb")
    cur = store.cursor()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    start = now - timedelta(hours=1, minutes=10)
    cur.execute(
        "INSERT INTO observations SELECT 'e' || (i % 1000), 'level', 1, 'm', t, 'ok', 'f', 'h' || i, t, NULL "
        "FROM (SELECT i, $start + to_microseconds(i * 18_000) AS t FROM range(200_000) r(i))",  # an hour, dense
        {"start": start},
    )
    run = retention.roll_up(store, TZ, now)
    assert run.rows == 200_000 and run.slices >= 4, run  # 5, 10, 20 and 40 minutes at most: not one slice
    assert cur.execute("SELECT sum(n) FROM observations_daily").fetchone() == (200_000,)
    store.close()
