"""Republishing notifications on MQTT for other platforms: one paho client of its own, QoS 1, each publish waited
for (the broker's PUBACK) up to the channel's timeout, so a delivery counts as sent only once the broker has it."""

from __future__ import annotations

import paho.mqtt.client as mqtt

from notify.channels import SendError


class MqttPublisher:
    def __init__(self, host: str, port: int, client_id: str, username: str | None = None,
                 password: str | None = None, tls: dict | None = None, timeout_s: float = 5):  # fmt: skip
        self.timeout_s = timeout_s
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.connect_async(host, port)
        self.client.loop_start()  # reconnects by itself; a publish while it is away waits, then fails below

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise SendError(f"MQTT: {exc}") from None
        if not info.is_published():
            raise SendError(f"MQTT: the broker did not take it within {self.timeout_s:g} s")

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
