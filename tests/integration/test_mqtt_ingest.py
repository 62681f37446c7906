"""MQTT → DuckDB through a real mosquitto: counts, duplicates, dead letters, persistent sessions."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest

from cityops.broker import PythonBroker, free_port
from feeds.decoders import cityops_json
from feeds.decoding import FeedDecoding
from feeds.mqtt import MqttFeed, MqttIngest
from layers.crs import to_wgs84
from store.duckdb_engine import DuckDBStore
from store.writer import Writer

pytestmark = pytest.mark.integration


def publisher(port: int, protocol=mqtt.MQTTv5) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.monotonic_ns()}", protocol=protocol
    )
    client.username_pw_set("publisher")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = []
    for topic, payload in messages:
        info = client.publish(topic, payload, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, mqtt.error_string(info.rc)
        infos.append(info)
        if len(infos) % 1000 == 0:  # paho has 16-bit message ids: wait on older publishes (STACK-NOTES)
            infos[-1000].wait_for_publish(30)
    for info in infos:
        info.wait_for_publish(30)
        assert info.is_published()


def observation(i: int) -> tuple[str, bytes]:
    payload = {
        "type": "observation",
        "entity": f"g{i % 50}",
        "id": f"msg-{i}",
        "ts": f"2026-11-22T08:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "values": {"water_level": i / 100},
    }
    return f"city/flood/obs/g{i % 50}", json.dumps(payload).encode()


class Pipeline:
    def __init__(self, tmp_path, port, regions, protocol="5", client_id="cityops-test"):
        self.store = DuckDBStore(tmp_path / "cityops.duckdb")
        self.writer = Writer(self.store)
        self.writer.start()
        feed = MqttFeed(FeedDecoding("flood", cityops_json.decode, to_wgs84("wgs84")), ("city/flood/#",))
        self.ingest = MqttIngest(
            host="127.0.0.1",
            port=port,
            client_id=client_id,
            feeds=[feed],
            writer=self.writer,
            regions=regions,
            protocol=protocol,
            username="cityops",
        )
        self.ingest.start()
        assert self.ingest.connected.wait(10), "ingest did not connect to the broker"

    def count(self, sql="SELECT count(*) FROM observations") -> int:
        return self.store.cursor().execute(sql).fetchone()[0]

    def wait_for(self, sql, expected, timeout=60.0) -> int:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.count(sql)
            if value == expected:
                return value
            time.sleep(0.1)
        return value

    def stop(self):
        self.ingest.stop()
        self.writer.stop()
        self.store.close()


def test_ten_thousand_qos1_messages_are_stored_exactly_once(tmp_path, mosquitto, demo_regions):
    pipeline = Pipeline(tmp_path, mosquitto.port, demo_regions)
    pub = publisher(mosquitto.port)
    messages = [observation(i) for i in range(10_000)]
    started = time.monotonic()
    publish_all(pub, messages)
    assert pipeline.wait_for("SELECT count(*) FROM observations", 10_000) == 10_000
    elapsed = time.monotonic() - started
    print(f"\n10,000 QoS 1 messages stored in {elapsed:.2f} s ({10_000 / elapsed:,.0f} msg/s)")

    publish_all(pub, messages)  # the same messages again
    assert pipeline.writer.flush()
    time.sleep(1.0)  # let anything still in flight arrive
    assert pipeline.writer.flush()
    assert pipeline.count() == 10_000
    assert pipeline.count("SELECT count(DISTINCT msg_id) FROM observations") == 10_000
    assert pipeline.ingest.received == 20_000
    pub.loop_stop()
    pipeline.stop()


def test_malformed_payload_becomes_a_dead_letter_and_the_feed_goes_on(tmp_path, mosquitto, demo_regions):
    pipeline = Pipeline(tmp_path, mosquitto.port, demo_regions)
    pub = publisher(mosquitto.port)
    bad = b'{"type": "observation", "entity": "g1", "values": {"water_level": 1.2'
    publish_all(pub, [("city/flood/obs/g1", bad), observation(1)])
    assert pipeline.wait_for("SELECT count(*) FROM observations", 1) == 1
    rows = pipeline.store.cursor().execute("SELECT feed_id, source, reason, raw FROM dead_letters").fetchall()
    assert len(rows) == 1
    feed_id, source, reason, raw = rows[0]
    assert (feed_id, source, raw) == ("flood", "city/flood/obs/g1", bad)
    assert reason.startswith("invalid JSON")
    status = pipeline.store.cursor().execute("SELECT state, messages, errors FROM feed_status").fetchall()
    assert status == [("ok", 1, 1)]
    pub.loop_stop()
    pipeline.stop()


def test_persistent_session_receives_what_was_published_while_ingest_was_away(tmp_path, mosquitto, demo_regions):
    pipeline = Pipeline(tmp_path, mosquitto.port, demo_regions, client_id="cityops-persistent")
    pipeline.ingest.stop()  # subscribed, then gone: the broker keeps the session and queues for it
    pipeline.writer.stop()
    pipeline.store.close()
    pub = publisher(mosquitto.port)
    publish_all(pub, [observation(i) for i in range(100)])
    again = Pipeline(tmp_path, mosquitto.port, demo_regions, client_id="cityops-persistent")
    assert again.wait_for("SELECT count(*) FROM observations", 100, timeout=20) == 100
    pub.loop_stop()
    again.stop()


def test_the_builtin_python_broker_keeps_qos1_sessions_too(tmp_path, demo_regions):
    broker = PythonBroker(free_port(), tmp_path / "amqtt")
    broker.start()
    try:
        pipeline = Pipeline(tmp_path, broker.port, demo_regions, protocol="3.1.1", client_id="cityops-amqtt")
        pub = publisher(broker.port, protocol=mqtt.MQTTv311)
        publish_all(pub, [observation(i) for i in range(200)])
        assert pipeline.wait_for("SELECT count(*) FROM observations", 200, timeout=30) == 200
        pipeline.ingest.stop()
        pipeline.writer.stop()
        pipeline.store.close()
        publish_all(pub, [observation(i) for i in range(200, 300)])
        again = Pipeline(tmp_path, broker.port, demo_regions, protocol="3.1.1", client_id="cityops-amqtt")
        assert again.wait_for("SELECT count(*) FROM observations", 300, timeout=30) == 300
        pub.loop_stop()
        again.stop()
    finally:
        broker.stop()
