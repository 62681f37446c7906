"""Two nodes on one PostgreSQL database, as behind a load balancer: what a duty officer does on node b shows on a
wall open on node a; when node a, the leader, is killed, the wall and the duty desk open on node b go on; and once
node a is back, node b's rule engine raises what comes next, on both nodes' walls."""

from __future__ import annotations

import pytest

from tests.cluster import leader, two_nodes
from tests.harness import LIANCHI, send, signed_in, wait_until, wall_display
from tests.rule_city import JINGXIU

pytestmark = pytest.mark.browser

QINGYUAN = (115.4898, 38.7652)  # 清苑区, another district: an incident of its own
ACKNOWLEDGE = "#duty-actions button[data-action=acknowledge]"


def gauge(publisher, gid: str, name: str, where: tuple[float, float], level: float) -> None:
    send(publisher, f"test/flood/entity/{gid}", {"type": "entity", "id": gid, "domain": "flood", "kind": "river_gauge",
                                                 "name": name, "lon": where[0], "lat": where[1]})  # fmt: skip
    send(publisher, f"test/flood/obs/{gid}", {"type": "observation", "entity": gid, "values": {"water_level": level}})


def wall(chromium, port: int):
    page = wall_display(chromium, port, viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{port}/wall?lang=en")
    page.wait_for_selector("path.region", timeout=30_000)
    return page


def acknowledge(duty, port: int, alert: int) -> None:
    duty.goto(f"http://127.0.0.1:{port}/duty?lang=en&alert={alert}")
    duty.wait_for_selector(ACKNOWLEDGE, timeout=30_000)
    duty.click(ACKNOWLEDGE)
    wait_until(lambda: duty.locator(ACKNOWLEDGE).count() == 0, 10, f"alert {alert} acknowledged")


def test_an_action_on_one_node_shows_on_the_other_and_node_b_goes_on_without_node_a(postgres, mosquitto, publisher,
                                                                               chromium, tmp_path):  # fmt: skip
    with two_nodes(postgres, mosquitto, tmp_path, "browser_nodes") as nodes:
        a, b = nodes["a"], nodes["b"]
        a.start()
        wait_until(lambda: leader(postgres, "browser_nodes") == "a", 30, "node a leads")
        b.start()
        errors: list[str] = []
        on_a = wall(chromium, a.web_port)
        on_b = wall(chromium, b.web_port)
        duty = signed_in(chromium, b.web_port, "duty", viewport={"width": 1440, "height": 900})
        for page in (on_a, on_b, duty):
            page.on("pageerror", lambda exc: errors.append(str(exc)))

        gauge(publisher, "g1", "府河 G1", LIANCHI, 12.6)
        gauge(publisher, "g2", "清苑 G2", QINGYUAN, 12.7)
        both = "2 red incidents awaiting acknowledgement"
        for page in (on_a, on_b):
            wait_until(lambda p=page: p.locator("#wall-alarm").inner_text().startswith(both), 20, "both named")
        # The two nodes share the feed: which gauge's alert was stored first is not known in advance.
        g1, g2 = (int(postgres.psql(f"SELECT id FROM alerts WHERE subject_id = 'test-flood:{gid}'", "browser_nodes"))
                  for gid in ("g1", "g2"))  # fmt: skip
        acknowledge(duty, b.web_port, g1)  # on node b, in a session signed in on node b
        second = "Red incident awaiting acknowledgement: 清苑 G2 water too high · Qingyuan District"
        wait_until(lambda: on_a.locator("#wall-alarm").inner_text() == second, 20, "node a's wall heard of it")

        a.kill()  # the leader
        wait_until(lambda: leader(postgres, "browser_nodes") == "b", 15, "node b takes over")
        acknowledge(duty, b.web_port, g2)  # node b's desk and wall go on without node a
        wait_until(lambda: on_b.locator("#wall-alarm").inner_text() == "", 20, "node b's wall follows its desk")

        # Node a is started again, as its service manager would: mosquitto keeps its share of the feed's messages
        # for its session meanwhile. What comes now is raised by node b's rule engine, and shows on both walls.
        a.start()
        on_a = wall(chromium, a.web_port)
        on_a.on("pageerror", lambda exc: errors.append(str(exc)))
        gauge(publisher, "g3", "竞秀 G3", JINGXIU, 12.8)  # a district without an incident yet
        third = "Red incident awaiting acknowledgement: 竞秀 G3 water too high · Jingxiu District"
        for page in (on_a, on_b):
            wait_until(lambda p=page: p.locator("#wall-alarm").inner_text() == third, 30, "the next incident named")
        assert leader(postgres, "browser_nodes") == "b"
        assert not errors, errors
        for node in (a, b):
            assert node.stop() == 0
