"""A crash of CityOps during ingest loses nothing and stores nothing twice: 50,000 QoS 1 messages with unique ids
are published while `cityops run` is killed with SIGKILL twice at random moments and started again. Messages are
acknowledged to the broker only after their commit, so the broker redelivers what was not committed; what was
committed but not yet acknowledged comes again and is dropped as a duplicate."""

from __future__ import annotations

import random
import threading
import time

from tests.harness import observation, publish_gauge, publisher, stored_readings, wait_until

MESSAGES = 50_000


def test_sigkill_twice_during_ingest_stores_every_message_exactly_once(cityops, mosquitto, tmp_path):
    rng = random.Random()
    first_start = cityops.start()  # the session exists at the broker from here on, and queues while we are down
    client = publisher(mosquitto.port, "reliability-crash-pub")
    publish_gauge(client)
    published = 0

    def publish_all() -> None:
        nonlocal published
        for n in range(MESSAGES):
            client.publish("test/flood/obs/g1", observation(n), qos=1)
            published = n + 1
            if n % 2000 == 1999:
                time.sleep(0.05)  # a steady stream, not one burst: the kills land in the middle of it

    sender = threading.Thread(target=publish_all, daemon=True)
    sender.start()
    kills, recoveries = [], []
    for _ in range(2):
        target = rng.randint(MESSAGES // 10, MESSAGES * 8 // 10)
        wait_until(lambda target=target: cityops.health()["observations"] >= target * 0.5 or published >= target,
                   120, "ingest under way")  # fmt: skip
        time.sleep(rng.uniform(0, 1.5))
        stored_before = cityops.health()["observations"]
        cityops.kill()
        kills.append((published, stored_before))
        recoveries.append(cityops.start())
    sender.join(120)
    assert published == MESSAGES
    wait_until(lambda: cityops.health()["observations"] >= MESSAGES, 180, "every message stored", every=1)
    time.sleep(2)  # anything redelivered late would arrive now
    assert cityops.stop() == 0
    client.loop_stop()
    client.disconnect()

    total, distinct = stored_readings(tmp_path / "cityops.duckdb")
    print(f"\npublished {MESSAGES:,}; killed at {kills} (published, stored); stored {total:,} rows, "
          f"{distinct:,} distinct ids; duplicates {total - distinct}, lost {MESSAGES - distinct}; "
          f"first start {first_start:.1f} s, restarts {', '.join(f'{r:.1f} s' for r in recoveries)}")  # fmt: skip
    assert distinct == MESSAGES, f"lost {MESSAGES - distinct}"
    assert total == distinct, f"{total - distinct} stored twice"
