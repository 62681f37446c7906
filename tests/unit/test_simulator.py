"""The demo city: enough devices in all four domains, and a rainstorm that unfolds in the right order."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from feeds.decoders import Message, cityops_json
from feeds.simulator.city import DemoCity

START = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)  # 08:00 in Baoding: morning rush hour


def test_at_least_2000_entities_over_four_domains_all_decodable(demo_regions):
    city = DemoCity(demo_regions, entities=2400, cycle_s=1200, started=START)
    messages = city.entity_messages()
    assert len(messages) >= 2000
    decode = cityops_json.decode
    domains = Counter()
    for topic, payload in messages:
        records = decode(Message("demo", topic, payload, START))
        domains[records.entities[0].domain] += 1
    assert set(domains) == {"traffic", "flood", "fire", "security"}
    assert min(domains.values()) >= 300


def test_rainstorm_raises_rain_then_rivers_then_waterlogging_then_congestion(demo_regions):
    city = DemoCity(demo_regions, entities=2400, cycle_s=1200, started=START)
    gauges = city.kinds == "river_gauge"
    logging_sensors = city.kinds == "waterlogging_sensor"
    first = {}
    events = []
    congestion = {}
    for second in range(0, 1200, 5):
        now = START + timedelta(seconds=second)
        for _topic, payload in city.step(now, 200):
            item = json.loads(payload)
            if item["type"] == "event":
                events.append(item["event_type"])
            elif "congestion_index" in item["values"]:
                congestion.setdefault(second // 60, []).append(item["values"]["congestion_index"])
        if city.rain.max() >= 30:
            first.setdefault("rain", second)
        if (city.river_level[gauges] >= city.warning_level[gauges]).any():
            first.setdefault("river", second)
        if city.depth[logging_sensors].max() >= 15:
            first.setdefault("waterlogging", second)
    assert first["rain"] < first["river"] < first["waterlogging"] < 720
    assert sorted(set(events)) == ["crowding", "fire_alarm"]  # over MQTT; hotspots and warnings are polled
    assert len(city.hotspots) == 4  # one cluster per cycle
    assert [w["type"] for w in city.warnings] == ["Alert", "Update", "Cancel"]
    # During the storm, traffic in the rain is slower than before it.
    before = np.mean(congestion[0])
    during = np.mean(congestion[6])
    assert during > before
