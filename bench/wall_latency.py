"""Publish → visible on /wall: how long after a message is published its content is on the wall's screen.

`cityops run --demo` runs as its own process with its simulator publishing readings at `rate` messages a second.
Chromium opens the wall with the demo's display link; the page watches its event ticker (a MutationObserver, the
time taken at the next animation frame, when the change is painted). The benchmark publishes probe events over
MQTT (QoS 1) at random intervals, each titled with its number, and takes the time just before each publish; the
latency is the browser's time of first sight minus that (one machine, one clock). It covers the broker, decoding,
the writer's batch and commit, the snapshot, the news that wakes the wall (dashboard/news.py), the callback and
React. The baseline is the same wall without the news, refreshing on its tick (web.refresh_ms) alone. The wall is
measured as it runs for hours, after WARM_UP_S: not while it loads its layers.

The target is for a machine half as fast as this one, made so here: three busy processes beside the benchmark, under
which a bare paho subscriber (bench/ingest.py's yardstick) receives about half as many messages a second.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.ingest import bare_rate
from bench.server import Server, chromium, percentile
from cityops import DEMO_DIR, config
from dashboard.signin import DEMO_DISPLAY_TOKEN

LIANCHI = (115.4906, 38.8581)
WARM_UP_S = 15
BUSY_PROCESSES = 3  # beside the benchmark: a machine about half as fast (the module's docstring)
WATCH_TICKER = """() => {
    window.seenAt = {};
    const scan = () => requestAnimationFrame(() => {
        for (const title of document.querySelectorAll('#wall-ticker .event-title')) {
            const m = /^probe (\\d+)$/.exec(title.textContent);
            if (m && !(m[1] in window.seenAt)) window.seenAt[m[1]] = Date.now();
        }
    });
    new MutationObserver(scan).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def probe(n: int, prefix: str = "baoding/flood/event") -> tuple[str, bytes]:
    """Probe event `n`, titled "probe n" (what WATCH_TICKER looks for), timed now, on `prefix`/probe-n."""
    now = time.time()
    body = {"type": "event", "id": f"probe-{n}", "domain": "flood", "event_type": "probe",
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
            "lon": LIANCHI[0], "lat": LIANCHI[1], "severity": "blue", "title": f"probe {n}"}  # fmt: skip
    return f"{prefix}/probe-{n}", json.dumps(body).encode()


@contextlib.contextmanager
def _slower(busy: int) -> Iterator[None]:
    """`busy` processes that only spin, for as long as the block runs."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def _measure(browser, entities: int, rate: int, watch_s: int, news: bool, rng: random.Random, warm_up_s: float
             ) -> dict:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), entities, rate, env={"CITYOPS_WEB__WALL_NEWS": str(news).lower()})
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe", protocol=mqtt.MQTTv5)
        try:
            server.wait_for_devices(int(0.9 * entities))  # a few percent are the bureaus', not simulated
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{server.base}/wall?token={DEMO_DISPLAY_TOKEN}&lang=en")
            page.wait_for_selector("#wall-ticker li", timeout=60_000)
            page.wait_for_timeout(warm_up_s * 1000)
            page.evaluate(WATCH_TICKER)
            publisher.username_pw_set(*server.publisher_account())  # the embedded broker lets in its accounts only
            publisher.connect("127.0.0.1", server.mqtt_port)
            publisher.loop_start()
            stored_before, began = server.health()["observations"], time.perf_counter()
            sent: dict[str, float] = {}
            n = 0
            while time.perf_counter() - began < watch_s:
                topic, payload = probe(n)
                sent[str(n)] = time.time() * 1000
                publisher.publish(topic, payload, qos=1)
                n += 1
                page.wait_for_timeout(rng.uniform(200, 600))  # never in step with the wall's tick
            health = server.health()
            stored_rate = (health["observations"] - stored_before) / (time.perf_counter() - began)
            from playwright.sync_api import TimeoutError as PlaywrightTimeout

            with contextlib.suppress(PlaywrightTimeout):  # the last probes, 5 s at most; one never seen is missing
                page.wait_for_function("n => Object.keys(window.seenAt).length >= n", arg=len(sent), timeout=5_000)
            seen = page.evaluate("() => window.seenAt")
            page.close()
        finally:
            publisher.disconnect()
            publisher.loop_stop()
            server.stop()
    return {**latencies(sent, seen), "stored_rate": stored_rate, "snapshot": health["snapshot"]}


def latencies(sent: dict[str, float], seen: dict[str, float]) -> dict:
    """Percentiles of first sight minus publish (ms) of the probes seen; how many were seen and never."""
    taken = [seen[k] - sent[k] for k in sent if k in seen]
    if not taken:
        raise RuntimeError(f"none of {len(sent)} probes appeared on the wall")
    p50, p95, p99 = (percentile(taken, p) for p in (0.5, 0.95, 0.99))
    return {
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "max": max(taken),
        "seen": len(taken),
        "missing": len(sent) - len(taken),
    }


def said(m: dict) -> str:
    """Latency figures in words."""
    return (f"p50 {m['p50']:.0f} ms, p95 {m['p95']:.0f} ms, p99 {m['p99']:.0f} ms, max {m['max']:.0f} ms "
            f"({m['seen']} probes seen, {m['missing']} never)")  # fmt: skip


def run(entities: int = 2_400, rate: int = 1_000, watch_s: int = 60, browser=None, warm_up_s: float = WARM_UP_S
        ) -> dict:  # fmt: skip
    """With the wall's news, as shipped, on this machine and on one made slower, and without the news (the demo's
    tick of 1,000 ms alone). `browser`: a Playwright Chromium to use (the tests' own); by default one is launched. A
    run smaller than the full one says nothing of the target and leaves the slower machine out: its busy processes
    would slow whatever else runs beside it (the tests)."""
    full = (entities, rate, watch_s, warm_up_s) == (2_400, 1_000, 60, WARM_UP_S)
    rng = random.Random(3)
    with chromium(browser) as browser:
        m = _measure(browser, entities, rate, watch_s, True, rng, warm_up_s)
        slow = None
        if full:
            with _slower(BUSY_PROCESSES):
                slow = _measure(browser, entities, rate, watch_s, True, rng, warm_up_s)
                slow_bare = bare_rate()
            bare = bare_rate()
        ticked = _measure(browser, entities, rate, watch_s, False, rng, warm_up_s)

    def told(m: dict) -> str:
        snapshot = m["snapshot"]
        return (f"{said(m)}, readings stored at {m['stored_rate']:,.0f}/s meanwhile, the wall's snapshot took "
                f"p50 {snapshot['p50_ms']:.0f} ms, p95 {snapshot['p95_ms']:.0f} ms over its last "
                f"{min(snapshot['computed'], 200)}, reading {snapshot['rows_read']} rows of `latest` the last "
                "time")  # fmt: skip

    batch_ms = config.load(DEMO_DIR / "cityops.toml", environ={}).store.batch_max_delay_ms
    return {
        "name": "Publish → visible on /wall",
        "figure": f"on a machine made half as fast: {told(slow)}; on this one: {told(m)}" if slow else told(m),
        "target": "p95 ≤ 500 ms at 1,000 msg/s on a machine half as fast as this one",
        "met": (slow["p95"] <= 500 and slow["missing"] == 0 and slow["stored_rate"] >= 900) if slow else None,
        "baseline": f"the same wall without the news, refreshing on its tick (web.refresh_ms 1,000): p50 "
        f"{ticked['p50']:.0f} ms, p95 {ticked['p95']:.0f} ms, p99 {ticked['p99']:.0f} ms ({ticked['missing']} never)",
        "ratio": f"p95 {ticked['p95'] / m['p95']:.1f}× shorter than on the tick alone",
        "how": f"`cityops run --demo` with {entities:,} simulated devices publishing {rate:,} readings/s "
        "(`cityops simulate`, a process of its own) over its embedded mosquitto; the wall open in headless Chromium "
        f"(1920×1080) with the display link, touring the city as shipped, for {WARM_UP_S} s first; probe events "
        f"published over MQTT (QoS 1) every 0.2-0.6 s at random for {watch_s} s; latency from just before the "
        "publish to the animation frame after the probe's title entered the wall's ticker (MutationObserver), on "
        "the same clock. "
        + (
            f"Then on a new server beside {BUSY_PROCESSES} busy processes (`while True: pass`), which make this "
            f"machine about half as fast (a bare paho subscriber received {slow_bare:,.0f} messages a second beside "
            f"them, {bare:,.0f} alone). "
            if slow
            else ""
        )
        + "Then, as the baseline, on a new server with web.wall_news = false",
        "limits": f"what a probe waits for after the broker: the writer's batch (up to {batch_ms} ms, the "
        "demo's store.batch_max_delay_ms), the snapshot thread "
        "(its rest, twice its last compute, then the compute itself, which reads only what changed: "
        "dashboard/city_state.py), the wall's refresh callback and drawing, which the next news waits for. On the "
        "slower machine the wall's browser (software rendering in headless Chromium) is what holds a probe longest "
        "when the tour moves the map. Without the news the tick adds on average half of web.refresh_ms "
        f"(p50 {ticked['p50']:.0f} against {m['p50']:.0f} ms)",
    }


if __name__ == "__main__":
    print(run())
