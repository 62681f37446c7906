"""`cityops backup` while ingest runs makes a consistent copy (one moment of the store: a feed's message counter
agrees with the rows its messages stored), and `cityops restore` into a fresh install gives the same counts, alerts
and timelines, with accounts that sign in; a restore never overwrites an install unasked."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import duckdb

from tests.harness import ROOT, CityOps, observation, publisher, wait_until
from tests.reliability.test_restart import LIANCHI, DutyDesk, raise_alert

RATE = 1_000  # messages/s streaming while the backup is taken


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cityops.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)  # fmt: skip


def snapshot(path) -> dict:
    with duckdb.connect(str(path), read_only=True) as db:
        return {
            "alerts": db.execute(
                "SELECT id, rule_id, subject_id, state, severity, created_at FROM alerts ORDER BY id"
            ).fetchall(),  # fmt: skip
            "timeline": db.execute(
                "SELECT id, alert_id, ts, actor, action, to_state, note FROM alert_log ORDER BY id"
            ).fetchall(),  # fmt: skip
            "observations": db.execute("SELECT count(*), count(DISTINCT msg_id) FROM observations").fetchone(),
            "messages": db.execute("SELECT messages FROM feed_status WHERE feed_id = 'test-flood'").fetchone()[0],
            "entities": db.execute("SELECT count(*) FROM entities").fetchone()[0],
        }


def test_backup_while_ingest_runs_then_restore_into_a_fresh_install(tmp_path, mosquitto):
    for install in ("site", "fresh"):
        (tmp_path / install).mkdir()
    app = CityOps(tmp_path / "site", mosquitto.port)
    backup_dir = tmp_path / "backup"
    client = publisher(mosquitto.port, "reliability-backup-pub")
    try:
        app.start()
        raise_alert(client, "g1", LIANCHI)  # one entity message and one reading: two messages
        desk = DutyDesk(app.web_port)
        wait_until(lambda: "Acknowledged 1" in desk.acknowledge(1), 20, "alert 1 acknowledged")
        streaming = threading.Event()
        streaming.set()

        def stream() -> None:
            n = 0
            while streaming.is_set():
                client.publish("test/flood/obs/g1", observation(n), qos=1)
                n += 1
                time.sleep(1 / RATE)

        threading.Thread(target=stream, daemon=True).start()
        wait_until(lambda: app.health()["observations"] > 3_000, 30, "ingest under way")
        before = app.health()["observations"]
        began = time.monotonic()
        made = cli("backup", "--config", str(app.config), "--to", str(backup_dir))
        took = time.monotonic() - began
        after = app.health()["observations"]
        streaming.clear()
        assert made.returncode == 0, made.stderr
        assert after > before, "nothing was ingested while the backup ran: it did not test a running ingest"
        refused = cli("backup", "--config", str(app.config), "--to", str(backup_dir))
        assert refused.returncode == 1 and "exists already" in refused.stderr
        assert app.stop() == 0
    finally:
        app.kill()
        client.loop_stop()
        client.disconnect()

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    copy = snapshot(backup_dir / "cityops.duckdb")
    stored, distinct = copy["observations"]
    # One moment: every message the feed counted is in the copy, and no row is there without its message.
    assert copy["messages"] == stored + copy["entities"], copy
    assert stored == distinct == manifest["counts"]["observations"]
    assert [a[3] for a in copy["alerts"]] == ["acknowledged"]
    assert [t[4] for t in copy["timeline"]] == ["fire", "acknowledge"]

    fresh = CityOps(tmp_path / "fresh", mosquitto.port)
    restored = cli("restore", "--config", str(fresh.config), "--from", str(backup_dir))
    assert restored.returncode == 0, restored.stderr
    assert snapshot(tmp_path / "fresh" / "cityops.duckdb") == copy
    again = cli("restore", "--config", str(fresh.config), "--from", str(backup_dir))
    assert again.returncode == 1 and "fresh install" in again.stderr, again.stderr
    try:
        restart = fresh.start()
        health = fresh.health()
        assert health["observations"] == stored and health["entities"] == copy["entities"]
        desk = DutyDesk(fresh.web_port)  # the accounts came back too: duty signs in with its password
        assert desk.dependencies
        assert fresh.stop() == 0
    finally:
        fresh.kill()
    print(f"\nbackup of {stored:,} observations, {len(copy['alerts'])} alert with {len(copy['timeline'])} timeline "
          f"entries taken in {took:.1f} s while {after - before:,} messages were stored; restored into a fresh "
          f"install, which started in {restart:.1f} s with the same counts, alerts and timelines")  # fmt: skip
