"""The broker goes away for 30 s in the middle of a stream (persistence on) and comes back: ingest reconnects with
backoff, nothing is lost and nothing stored twice, and feed health keeps the outage with its start and its end."""

from __future__ import annotations

import time
from datetime import datetime

from tests.harness import Stream, publish_gauge, publisher, stored_readings, wait_until

MESSAGES = 20_000
RATE = 500  # messages/s: a stream that runs before, through and after the outage
OUTAGE_S = 30


def test_broker_outage_of_30_s_loses_nothing_and_feed_health_shows_it(cityops, mosquitto, tmp_path):
    cityops.start()
    client = publisher(mosquitto.port, "reliability-outage-pub")
    publish_gauge(client)
    # paho keeps what it cannot send while the broker is away, and sends it after.
    stream = Stream(client, MESSAGES, RATE, pace_every=100).start()
    wait_until(lambda: cityops.health()["observations"] >= 2_000, 60, "the stream flowing")
    mosquitto.stop()  # SIGTERM: mosquitto saves its persistent store on the way out
    stopped = time.monotonic()
    wait_until(lambda: next(f for f in cityops.health()["feeds"] if f["id"] == "test-flood")["state"] == "down",
               15, "the feed shown down")  # fmt: skip
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
    stored_in_outage = cityops.health()["observations"]  # what was queued when the broker went is written by now
    mosquitto.start()
    restarted = time.monotonic()
    wait_until(lambda: cityops.health()["observations"] > stored_in_outage, 60, "ingest after the broker returned")
    reconnected_s = time.monotonic() - restarted
    stream.join(120)
    assert stream.published == MESSAGES
    wait_until(lambda: cityops.health()["observations"] >= MESSAGES, 120, "every message stored", every=1)
    changes = [c for c in cityops.health()["feed_changes"] if c["id"] == "test-flood"][::-1]  # oldest first
    assert cityops.stop() == 0
    client.loop_stop()
    client.disconnect()

    total, distinct = stored_readings(tmp_path / "cityops.duckdb")
    down = next(i for i, c in enumerate(changes) if c["state"] == "down")
    back = next(c for c in changes[down + 1 :] if c["state"] == "ok")
    shown_s = (datetime.fromisoformat(back["ts"]) - datetime.fromisoformat(changes[down]["ts"])).total_seconds()
    print(f"\npublished {MESSAGES:,} at {RATE}/s; broker away {OUTAGE_S} s; stored {total:,} rows, {distinct:,} "
          f"distinct; duplicates {total - distinct}, lost {MESSAGES - distinct}; ingest again {reconnected_s:.1f} s "
          f"after the broker returned; feed health: down for {shown_s:.1f} s ({changes[down]['reason']})")  # fmt: skip
    assert "broker" in changes[down]["reason"]
    assert OUTAGE_S - 2 <= shown_s <= OUTAGE_S + 15, changes
    assert distinct == MESSAGES, f"lost {MESSAGES - distinct}"
    assert total == distinct, f"{total - distinct} stored twice"
