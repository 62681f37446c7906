"""Retention on either engine: what is older than the age kept goes, once it is in the summaries, which keep its
counts. On PostgreSQL the days that end before the cutoff go as whole partitions."""

from datetime import UTC, datetime, timedelta

from store import retention
from store.records import Decoded, Observation
from store.writer import Envelope, Writer

DAYS = 6
PER_DAY = 48  # a reading every half hour


def test_old_readings_go_once_summarised_and_their_counts_stay(open_store):
    # The hour the test runs in, not the one it was collected in: a suite collected at 02:59 ran this at 03:10, when
    # the roll-up's bound (an hour after 02:00, less its margin) was before the rows' received_at, and nothing was
    # summarised or removed.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store = open_store()
    writer = Writer(store, max_delay=0.01)
    writer.start()
    readings = [Observation("e1", "level", float(n % 7), "m", now - timedelta(days=DAYS) + timedelta(minutes=30 * n),
                            "f", f"m{n}") for n in range(DAYS * PER_DAY)]  # fmt: skip
    writer.put(Envelope("f", now, records=Decoded(observations=readings)))
    assert writer.flush(30)
    writer.stop()
    later = now + timedelta(hours=2)  # past the roll-up's margin after the commit, whenever in the hour it was
    run = retention.apply(store, keep_days=3, timezone="UTC", now=later)
    cur = store.cursor()
    cutoff = later - timedelta(days=3)
    kept = cur.execute("SELECT count(*), min(ts) FROM observations").fetchone()
    expected_kept = sum(1 for r in readings if r.ts >= cutoff)
    assert kept[0] == expected_kept and kept[1] >= cutoff
    assert run.removed.rows == len(readings) - expected_kept
    assert cur.execute("SELECT sum(n) FROM observations_hourly").fetchone()[0] == len(readings)
    if store.engine == "postgresql":
        days = cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                           "WHERE i.inhparent = 'observations'::regclass AND c.relname <> 'observations_other'"
                           ).fetchall()  # fmt: skip
        first_kept = (cutoff - timedelta(days=1)).strftime("%Y%m%d")
        assert all(name >= f"observations_{first_kept}" for (name,) in days), days
        assert run.removed.slices >= 2, "whole days were dropped"
