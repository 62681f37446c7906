"""The real app for browser tests: `cityops run` as its own process, a real mosquitto, a DuckDB file."""

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

REGIONS = PROJECT_ROOT / "data" / "demo" / "regions.geojson"
LIANCHI = (115.4906, 38.8581)  # the city origin, in 莲池区 (130606)
RULES = """
rules:
  - id: gauge-high
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: water_level, above: 12}}
    severity: red
    title: {zh_CN: "{name} 水位过高", en: "{name} water too high"}
    message: {zh_CN: "水位 {value} 米", en: "Level {value} m"}
    unit: water_authority
    sop: gauge-high
sops:
  gauge-high:
    title: {zh_CN: "高水位处置", en: "High water"}
    steps:
      - {zh_CN: "电话核实读数", en: "Verify the reading by phone"}
      - {zh_CN: "通知沿河乡镇", en: "Tell the riverside towns"}
"""


def config(tmp_path: Path, mqtt_port: int, web_port: int) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
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
wall_rotate_s = 0

[alerts]
rules = "rules.yaml"
evaluate_every_s = 1

[alerts.time_limits]
acknowledge = {{ red = 5, orange = 10, yellow = 30, blue = 60 }}
dispatch = {{ red = 10, orange = 30, yellow = 60, blue = 240 }}
resolve = {{ red = 60, orange = 240, yellow = 480, blue = 1440 }}

[[units]]
id = "water-authority"
type = "water_authority"
name_zh = "保定市水利局"
name_en = "Baoding Water Resources Bureau"

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
def app(request, tmp_path, mosquitto):
    """`cityops run` with the test config; `@pytest.mark.app_env(CITYOPS_WEB__WALL_ROTATE_S="2")` overrides it."""
    marker = request.node.get_closest_marker("app_env")
    overrides = marker.kwargs if marker else {}
    web_port = free_port()
    log = open(tmp_path / "cityops.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "run", "--config", str(config(tmp_path, mosquitto.port, web_port))],
        stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **overrides},
    )  # fmt: skip
    try:
        wait_for_port(web_port, timeout=30)
    except TimeoutError:
        process.kill()
        raise AssertionError((tmp_path / "cityops.log").read_text()) from None
    yield web_port
    process.terminate()
    try:
        code = process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave it running under the next tests
        code = process.wait(5)
    finally:
        log.close()
    assert code == 0, (
        f"cityops did not stop cleanly on SIGTERM ({code}):\n{(tmp_path / 'cityops.log').read_text()[-3000:]}"
    )


@pytest.fixture
def publisher(mosquitto):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test-pub", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


def send(client: mqtt.Client, topic: str, item: dict) -> None:
    client.publish(topic, json.dumps(item, ensure_ascii=False).encode(), qos=1).wait_for_publish(10)
