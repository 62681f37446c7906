"""Overload: far more offered than CityOps can write. A backlog of 60,000 QoS 1 messages waits at the broker when
CityOps starts (all offered at once, many times the rate it can write), with a live stream on top. The bounded queue
holds back what it cannot take: the queue never passes its capacity, memory stays flat (the backlog stays at the
broker), the health report shows the lag, and the backlog drains, every message stored once."""

from __future__ import annotations

import threading
import time

from dashboard.health import resident_mb
from tests.harness import CityOps, observation, publisher, stored_readings, wait_until

BACKLOG = 60_000
LIVE_RATE = 200  # messages/s published while the backlog drains
QUEUE = 200  # 500 was all but filled (454) on a machine whose decoding barely outran the writer's commits


def test_overload_is_held_at_the_broker_memory_stays_bounded_and_the_backlog_drains(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port, env={"CITYOPS_STORE__QUEUE_SIZE": str(QUEUE)})
    client = publisher(mosquitto.port, "reliability-overload-pub")
    try:
        app.start()  # the persistent session exists from here on
        time.sleep(3)  # the start-up's own allocations settle before the baseline
        idle_mb = resident_mb(app.process.pid)
        assert app.stop() == 0
        for n in range(BACKLOG):
            sent = client.publish("test/flood/obs/g1", observation(n), qos=1)
        sent.wait_for_publish(60)  # the broker has them all (paho sends in order)

        app.start()
        began = time.monotonic()
        live_done = threading.Event()

        def live() -> None:
            for n in range(BACKLOG, BACKLOG + 10 * LIVE_RATE):
                client.publish("test/flood/obs/g1", observation(n), qos=1)
                time.sleep(1 / LIVE_RATE)
            live_done.set()

        threading.Thread(target=live, daemon=True).start()
        total = BACKLOG + 10 * LIVE_RATE
        peak_mb, peak_queued, peak_lag, samples, full = 0.0, 0, 0.0, 0, 0
        while time.monotonic() - began < 180:
            report = app.health()
            writer = report["writer"]
            peak_mb = max(peak_mb, resident_mb(app.process.pid))
            peak_queued, peak_lag = max(peak_queued, writer["queued"]), max(peak_lag, writer["lag_s"])
            full += writer["holding_back"]
            samples += 1
            if report["observations"] >= total and live_done.is_set():
                break
            time.sleep(0.25)
        drained_s = time.monotonic() - began
        assert app.health()["observations"] >= total, "the backlog did not drain within 180 s"
        wait_until(lambda: app.health()["writer"]["queued"] == 0, 10, "the queue empty")
        report = app.health()
        held, memory = report["writer"]["held_back"], report["memory"]
        process_mb = resident_mb(app.process.pid)
        assert app.stop() == 0
    finally:
        app.kill()
        client.loop_stop()
        client.disconnect()

    stored, distinct = stored_readings(tmp_path / "cityops.duckdb")
    print(f"\nbacklog {BACKLOG:,} at the broker + {LIVE_RATE}/s live: drained in {drained_s:.1f} s "
          f"({total / drained_s:,.0f} msg/s); queue peak {peak_queued} of {QUEUE}; lag peak {peak_lag:.1f} s; "
          f"full in {full} of {samples} samples, {held:,} messages held back; RSS {idle_mb:.0f} MB idle, "
          f"{peak_mb:.0f} MB peak; stored {stored:,}, distinct {distinct:,}, lost {total - distinct}, "
          f"duplicates {stored - distinct}")  # fmt: skip
    assert peak_queued <= QUEUE
    assert peak_lag > 0, "the lag was never shown while a backlog drained"
    assert held > 0, "the health report never said that messages found the queue full and were held back"
    # The backlog (≈ 8 MB of payloads, far more as decoded records) never came into our memory at once.
    assert peak_mb - idle_mb < 150, f"memory grew by {peak_mb - idle_mb:.0f} MB under overload"
    assert distinct == total, f"lost {total - distinct}"
    # The health report says what the process holds, and DuckDB's part of it within its limit.
    assert abs(memory["rss_mb"] - process_mb) < 50, (memory, process_mb)
    assert 0 < memory["store_mb"]["total"] <= memory["store_limit_mb"], memory
    assert stored == distinct, f"{stored - distinct} stored twice"
