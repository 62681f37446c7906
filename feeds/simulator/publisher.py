"""Publishes the demo city over MQTT at a steady rate, from its own thread and its own client."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from feeds.simulator.city import DemoCity

log = logging.getLogger(__name__)
ENTITY_WINDOW = 2_000  # entity descriptions sent before waiting for the broker to take the oldest


class Publisher:
    def __init__(
        self,
        city: DemoCity,
        *,
        host: str,
        port: int,
        rate: float,
        protocol: str = "5",
        username: str | None = "cityops-simulator",
        password: str | None = None,
        tls: dict | None = None,
    ):
        """`tls`: paho's tls_set arguments (None: no TLS); with `username` and `password`, how the broker is told who
        publishes (the embedded broker lets its simulator write under the city's prefix only)."""
        self.city = city
        self.rate = rate
        self.sent = 0
        self.failed = 0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="cityops-demo-simulator",
            protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set(**tls)
        self.client.on_connect = self._on_connect
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(200_000)
        self.host, self.port = host, port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cityops-simulator", daemon=True)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, _client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:  # paho tries again, and the simulator waits for it
            log.warning("the broker refused the simulator (%s:%s): %s", self.host, self.port, reason)

    def _run(self) -> None:
        while not self.client.is_connected() and not self._stop.wait(0.1):
            pass
        # Paced by the broker: a city of 100,000 devices would otherwise fill paho's queue before any reading.
        window: deque[mqtt.MQTTMessageInfo] = deque()
        for topic, payload in self.city.entity_messages():
            window.append(self.client.publish(topic, payload, qos=1, retain=True))
            if len(window) >= ENTITY_WINDOW:
                oldest = window.popleft()
                while not self._stop.is_set() and not oldest.is_published() and oldest.rc == mqtt.MQTT_ERR_SUCCESS:
                    oldest.wait_for_publish(0.5)
            if self._stop.is_set():
                return
        tick = 0.1
        owed = 0.0
        next_tick = time.monotonic()
        while not self._stop.is_set():
            owed += self.rate * tick
            count = int(owed)
            owed -= count
            for topic, payload in self.city.step(datetime.now(UTC), count):
                info = self.client.publish(topic, payload, qos=1)
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    self.sent += 1
                elif info.rc != mqtt.MQTT_ERR_NO_CONN:
                    self.failed += 1
                    if self.failed in (1, 10, 100) or self.failed % 10_000 == 0:  # said, not a log flood
                        log.warning("simulator publish failed (%d so far): %s", self.failed, mqtt.error_string(info.rc))
            next_tick += tick
            self._stop.wait(max(0.0, next_tick - time.monotonic()))
