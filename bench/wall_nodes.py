"""Publish → visible on a wall across nodes: a probe stored by node a, on the wall served by node b.

Two `cityops run` nodes on one PostgreSQL database and one mosquitto (tests/cluster.py), both taking a stream of
`rate` readings a second of `entities` gauges through the shared subscription. Probe events go to a topic only node a
subscribes to (a feed in node a's configuration alone), so node a stores every probe and node b hears of it through
LISTEN/NOTIFY alone. Two walls are open in headless Chromium, one on each node, and watch their event tickers as
bench/wall_latency.py does; a probe's latency on a's wall is the baseline (the same probe, the same run, no node
between), on b's the figure.
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import time
from pathlib import Path

from bench.server import chromium
from bench.wall_latency import WARM_UP_S, WATCH_TICKER, latencies, probe, said
from cityops.broker import Mosquitto, free_port
from tests.cluster import leader, two_nodes
from tests.harness import Stream, publisher, wait_until, wall_display
from tests.postgres_server import PostgresServer

PROBES = """
[[feeds]]
id = "probes"
transport = "mqtt"
topics = ["bench/probe/#"]
decoder = "cityops-json"
"""


def _load(client, entities: int, rate: int) -> Stream:
    """`entities` gauges described, then `rate` readings a second among them, until stopped."""
    for i in range(entities):
        lon, lat = 115.3 + (i % 60) * 0.006, 38.75 + (i // 60) * 0.006  # a grid over the city's middle
        body = {"type": "entity", "id": f"w{i}", "domain": "flood", "kind": "river_gauge", "name": f"W{i}",
                "lon": lon, "lat": lat}  # fmt: skip
        client.publish(f"test/flood/entity/w{i}", json.dumps(body).encode(), qos=1)

    def reading(n: int) -> tuple[str, bytes]:
        body = {
            "type": "observation",
            "entity": f"w{n % entities}",
            "id": f"r{n}",
            "values": {"water_level": 5 + (n % 50) / 10},
        }  # fmt: skip (under the rule's 12 m)
        return f"test/flood/obs/w{n % entities}", json.dumps(body).encode()

    return Stream(client, 10**9, rate, pace_every=100, message=reading).start()


def run(entities: int = 2_400, rate: int = 1_000, watch_s: int = 60, browser=None,
        warm_up_s: float = WARM_UP_S) -> dict:  # fmt: skip
    """A run smaller than the full one says nothing of the target."""
    full = (entities, rate, watch_s, warm_up_s) == (2_400, 1_000, 60, WARM_UP_S)
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp, chromium(browser) as browser:
        folder = Path(tmp)
        server = PostgresServer(folder / "postgres").start()
        broker = Mosquitto(free_port(), folder / "broker")
        broker.start()
        sender = publisher(broker.port, "bench-wall-nodes")
        try:
            with two_nodes(server, broker, folder / "nodes", "wall_nodes") as nodes:
                a, b = nodes["a"], nodes["b"]
                # Node a alone takes the probes: its own configuration names the feed.
                a.config.write_text(a.config.read_text() + PROBES, encoding="utf-8")
                a.start()
                wait_until(lambda: leader(server, "wall_nodes") == "a", 30, "node a leads")
                b.start()
                load = _load(sender, entities, rate)
                walls = {}
                for name, node in (("a", a), ("b", b)):
                    page = wall_display(browser, node.web_port, viewport={"width": 1920, "height": 1080})
                    page.goto(f"http://127.0.0.1:{node.web_port}/wall?lang=en")
                    page.wait_for_selector("#wall-ticker li", timeout=60_000)
                    walls[name] = page
                walls["b"].wait_for_timeout(warm_up_s * 1000)
                for page in walls.values():
                    page.evaluate(WATCH_TICKER)
                stored_before, began = _stored(server), time.perf_counter()
                sent: dict[str, float] = {}
                n = 0
                while time.perf_counter() - began < watch_s:
                    topic, payload = probe(n, prefix="bench/probe")
                    sent[str(n)] = time.time() * 1000
                    sender.publish(topic, payload, qos=1)
                    n += 1
                    walls["b"].wait_for_timeout(rng.uniform(200, 600))
                stored_rate = (_stored(server) - stored_before) / (time.perf_counter() - began)
                load.stop()
                seen = {}
                from playwright.sync_api import TimeoutError as PlaywrightTimeout

                for name, page in walls.items():
                    with contextlib.suppress(PlaywrightTimeout):
                        page.wait_for_function("n => Object.keys(window.seenAt).length >= n", arg=len(sent),
                                               timeout=5_000)  # fmt: skip
                    seen[name] = page.evaluate("() => window.seenAt")
                    page.close()
        finally:
            sender.disconnect()
            sender.loop_stop()
            broker.stop()
            server.stop()
    figures = {name: latencies(sent, seen[name]) for name in ("a", "b")}
    across, same = figures["b"], figures["a"]
    return {
        "name": "Publish → visible on a wall across nodes (PostgreSQL)",
        "figure": f"stored by node a, on node b's wall: {said(across)}; readings stored at {stored_rate:,.0f}/s "
        "by the two nodes meanwhile",
        "target": "p95 ≤ 500 ms at 1,000 msg/s (the one-node wall's target)",
        "met": (across["p95"] <= 500 and across["missing"] == 0 and stored_rate >= 0.9 * rate) if full else None,
        "baseline": f"the same probes on node a's own wall, in the same run: {said(same)}",
        "ratio": f"p95 {across['p95'] / same['p95']:.2f}× node a's own",
        "how": f"two `cityops run` nodes on one PostgreSQL 15 database and one mosquitto, both taking {rate:,} "
        f"readings/s of {entities:,} gauges (QoS 1) through the shared subscription; probe events published every "
        "0.2-0.6 s at random to a topic of a feed only node a has, so that node a stores every probe; a wall open "
        f"on each node in headless Chromium (1920×1080) for {warm_up_s:.0f} s first, then {watch_s} s of probes; "
        "latency from just before the publish to the animation frame after the probe's title entered each wall's "
        "ticker (MutationObserver), on the same clock",
        "limits": "between the nodes: node a's commit, its NOTIFY of the data version, node b's listener, then b's "
        "snapshot and wall as on one node. On this 2-core machine the two nodes, PostgreSQL, mosquitto, the load's "
        "publisher and two software-rendered walls share the cores",
    }


def _stored(server: PostgresServer) -> int:
    return int(server.psql("SELECT count(*) FROM observations", "wall_nodes"))


if __name__ == "__main__":
    print(run())
