"""How the notifier keeps its promises (issue 24): quiet hours hold back all but red until they end; a channel
sends no more than its rate and the rest waits its turn; MQTT republish reaches a real mosquitto at QoS 1."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest

from alerts.org import Organisation
from cityops import DEMO_DIR
from notify.mqtt_out import MqttPublisher
from notify.notifier import Notifier
from notify.settings import NotifySettings
from store import notifications as outbox
from store.database import Store
from store.duckdb_engine import DuckDBStore
from tests.harness import wait_until
from tests.integration.test_notify import Endpoint

pytestmark = pytest.mark.integration
# 23:30 in Baoding, within the quiet hours of 22:00 to 07:00.
LATE_EVENING = datetime(2026, 7, 20, 15, 30, tzinfo=UTC)


def org_with(demo_regions, subscriptions: str) -> Organisation:
    text = (DEMO_DIR / "org.yaml").read_text(encoding="utf-8") + "subscriptions:\n" + subscriptions
    return Organisation.parse(text, "org.yaml", demo_regions)


def tell(store: Store, n: int, severity: str, now: datetime) -> None:
    incident = {"id": 100 + n, "severity": severity, "domain": "flood", "district_id": "130606"}
    outbox.tell(store.cursor(), key=f"incident:{100 + n}:open", event="incident_new", now=now, incident=incident,
                title_zh=f"积水 {n}", title_en=f"Water {n}", units=["d130606"])  # fmt: skip


def test_quiet_hours_hold_back_all_but_red_until_they_end(tmp_path, demo_regions):
    store = DuckDBStore(tmp_path / "q.duckdb")
    org = org_with(demo_regions, '  - {unit: d130606, channel: hook, quiet: ["22:00", "07:00"]}\n')
    settings = NotifySettings.model_validate({"channels": [{"id": "hook", "kind": "webhook", "url": "http://x/"}]})
    notifier = Notifier(store, org, settings, "Asia/Shanghai", clock=lambda: LATE_EVENING)
    tell(store, 1, "orange", LATE_EVENING)
    tell(store, 2, "red", LATE_EVENING)
    assert notifier.match() == 2
    due = {d["n_severity"]: d["next_at"] for d in outbox.due(store.cursor(), datetime(2026, 7, 22, tzinfo=UTC))}
    assert due["red"] == LATE_EVENING  # at once
    assert due["orange"] == datetime(2026, 7, 20, 23, 0, tzinfo=UTC)  # 07:00 the next morning in Baoding
    store.close()


def test_a_channel_sends_no_more_than_its_rate_and_the_rest_wait_their_turn(tmp_path, demo_regions):
    store = DuckDBStore(tmp_path / "r.duckdb")
    endpoint = Endpoint(check=lambda handler, body: (200, b"{}"))
    org = org_with(demo_regions, "  - {unit: d130606, channel: hook}\n")
    settings = NotifySettings.model_validate(
        {"channels": [{"id": "hook", "kind": "webhook", "url": endpoint.url, "per_minute": 2}]})  # fmt: skip
    notifier = Notifier(store, org, settings, "Asia/Shanghai")
    now = datetime.now(UTC)
    for n in range(5):
        tell(store, n, "orange", now)
    try:
        notifier.step()
        wait_until(notifier.idle, 10, "the first sends recorded")
        notifier.step()  # the next poll: still within the minute, nothing more goes
        wait_until(notifier.idle, 10, "nothing more sent")
        assert len(endpoint.got) == 2
        counts = outbox.counts(store.cursor())
        assert (counts["sent"], counts["pending"]) == (2, 3)
        held = outbox.deliveries(store.cursor(), "pending")
        assert all(d["next_at"] > now for d in held) and all(d["attempts"] == 0 for d in held)
    finally:
        notifier.stop()
        endpoint.close()
        store.close()


def test_mqtt_republish_reaches_a_real_broker(tmp_path, demo_regions, mosquitto):
    got: list[bytes] = []
    arrived = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener", protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: (got.append(m.payload), arrived.set())
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("cityops/out/#", qos=1)
    listener.loop_start()
    store = DuckDBStore(tmp_path / "m.duckdb")
    publisher = MqttPublisher("127.0.0.1", mosquitto.port, "cityops-notify-test")
    org = org_with(demo_regions, "  - {unit: d130606, channel: bus}\n")
    settings = NotifySettings.model_validate(
        {"channels": [{"id": "bus", "kind": "mqtt", "topic": "cityops/out/notifications"}]})  # fmt: skip
    notifier = Notifier(store, org, settings, "Asia/Shanghai", publish=publisher.publish)
    try:
        tell(store, 1, "red", datetime.now(UTC))
        notifier.step()
        assert arrived.wait(10), "nothing arrived on cityops/out/#"
        document = json.loads(got[0])
        assert (document["schema"], document["event"], document["incident_id"]) == (
            "cityops.notification/1", "incident_new", 101)  # fmt: skip
        wait_until(lambda: outbox.counts(store.cursor())["sent"] == 1, 10, "the delivery recorded as sent")
    finally:
        notifier.stop()
        publisher.stop()
        listener.loop_stop()
        listener.disconnect()
        store.close()
