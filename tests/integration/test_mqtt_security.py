"""Ingest from a broker that wants a user name, a password and TLS: a real mosquitto with a password file and a
certificate made here by openssl; the password read from a file only the service may read."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from cityops.broker import Account, Mosquitto, PythonBroker, free_port, mosquitto_path
from cityops.config import MqttSettings
from feeds.decoders import cityops_json
from feeds.decoding import FeedDecoding
from feeds.mqtt import MqttFeed, MqttIngest
from layers.crs import to_wgs84
from store.duckdb_engine import DuckDBStore
from store.writer import Writer
from tests.app_config import demo_regions
from tests.harness import make_pki


@pytest.fixture
def secure_broker(tmp_path):
    for tool in ("mosquitto_passwd", "openssl"):
        if shutil.which(tool) is None or mosquitto_path() is None:
            pytest.fail(f"{tool} is missing: run `make test` as root, or `sudo apt-get install mosquitto openssl`")
    pki = make_pki(tmp_path / "pki")
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pki / "passwd"), "cityops", "s3cret-pass"], check=True,
                   capture_output=True)  # fmt: skip
    secure = (f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
              f"password_file {pki / 'passwd'}")  # fmt: skip
    broker = Mosquitto(free_port(), tmp_path / "broker", secure=secure)
    broker.start()
    yield broker, pki
    broker.stop()


def ingest(broker, settings: MqttSettings, writer: Writer, changes: list) -> MqttIngest:
    feed = MqttFeed(FeedDecoding("flood", cityops_json.decode, to_wgs84("wgs84")), ("city/flood/#",))
    return MqttIngest(
        host="127.0.0.1", port=broker.port, client_id=f"secure-{len(changes)}", feeds=[feed], writer=writer,
        regions=demo_regions(), username=settings.username, password=settings.password(),
        tls=settings.tls_options(), on_connection_change=lambda ids, up, reason: changes.append((up, reason)),
    )  # fmt: skip


def test_ingest_with_a_password_from_a_file_over_tls(tmp_path, secure_broker):
    broker, pki = secure_broker
    secret = tmp_path / "mqtt.secret"
    secret.write_text("s3cret-pass\n")
    secret.chmod(0o600)
    settings = MqttSettings(username="cityops", password_file=secret, tls=True, tls_ca=pki / "ca.crt")
    store = DuckDBStore(tmp_path / "cityops.duckdb")
    writer = Writer(store)
    writer.start()
    changes: list = []
    good = ingest(broker, settings, writer, changes)
    good.start()
    assert good.connected.wait(10), f"ingest did not connect over TLS: {changes}"

    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="secure-pub", protocol=mqtt.MQTTv5)
    sender.username_pw_set("cityops", "s3cret-pass")
    sender.tls_set(ca_certs=str(pki / "ca.crt"))
    sender.connect("127.0.0.1", broker.port)
    sender.loop_start()
    for i in range(20):
        body = {"type": "observation", "entity": "g1", "id": f"o{i}", "values": {"water_level": 10 + i / 10}}
        sender.publish("city/flood/obs/g1", json.dumps(body).encode(), qos=1).wait_for_publish(10)

    def stored() -> int:
        return store.cursor().execute("SELECT count(*) FROM observations").fetchone()[0]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and stored() < 20:
        time.sleep(0.1)
    assert stored() == 20
    sender.loop_stop()
    sender.disconnect()
    good.stop()

    # A wrong password is refused by the broker, and the feed's health says so.
    secret.write_text("not the password\n")
    refused: list = []
    bad = ingest(broker, settings, writer, refused)
    bad.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not refused:
        time.sleep(0.1)
    bad.stop()
    writer.stop()
    store.close()
    assert refused and refused[0][0] is False and "refused" in refused[0][1], refused
    assert "not the password" not in refused[0][1]


def test_a_subscription_the_broker_refuses_marks_that_feed_down_and_not_the_others(tmp_path):
    # The broker's ACL lets the service read the flood topics only: the fire feed's SUBACK refuses it, and the fire
    # feed, not the flood feed, is reported down with the broker's reason. amqtt, the fallback broker, checks its
    # ACL at the SUBSCRIBE; mosquitto 2.0.11 grants the subscription and filters what it delivers.
    service = Account("cityops", read=("city/flood/#",))
    sender = Account("sender", write=("city/#",))
    broker = PythonBroker(free_port(), tmp_path / "broker", accounts=[service, sender])
    broker.start()
    store = DuckDBStore(tmp_path / "cityops.duckdb")
    writer = Writer(store)
    writer.start()
    changes: list = []
    feeds = [
        MqttFeed(FeedDecoding("flood", cityops_json.decode, to_wgs84("wgs84")), ("city/flood/#",)),
        MqttFeed(FeedDecoding("fire", cityops_json.decode, to_wgs84("wgs84")), ("city/fire/#",)),
    ]
    reader = MqttIngest(
        host="127.0.0.1", port=broker.port, client_id="acl-reader", feeds=feeds, writer=writer,
        regions=demo_regions(), username="cityops", password=service.password, protocol="3.1.1",
        on_connection_change=lambda ids, up, reason: changes.append((ids, up, reason)),
    )  # fmt: skip
    try:
        reader.start()
        assert reader.connected.wait(10), f"ingest did not subscribe: {changes}"
        assert (["fire"], False, "broker refused the subscription to city/fire/#") in changes, changes
        assert (["flood"], True, "") in changes, changes
        # Connected is said after the SUBACK, so a reading published now is ours.
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="acl-sender", protocol=mqtt.MQTTv311)
        pub.username_pw_set("sender", sender.password)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        body = {"type": "observation", "entity": "g1", "id": "o1", "values": {"water_level": 10}}
        pub.publish("city/flood/obs/g1", json.dumps(body).encode(), qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and store.cursor().execute("SELECT count(*) FROM observations").fetchone()[0] < 1
        ):
            time.sleep(0.1)
        assert store.cursor().execute("SELECT count(*) FROM observations").fetchone()[0] == 1
    finally:
        reader.stop()
        writer.stop()
        store.close()
        broker.stop()
