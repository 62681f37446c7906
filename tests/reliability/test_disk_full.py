"""A full disk: writing fails cleanly (nothing committed is lost, the file is not corrupted), the health report says
the store is failing and why, QoS 1 messages wait at the broker meanwhile, and ingest resumes by itself when space
is freed. The store lives on a small tmpfs of its own, filled up with a file the test then deletes."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import duckdb
import pytest

from tests.harness import CityOps, observation, publish_gauge, publisher, wait_until

MESSAGES = 30_000
DISK_MB = 48
LEFT_FREE_MB = 2


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a tmpfs: run `make test` as root (as CI does)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def free_mb(path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 1e6


def test_disk_full_fails_cleanly_and_ingest_resumes_when_space_is_freed(tmp_path, mosquitto, small_disk):
    store_path = small_disk / "cityops.duckdb"
    app = CityOps(tmp_path, mosquitto.port, env={"CITYOPS_STORE__PATH": str(store_path)})
    try:
        app.start()
        client = publisher(mosquitto.port, "reliability-disk-pub")
        publish_gauge(client)
        wait_until(lambda: app.health()["entities"] == 1, 30, "the gauge stored")
        filler = small_disk / "filler"
        with open(filler, "wb") as f:  # leave the store a little room, then none
            f.write(b"\0" * int((free_mb(small_disk) - LEFT_FREE_MB) * 1e6))

        published = 0

        def publish_all() -> None:
            nonlocal published
            for n in range(MESSAGES):
                client.publish("test/flood/obs/g1", observation(n), qos=1)
                published = n + 1
                if n % 1000 == 999:
                    time.sleep(0.1)

        sender = threading.Thread(target=publish_all, daemon=True)
        sender.start()
        wait_until(lambda: app.health()["writer"]["last_error"], 120, "the writer to report the full disk")
        report = app.health()
        stored_when_full = report["observations"]
        print(f"\ndisk full after {stored_when_full:,} stored, {published:,} published: {report['writer']}")
        assert "No space left" in report["writer"]["last_error"], report["writer"]
        assert report["writer"]["failing_since"]
        time.sleep(5)  # full for a while: nothing is lost meanwhile, the messages wait
        assert app.process.poll() is None, "cityops died of the full disk"

        filler.unlink()
        freed = time.monotonic()
        sender.join(120)
        assert published == MESSAGES
        wait_until(lambda: app.health()["observations"] >= MESSAGES, 120, "every message stored", every=1)
        recovered_s = time.monotonic() - freed
        report = app.health()
        assert report["writer"]["last_error"] is None and report["writer"]["failing_since"] is None
        assert app.stop() == 0
        client.loop_stop()
        client.disconnect()
    finally:
        app.kill()

    with duckdb.connect(str(store_path), read_only=True) as db:
        total, distinct = db.execute("SELECT count(*), count(DISTINCT msg_id) FROM observations").fetchone()
        (entities,) = db.execute("SELECT count(*) FROM entities").fetchone()
    print(f"published {MESSAGES:,}; stored {total:,} rows, {distinct:,} distinct; duplicates {total - distinct}, "
          f"lost {MESSAGES - distinct}; all stored {recovered_s:.1f} s after space was freed")  # fmt: skip
    assert entities == 1
    assert distinct == MESSAGES, f"lost {MESSAGES - distinct}"
    assert total == distinct, f"{total - distinct} stored twice"


def test_a_database_invalidated_by_a_failed_checkpoint_is_opened_again_and_loses_nothing(small_disk):
    """DuckDB invalidates the whole database when a checkpoint hits the full disk; the writer opens it again (the
    WAL replays every commit) and writes what waited once there is room."""
    from store.duckdb_engine import DuckDBStore
    from store.writer import Writer
    from tests.unit.test_writer import FLUSH_S, obs

    store = DuckDBStore(small_disk / "cityops.duckdb")
    cur = store.cursor()
    cur.execute("SET checkpoint_threshold = '1MB'")  # checkpoint often, so the checkpoint is what meets the full disk
    cur.execute("CREATE TABLE ballast (payload VARCHAR)")
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * int((free_mb(small_disk) - 8) * 1e6))
    committed = 0
    with pytest.raises(duckdb.FatalException):
        for _ in range(1000):
            cur.execute("INSERT INTO ballast SELECT repeat('x', 200) || range FROM range(5000)")
            committed += 1
    with pytest.raises(duckdb.FatalException, match="invalidated"):
        store.cursor().execute("SELECT count(*) FROM ballast").fetchall()

    writer = Writer(store, max_delay=0.05)
    writer.start()
    try:
        writer.put(obs(1))
        wait_until(lambda: writer.last_error, 30, "the writer to meet the invalidated store")
        filler.unlink()
        assert writer.flush(FLUSH_S), writer.stats()
        assert writer.stats()["last_error"] is None
        cur = store.cursor()
        # The insert that raised had committed: DuckDB says so ("COMMIT succeeded and is durable, but the
        # autocheckpoint failed"), and the WAL brought it back.
        assert cur.execute("SELECT count(*) FROM ballast").fetchone() == ((committed + 1) * 5000,)
        assert cur.execute("SELECT msg_id FROM observations").fetchall() == [("m1",)]
    finally:
        writer.stop()
        store.close()
