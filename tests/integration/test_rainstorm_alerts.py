"""The demo city's rainstorm, over a real mosquitto and the demo's HTTP sources, through ingest and the demo rules:
the alerts come in order.

Simulated time: the simulator's clock and the rule engine's clock move together in steps of 10 s, so the demo's
20-minute cycle (at its default rate and size) runs in a minute and a half while every message still crosses the
broker (or the HTTP poller), the decoder, the writer and DuckDB.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from alerts.engine import RuleEngine
from alerts.rules import load_rule_file
from cityops import DEMO_DIR
from cityops.config import load
from feeds.http import HttpPoller, demo_url
from feeds.mqtt import MqttFeed, MqttIngest
from feeds.simulator.city import DemoCity
from feeds.simulator.sources import DemoSources, SourceServer
from store.alerts import SEVERITY_ORDER
from store.duckdb_engine import DuckDBStore
from store.writer import Writer

pytestmark = pytest.mark.integration
T0 = datetime(2026, 7, 20, 2, 30, tzinfo=UTC)  # 10:30 in Baoding, after the morning rush


def test_rainstorm_opens_flood_then_traffic_alerts_and_the_incidents_open_theirs(tmp_path, mosquitto, demo_regions):
    settings = load(DEMO_DIR / "cityops.toml", environ={})
    clock = {"now": T0}
    store = DuckDBStore(tmp_path / "storm.duckdb")
    writer = Writer(store, max_delay=0.05)
    book = load_rule_file(settings.alerts.rules)
    engine = RuleEngine(store, book.rules, clock=lambda: clock["now"], book=book, regions=demo_regions)
    writer.listeners.append(engine.on_batch)
    writer.start()
    mqtt_feeds = [MqttFeed.from_settings(f) for f in settings.feeds if f.transport == "mqtt"]
    ingest = MqttIngest(host="127.0.0.1", port=mosquitto.port, client_id="storm-test", feeds=mqtt_feeds,
                        writer=writer, regions=demo_regions, username="cityops")  # fmt: skip
    ingest.start()
    assert ingest.connected.wait(10)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="storm-pub", protocol=mqtt.MQTTv5)
    publisher.max_inflight_messages_set(1000)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    city = DemoCity(demo_regions, entities=2400, cycle_s=1200, started=T0)
    sources = SourceServer(DemoSources(city))
    sources.start()
    pollers = [HttpPoller(demo_url(f, sources), writer=writer, regions=demo_regions, store=store)
               for f in settings.feeds if f.transport == "http"]  # fmt: skip
    assert {p.settings.id for p in pollers} == {"demo-hydrology", "demo-hotspots", "demo-weather"}
    sent = 0

    def publish(messages, retain=False):
        nonlocal sent
        infos = [publisher.publish(topic, payload, qos=1, retain=retain) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
        sent += len(infos)
        deadline = time.monotonic() + 20
        while ingest.received < sent and time.monotonic() < deadline:
            time.sleep(0.005)
        assert ingest.received == sent, f"{ingest.received} of {sent} messages arrived"
        assert writer.flush()

    started = time.monotonic()
    publish(city.entity_messages(), retain=True)
    first: dict[str, datetime] = {}
    open_incidents = []
    for second in range(0, 1200, 10):
        clock["now"] = T0 + timedelta(seconds=second)
        publish(city.step(clock["now"], 3000))
        for poller in pollers:
            poller.poll()
        assert writer.flush()
        engine.tick()
        for (rule_id,) in store.cursor().execute("SELECT DISTINCT rule_id FROM alerts").fetchall():
            first.setdefault(rule_id, clock["now"])
        open_incidents.append(store.cursor().execute(
            "SELECT count(*) FROM incidents WHERE state NOT IN ('closed', 'cancelled')").fetchone()[0])  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"\n{sent} messages over the 20 simulated minutes of the demo's cycle in {elapsed:.1f} s; first alerts: "
          + ", ".join(f"{r} +{(t - T0).seconds}s" for r, t in sorted(first.items(), key=lambda i: i[1]))
          + f"; open incidents at most {max(open_incidents)}")  # fmt: skip

    counts = dict(store.cursor().execute("SELECT rule_id, count(*) FROM alerts GROUP BY rule_id").fetchall())
    # The storm: rain first, then rivers over their warning level, then waterlogged roads, then traffic.
    assert first["rainstorm"] < first["river-over-warning"] < first["road-waterlogging"]
    assert first["severe-congestion"] > first["rainstorm"]
    assert counts["river-over-warning"] >= 3 and counts["road-waterlogging"] >= 3
    # Flood alerts open where the storm passed, not everywhere.
    flooded = {d for (d,) in store.cursor().execute(
        "SELECT DISTINCT district_id FROM alerts WHERE domain = 'flood'").fetchall()}  # fmt: skip
    assert 2 <= len(flooded) < 24
    # The incidents: one hotspot cluster, one building fire alarm, a crowd, the six cameras that went offline.
    assert counts["hotspot-cluster"] == 1
    assert counts["fire-alarm"] == 1
    assert counts["crowding"] >= 1
    assert counts["camera-offline"] == 6
    # The HTTP sources: the bureau's river stations are among those over their warning level, the hotspots came
    # as satellite detections, the weather warning as CAP (and its cancellation when the storm had passed).
    by_feed = dict(store.cursor().execute(
        "SELECT e.feed_id, count(*) FROM alerts a JOIN entities e ON e.id = a.subject_id "
        "WHERE a.rule_id = 'river-over-warning' GROUP BY ALL").fetchall())  # fmt: skip
    assert by_feed.get("demo-hydrology", 0) >= 1, by_feed
    events = dict(store.cursor().execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    assert events["hotspot"] == 4 and events["暴雨"] == 1 and events["cap_cancel"] == 1, events
    assert {s for (s,) in store.cursor().execute("SELECT DISTINCT state FROM feed_status").fetchall()} == {"ok"}
    # One thing, not a thousand alerts: at most 15 incidents open at any time, every alert inside one, each incident
    # as bad as its worst member and counting its members right.
    assert 0 < max(open_incidents) <= 15, open_incidents
    cur = store.cursor()
    assert cur.execute("SELECT count(*) FROM alerts WHERE incident_id IS NULL").fetchone()[0] == 0
    mismatched = cur.execute(
        f"WITH m AS (SELECT incident_id, min({SEVERITY_ORDER}) AS worst, count(*) AS n FROM alerts "
        "WHERE suppressed_by IS NULL GROUP BY incident_id) "
        f"SELECT id, severity, members, worst, n FROM incidents JOIN m ON m.incident_id = id "
        f"WHERE members != n OR {SEVERITY_ORDER} != worst"
    ).fetchall()
    assert mismatched == []
    assert cur.execute("SELECT count(*) FROM incidents WHERE group_id = 'rainstorm'").fetchone()[0] == 1
    # Every alert has its timeline, starting with the rule that raised it.
    assert (
        store.cursor()
        .execute(
            "SELECT count(*) FROM alerts a WHERE NOT EXISTS "
            "(SELECT 1 FROM alert_log l WHERE l.alert_id = a.id AND l.action = 'fire')"
        )
        .fetchone()[0]
        == 0
    )

    publisher.loop_stop()
    sources.stop()
    ingest.stop()
    writer.stop()
    store.close()
