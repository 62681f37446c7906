"""The real app in headless Chromium: `cityops run` as its own process, a real mosquitto, a DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cityops import PROJECT_ROOT
from cityops.broker import free_port, wait_for_port

pytestmark = pytest.mark.browser
REGIONS = PROJECT_ROOT / "data" / "demo" / "regions.geojson"
LIANCHI = (115.4906, 38.8581)  # the city origin, in 莲池区 (130606)


def config(tmp_path: Path, mqtt_port: int, web_port: int) -> Path:
    path = tmp_path / "cityops.toml"
    path.write_text(
        f"""
[city]
name_zh = "保定市"
name_en = "Baoding"
regions = "{REGIONS}"
center = [115.47, 38.93]

[store]
path = "{tmp_path / "cityops.duckdb"}"

[mqtt]
port = {mqtt_port}
client_id = "cityops-browser-test"

[web]
port = {web_port}
refresh_ms = 500

[[feeds]]
id = "test-flood"
transport = "mqtt"
topics = ["test/flood/#"]
decoder = "cityops-json"
stale_after_s = 600
""",
        encoding="utf-8",
    )
    return path


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
        return json.loads(response.read())


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def app(tmp_path, mosquitto):
    web_port = free_port()
    log = open(tmp_path / "cityops.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cityops.cli",
            "run",
            "--config",
            str(config(tmp_path, mosquitto.port, web_port)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port(web_port, timeout=30)
    except TimeoutError:
        process.kill()
        raise AssertionError((tmp_path / "cityops.log").read_text()) from None
    yield web_port
    process.terminate()
    assert process.wait(15) == 0, "cityops did not stop cleanly on SIGTERM"
    log.close()


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test-pub", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def send(client: mqtt.Client, topic: str, item: dict) -> None:
    client.publish(topic, json.dumps(item, ensure_ascii=False).encode(), qos=1).wait_for_publish(10)


def test_wall_shows_map_regions_clusters_and_reacts_to_a_new_message(app, mosquitto, chromium, output_dir):
    pub = publisher(mosquitto.port)
    # 300 gauges around the city centre, all well below their levels.
    for n in range(300):
        lon = LIANCHI[0] + ((n % 20) - 10) * 0.01
        lat = LIANCHI[1] + ((n // 20) - 7) * 0.01
        send(
            pub,
            f"test/flood/entity/g{n}",
            {
                "type": "entity",
                "id": f"g{n}",
                "domain": "flood",
                "kind": "river_gauge",
                "name": f"gauge {n}",
                "lon": lon,
                "lat": lat,
                "attributes": {"levels": {"metric": "water_level", "yellow": 10, "red": 12}},
            },
        )
        send(
            pub,
            f"test/flood/obs/g{n}",
            {"type": "observation", "entity": f"g{n}", "id": f"o{n}", "values": {"water_level": 5.0}},
        )
    wait_until(lambda: health(app)["observations"] == 300, 20, "300 observations stored")

    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"{exc}\n{exc.stack}"))
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    page.wait_for_selector("path.region", timeout=15_000)
    wait_until(lambda: page.locator("path.region").count() == 24, 10, "24 district polygons")
    wait_until(lambda: page.locator(".cluster-k").count() > 0, 10, "clusters of healthy gauges")
    assert page.locator(".cluster-r, path.pt-r").count() == 0
    assert page.locator("h1").inner_text() == "Baoding City Operations Center"
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    shots = output_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=shots / "wall-before.png")

    # One gauge crosses its red level, and an event is reported: both on the wall within 5 s.
    started = time.monotonic()
    send(
        pub,
        "test/flood/obs/g150",
        {"type": "observation", "entity": "g150", "id": "o-red", "values": {"water_level": 12.7}},
    )
    send(
        pub,
        "test/flood/event/e1",
        {
            "type": "event",
            "id": "e1",
            "domain": "flood",
            "event_type": "overflow",
            "lon": LIANCHI[0],
            "lat": LIANCHI[1],
            "severity": "red",
            "title": "府河 overtops its bank",
        },
    )
    wait_until(lambda: page.locator(".cluster-r, path.pt-r").count() > 0, 5, "a red cluster or marker")
    wait_until(lambda: page.locator("path.region-r").count() == 1, 5, "Lianchi district turns red")
    wait_until(lambda: "府河 overtops its bank" in page.locator("#wall-ticker").inner_text(), 5, "event in ticker")
    print(f"\nnew message visible on the wall after {time.monotonic() - started:.2f} s")
    page.screenshot(path=shots / "wall-after.png")
    print("PAGE ERRORS", *errors, sep="\n")
    assert not errors, errors
    page.close()
    pub.loop_stop()


def test_wall_in_chinese_with_no_data_shown_as_no_data(app, chromium, output_dir):
    # No device has reported: the figures say "no data", never zero or all-clear.
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{app}/wall")
    page.wait_for_selector("path.region", timeout=15_000)
    assert page.locator("h1").inner_text() == "保定市城市运行管理中心"
    wait_until(lambda: page.locator(".figure-nodata").count() >= 6, 5, "figures marked no data")
    wait_until(lambda: page.locator("path.region-n").count() == 24, 5, "every district drawn as no data")
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "wall-nodata-zh.png")
    page.close()
