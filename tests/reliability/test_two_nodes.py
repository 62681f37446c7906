"""Two CityOps nodes on one PostgreSQL database share a city's feed through a shared subscription, while the leader
is killed with SIGKILL twice and started again: every message is stored exactly once, each alert the rules call
for is opened once, and a time limit that runs out while the leader is down escalates once."""

from __future__ import annotations

import threading
import time

import pytest

from tests.cluster import leader as cluster_leader
from tests.cluster import two_nodes
from tests.harness import observation, publish_gauge, publisher, send, wait_until
from tests.rule_city import JINGXIU

MESSAGES = 50_000
HIGH_GAUGES = 20  # each gets one reading over the rule's threshold during the stream: one alert each
ACKNOWLEDGE_S = 12  # the red alerts' limit for acknowledging (the test config's minutes, as seconds)
RATE = 2_000  # messages a second: the stream lasts 25 s


@pytest.fixture
def nodes(postgres, mosquitto, tmp_path):
    with two_nodes(postgres, mosquitto, tmp_path, "two_nodes", acknowledge_red_min=ACKNOWLEDGE_S / 60) as made:
        yield made


def leader(postgres) -> str | None:
    return cluster_leader(postgres, "two_nodes")


def count(postgres, sql: str) -> int:
    return int(postgres.psql(sql, "two_nodes"))


def test_the_leader_killed_twice_loses_nothing_and_does_nothing_twice(nodes, postgres, mosquitto):
    nodes["a"].start()
    wait_until(lambda: leader(postgres) == "a", 30, "node a leads")
    nodes["b"].start()
    client = publisher(mosquitto.port, "two-nodes-pub")
    publish_gauge(client)
    for i in range(HIGH_GAUGES):
        publish_gauge(client, f"h{i}", f"H{i}")
    publish_gauge(client, f"h{HIGH_GAUGES}", "LATE", where=JINGXIU)  # another district: an incident of its own
    published = 0

    def publish_all() -> None:
        nonlocal published
        began = time.monotonic()
        for n in range(MESSAGES):
            client.publish("test/flood/obs/g1", observation(n), qos=1)  # 5 to 9 m: under the threshold
            if n % (MESSAGES // HIGH_GAUGES) == 0 and n // (MESSAGES // HIGH_GAUGES) < HIGH_GAUGES:
                send(client, f"test/flood/obs/h{n // (MESSAGES // HIGH_GAUGES)}",
                     {"type": "observation", "entity": f"h{n // (MESSAGES // HIGH_GAUGES)}", "id": f"high{n}",
                      "values": {"water_level": 13}})  # fmt: skip
            published = n + 1
            if n % 1000 == 999:  # a steady stream of RATE a second, over both kills
                time.sleep(max(0.0, began + published / RATE - time.monotonic()))

    sender = threading.Thread(target=publish_all, daemon=True)
    sender.start()
    kills = []
    for round_ in range(2):
        # A red alert whose time to be acknowledged runs out just after its leader dies.
        late = f"h{HIGH_GAUGES}" if round_ == 0 else None
        if late:
            send(client, f"test/flood/obs/{late}", {"type": "observation", "entity": late, "id": "late",
                                                    "values": {"water_level": 14}})  # fmt: skip
            wait_until(lambda: count(postgres, "SELECT count(*) FROM alerts WHERE subject_id LIKE '%h20'") == 1, 30,
                       "the late gauge's alert opened")  # fmt: skip
            time.sleep(ACKNOWLEDGE_S - 1.5)
        else:
            wait_until(lambda: published >= MESSAGES * 0.85, 120, "the stream well under way")
        assert published < MESSAGES, "the stream ended before the kill"
        victim = leader(postgres)
        assert victim in nodes, f"no node leads before kill {round_ + 1}"
        killed_at = time.monotonic()
        nodes[victim].kill()
        survivor = next(name for name in nodes if name != victim)
        wait_until(lambda s=survivor: leader(postgres) == s, 15, f"node {survivor} takes over")
        kills.append((victim, published, round(time.monotonic() - killed_at, 1)))
        nodes[victim].start()  # its persistent session's share of the messages waits for it at the broker
    sender.join(300)
    assert published == MESSAGES
    readings = "SELECT count(*) FROM observations WHERE entity_id LIKE '%:g1'"
    wait_until(lambda: count(postgres, readings) >= MESSAGES, 240, "every message stored", every=1)
    time.sleep(ACKNOWLEDGE_S + 3)  # redeliveries, the last alerts' time limits
    client.loop_stop()
    client.disconnect()

    print(f"\nkills (node, published, failover s): {kills}")
    assert count(postgres, readings) == MESSAGES, "stored twice"
    assert count(postgres, "SELECT count(DISTINCT msg_id) FROM observations WHERE entity_id LIKE '%:g1'") == MESSAGES
    per_gauge = postgres.psql("SELECT subject_id, count(*) FROM alerts GROUP BY 1 ORDER BY 1", "two_nodes")
    opened = dict(line.split("|") for line in per_gauge.splitlines())
    assert sorted(opened) == sorted(f"test-flood:h{i}" for i in range(HIGH_GAUGES + 1)), opened
    assert set(opened.values()) == {"1"}, f"an alert opened twice: {opened}"
    overdue = postgres.psql(
        "SELECT incident_id, count(*) FROM incident_log WHERE action = 'overdue' GROUP BY 1 ORDER BY 1", "two_nodes"
    )
    assert overdue, "no time limit ran out"
    assert all(line.endswith("|1") for line in overdue.splitlines()), f"an incident escalated twice: {overdue}"
    late = count(postgres, "SELECT count(*) FROM incident_log l JOIN alerts a ON a.incident_id = l.incident_id "
                           "WHERE a.subject_id = 'test-flood:h20' AND l.action = 'overdue'")  # fmt: skip
    assert late == 1, "the time limit that ran out while its leader was down did not escalate once"
    for node in nodes.values():
        assert node.stop() == 0
