"""`cityops run` as a process the reliability tests may kill, restart and starve, with its figures printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import paho.mqtt.client as mqtt
import pytest

from cityops import PROJECT_ROOT
from cityops.broker import free_port, wait_for_port
from tests.app_config import config
from tests.browser.conftest import api


class CityOps:
    """One configuration, run, killed and run again as often as a test likes."""

    def __init__(self, tmp_path: Path, mqtt_port: int, env: dict[str, str] | None = None):
        self.web_port = free_port()
        self.config = config(tmp_path, mqtt_port, self.web_port)
        self.log_path = tmp_path / "cityops.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> float:
        """Start and wait until it serves; returns how long that took."""
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts + 1} ---\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cityops.cli", "run", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, env=self.env,
            )  # fmt: skip
        try:
            wait_for_port(self.web_port, timeout=60)
        except TimeoutError:
            self.kill()
            raise AssertionError(self.log_path.read_text()[-3000:]) from None
        self.starts += 1
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye to the broker."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return 0
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("cityops did not stop on SIGTERM") from None

    def health(self) -> dict:
        return json.loads(api(self.web_port, "/api/health"))


@pytest.fixture
def cityops(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port)
    yield app
    app.kill()


def publisher(port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def observation(n: int, entity: str = "g1") -> bytes:
    """A reading with its own message id and time, so exactly-once can be counted by id."""
    seconds = n * 0.01
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_795_000_000 + seconds)) + f".{n % 100:02d}Z"
    body = {"type": "observation", "entity": entity, "id": f"m{n}", "ts": ts, "values": {"water_level": 5 + n % 5}}
    return json.dumps(body).encode()


def publish_gauge(client: mqtt.Client) -> None:
    """The river gauge g1 that `observation` readings are about."""
    entity = {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "name": "G1",
              "lon": 115.4906, "lat": 38.8581}  # fmt: skip
    client.publish("test/flood/entity/g1", json.dumps(entity).encode(), qos=1).wait_for_publish(10)


def stored_readings(store_path: Path) -> tuple[int, int]:
    """Observations in the (stopped) store: rows, and distinct message ids; exactly once means the two are equal."""
    with duckdb.connect(str(store_path), read_only=True) as db:
        return db.execute("SELECT count(*), count(DISTINCT msg_id) FROM observations").fetchone()
