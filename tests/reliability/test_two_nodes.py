"""Two CityOps nodes on one PostgreSQL database share a city's feed through a shared subscription, while the leader
is killed with SIGKILL twice and started again: every message is stored exactly once, each alert the rules call
for is opened once, and a time limit that runs out while the leader is down escalates once."""

from __future__ import annotations

import time

import pytest

from tests.cluster import leader as cluster_leader
from tests.cluster import two_nodes
from tests.harness import Stream, publish_gauge, publisher, send, wait_until
from tests.rule_city import JINGXIU

MESSAGES = 50_000
HIGH_GAUGES = 20  # each gets one reading over the rule's threshold during the stream: one alert each
ACKNOWLEDGE_S = 8  # the red alerts' limit for acknowledging (the test config's minutes, as seconds)
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
    every = MESSAGES // HIGH_GAUGES

    def high(n: int) -> None:  # one reading over the threshold for each high gauge, spread over the stream
        if n % every == 0 and n // every < HIGH_GAUGES:
            send(
                client,
                f"test/flood/obs/h{n // every}",
                {"type": "observation", "entity": f"h{n // every}", "id": f"high{n}", "values": {"water_level": 13}},
            )

    stream = Stream(client, MESSAGES, RATE, also=high).start()  # g1's readings, 5 to 9 m: under the threshold
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
            wait_until(lambda: stream.published >= MESSAGES * 0.85, 120, "the stream well under way")
        assert stream.published < MESSAGES, "the stream ended before the kill"
        victim = leader(postgres)
        assert victim in nodes, f"no node leads before kill {round_ + 1}"
        killed_at = time.monotonic()
        nodes[victim].kill()
        survivor = next(name for name in nodes if name != victim)
        wait_until(lambda s=survivor: leader(postgres) == s, 15, f"node {survivor} takes over")
        kills.append((victim, stream.published, round(time.monotonic() - killed_at, 1)))
        nodes[victim].start()  # its persistent session's share of the messages waits for it at the broker
    stream.join(300)
    assert stream.published == MESSAGES
    readings = "SELECT count(*) FROM observations WHERE entity_id LIKE '%:g1'"
    wait_until(lambda: count(postgres, readings) >= MESSAGES, 240, "every message stored", every=1)
    time.sleep(3)  # redeliveries would come now
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
