"""Each rule kind, with time moved by an injectable clock over a real DuckDB file."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from alerts.rules import parse_rules
from tests.rule_city import JINGXIU, LIANCHI, T0, City

BASE = """
    domain: flood
    severity: yellow
    title: {zh_CN: "{name} 告警", en: "{name} alarm"}
    message: {zh_CN: "值 {value}", en: "value {value}"}
    unit: water_authority
"""


def rule(text: str):
    body = textwrap.dedent(text).strip() + "\n" + textwrap.dedent(BASE).strip()
    if "\nseverity:" in "\n" + textwrap.dedent(text):  # the rule sets its own severity
        body = body.replace("\nseverity: yellow", "")
    return parse_rules("rules:\n  - " + body.replace("\n", "\n    "))


@pytest.fixture
def city(open_store, demo_regions):
    made = []

    def make(rules):
        c = City(open_store(f"rules-{len(made)}"), demo_regions, rules)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


THRESHOLD = """
id: high
select: {kind: river_gauge}
when: {threshold: {metric: level, above: 10}}
for: 2m
clear: {threshold: {metric: level, below: 9}}
clear_for: 1m
"""


def test_pending_then_firing_after_for(city):
    c = city(rule(THRESHOLD))
    c.entity("g1")
    c.value("g1", level=11)
    c.at(minutes=1).value("g1", level=11.5)
    assert c.alerts() == []
    c.at(minutes=1).value("g1", level=11.2)
    [alert] = c.alerts()
    assert (alert["subject_id"], alert["state"], alert["condition"], alert["severity"]) == (
        "f:g1",
        "new",
        "active",
        "yellow",
    )
    assert alert["title_en"] == "G1 alarm" and alert["last_value"] == 11.2
    assert c.timeline(alert["id"]) == ["fire"]


def test_an_english_title_names_the_device_by_its_english_name_when_its_feed_gives_one(city):
    c = city(rule(THRESHOLD))
    c.send({"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "lon": LIANCHI[0],
            "lat": LIANCHI[1], "name": {"zh_CN": "府河 1号", "en": "Fu River 1"}},
           {"type": "entity", "id": "g2", "domain": "flood", "kind": "river_gauge", "lon": LIANCHI[0],
            "lat": LIANCHI[1], "name": "府河 2号"})  # fmt: skip
    for minutes in (0, 3):
        c.at(minutes=minutes).value("g1", level=11)
        c.value("g2", level=11)
    titles = c.store.cursor().execute("SELECT title_zh, title_en FROM alerts ORDER BY title_zh").fetchall()
    assert titles == [("府河 1号 告警", "Fu River 1 alarm"), ("府河 2号 告警", "府河 2号 alarm")]


def test_pending_fires_on_the_clock_without_new_data(city):
    c = city(rule(THRESHOLD))
    c.entity("g1")
    c.value("g1", level=11)
    c.tick(seconds=90)
    assert c.alerts() == []
    c.tick(seconds=30)
    assert len(c.alerts()) == 1


def test_a_dip_during_pending_starts_it_over(city):
    c = city(rule(THRESHOLD))
    c.entity("g1")
    c.value("g1", level=11)
    c.at(minutes=1).value("g1", level=9.5)  # below the threshold, above the clear level
    c.at(minutes=1).value("g1", level=11)
    c.tick(minutes=1)
    assert c.alerts() == []
    c.tick(minutes=1)
    assert len(c.alerts()) == 1


def test_clear_needs_the_clear_level_for_clear_for(city):
    c = city(rule(THRESHOLD))
    c.entity("g1")
    c.value("g1", level=11)
    c.tick(minutes=2)
    c.at(minutes=1).value("g1", level=9.5)  # hysteresis band: still active
    assert c.alerts()[0]["condition"] == "active"
    c.at(minutes=1).value("g1", level=8.5)
    assert c.alerts()[0]["condition"] == "active"  # clear_for not yet passed
    c.tick(minutes=1)
    [alert] = c.alerts()
    assert alert["condition"] == "cleared" and alert["state"] == "new"  # cleared, but still a case to close
    assert c.timeline(alert["id"]) == ["fire", "clear"]


def test_flapping_for_an_hour_opens_at_most_one_alert(city):
    c = city(rule(THRESHOLD))
    c.entity("g1")
    for minute in range(60):
        c.at(minutes=1).value("g1", level=10.3 if minute % 2 else 9.7)  # across the threshold every minute
        c.engine.tick()
    assert len(c.alerts()) <= 1
    # Swinging across both levels, slowly enough to fire and clear each time: still one alert, fired again.
    c2 = city(rule(THRESHOLD.replace("for: 2m", "for: 0s").replace("clear_for: 1m", "clear_for: 0s")))
    c2.entity("g1")
    for minute in range(60):
        c2.at(minutes=1).value("g1", level=12 if minute % 10 < 5 else 8)
    [alert] = c2.alerts()
    assert alert["fire_count"] == 6
    assert c2.timeline(alert["id"]).count("clear") == 6


OVER_WARNING = """
id: over-warning
select: {kind: river_gauge}
when: {threshold: {metric: level, above: attr.warning_level}}
"""


def test_threshold_from_each_entitys_own_attribute(city):
    c = city(rule(OVER_WARNING))
    c.entity("low", warning_level=5.0)
    c.entity("high", warning_level=15.0)
    c.entity("none")  # no attribute: the rule does not apply
    c.value("low", level=8.0)
    c.value("high", level=8.0)
    c.value("none", level=99.0)
    assert [a["subject_id"] for a in c.alerts()] == ["f:low"]


def test_a_device_described_again_unchanged_keeps_the_entity_table_and_a_change_is_used(city):
    c = city(rule(OVER_WARNING))
    c.entity("g1", warning_level=15.0)
    c.entity("g2", warning_level=15.0)
    c.value("g1", level=8.0)
    table = c.engine.subjects.table()
    c.entity("g1", warning_level=15.0)  # as NGSI feeds do with every message: nothing changed
    c.value("g1", level=9.0)
    assert c.engine.subjects.table() is table, "the table was rebuilt for a description that changed nothing"
    c.entity("g1", warning_level=5.0)  # the threshold moved: the next reading is judged by it
    c.value("g1", level=9.0)
    assert c.engine.subjects.table() is not table
    assert [a["subject_id"] for a in c.alerts()] == ["f:g1"]
    c.entity("g3", warning_level=1.0)  # a new device
    c.value("g3", level=2.0)
    assert [a["subject_id"] for a in c.alerts()] == ["f:g1", "f:g3"]


def test_no_data(city):
    c = city(
        rule("""
id: silent
select: {kind: camera}
when: {absent: 5m}
""")
    )
    c.entity("cam", kind="camera")
    c.value("cam", online=1)
    c.tick(minutes=4)
    assert c.alerts() == []
    c.tick(minutes=2)
    [alert] = c.alerts()
    assert alert["condition"] == "active"
    c.value("cam", online=1)
    assert c.alerts()[0]["condition"] == "cleared"


def test_a_whole_feed_silent(city):
    c = city(
        rule("""
id: feed-silent
subject: feed
when: {absent: 3m}
""")
    )
    c.entity("g1")
    c.value("g1", level=1)
    c.tick(minutes=2)
    assert c.alerts() == []
    c.tick(minutes=2)
    assert [a["subject_id"] for a in c.alerts()] == ["f"]


def hotspot(n: int, lon: float, lat: float) -> dict:
    return {
        "type": "event",
        "id": f"h{n}",
        "domain": "fire",
        "event_type": "hotspot",
        "lon": lon,
        "lat": lat,
        "title": "hotspot",
    }


COUNT = """
id: hotspot-cluster
select: {}
when: {count: {event_type: hotspot, min: 3, within_km: 2, window: 1h}}
"""


def test_three_hotspots_within_2km_in_an_hour(city):
    c = city(rule(COUNT))
    c.send(hotspot(1, 115.30, 38.70))
    c.at(minutes=20).send(hotspot(2, 115.31, 38.70))  # ~0.87 km away
    assert c.alerts() == []
    c.at(minutes=20).send(hotspot(3, 115.30, 38.71))  # ~1.1 km away
    [alert] = c.alerts()
    assert alert["last_value"] == 3
    c.tick(hours=1, minutes=1)  # the first ones fall out of the window
    assert c.alerts()[0]["condition"] == "cleared"


def test_hotspots_far_apart_or_too_slow_do_not_count(city):
    c = city(rule(COUNT))
    c.send(hotspot(1, 115.30, 38.70), hotspot(2, 115.40, 38.70))  # ~8.7 km apart
    c.at(hours=2).send(hotspot(3, 115.30, 38.70))  # the first is out of the window
    c.send(hotspot(4, 115.40, 38.70))
    assert c.alerts() == []


def test_zone_limits_a_rule_to_a_region(city):
    c = city(rule(THRESHOLD.replace("for: 2m", "for: 0s") + "zone: {region: '130606'}\n"))
    c.entity("in", where=LIANCHI)
    c.entity("out", where=JINGXIU)
    c.value("in", level=11)
    c.value("out", level=11)
    assert [a["subject_id"] for a in c.alerts()] == ["f:in"]


def test_and_or(city):
    c = city(
        rule("""
id: both
select: {kind: river_gauge}
when:
  all:
    - threshold: {metric: level, above: 10}
    - any:
        - threshold: {metric: rain, above: 30}
        - threshold: {metric: inflow, above: 100}
""")
    )
    c.entity("a")
    c.entity("b")
    c.value("a", level=11, rain=5, inflow=10)
    c.value("b", level=11, rain=5, inflow=150)
    assert [a["subject_id"] for a in c.alerts()] == ["f:b"]
    c.value("a", rain=40)
    assert sorted(a["subject_id"] for a in c.alerts()) == ["f:a", "f:b"]


def test_rate_of_rise(city):
    c = city(
        rule("""
id: rising
select: {kind: river_gauge}
when: {rate: {metric: level, rise_per_hour: 0.5, window: 1h}}
""")
    )
    c.entity("g1")
    for step in range(7):
        c.at(minutes=10).value("g1", level=5 + step * 0.05)  # 0.3 m an hour
    assert c.alerts() == []
    for step in range(6):
        c.at(minutes=10).value("g1", level=5.3 + (step + 1) * 0.2)  # 1.2 m an hour
    [alert] = c.alerts()
    assert alert["last_value"] >= 0.5


STEPPING = """
id: high
select: {kind: river_gauge}
when: {threshold: {metric: level, above: attr.warning_level}}
step_up:
  - {above: attr.guaranteed_level, severity: red}
  - {unhandled_for: 30m, severity: orange}
"""


def test_severity_steps_up_with_the_value_and_when_left_unhandled(city):
    c = city(rule(STEPPING))
    c.entity("g1", warning_level=10.0, guaranteed_level=12.0)
    c.entity("g2", warning_level=10.0, guaranteed_level=12.0)
    c.value("g1", level=10.5)
    c.value("g2", level=10.5)
    assert {a["severity"] for a in c.alerts()} == {"yellow"}
    c.at(minutes=5).value("g1", level=12.4)
    assert [a["severity"] for a in c.alerts()] == ["red", "yellow"]
    c.tick(minutes=31)
    assert [a["severity"] for a in c.alerts()] == ["red", "orange"]
    c.tick(minutes=31)  # once per step, not again
    g2 = c.alerts()[1]
    assert c.timeline(g2["id"]) == ["fire", "escalate"]


def test_a_value_refreshed_on_an_open_alert_is_not_news_to_the_lists_a_step_up_is(city):
    c = city(rule(STEPPING))
    c.entity("g1", warning_level=10.0, guaranteed_level=12.0)
    c.value("g1", level=10.5)
    seen = c.store.data_version
    c.at(seconds=10).value("g1", level=10.8)
    assert c.alerts()[0]["last_value"] == 10.8
    # The views' copy of what people handle (dashboard/snapshot.py) is not read again for a value no list shows …
    assert c.store.changed_since(seen) == {"readings", "alert_values"}
    seen = c.store.data_version
    c.at(seconds=10).value("g1", level=12.4)
    # … and is for a severity stepped up.
    assert c.store.changed_since(seen) == {"readings", "handling", "alert_values"}


def test_state_survives_a_restart(city, open_store):
    c = city(rule(THRESHOLD))
    c.entity("g1")
    c.value("g1", level=11)
    # States are saved on the scheduler's tick (every few seconds), not on every batch.
    c.tick(seconds=5)
    c.writer.stop()
    c.store.close()
    again = City(open_store("rules-0"), c.regions, rule(THRESHOLD))  # the city's store, opened again
    again.now = T0 + timedelta(minutes=2)
    again.engine.tick()  # the pending state was kept: it fires on time
    assert len(again.alerts()) == 1
    again.close()


def test_a_cluster_across_a_district_border_is_one_alert(city, demo_regions):
    c = city(rule(COUNT))
    # Three hotspots 1 km apart, straddling the border between two districts.
    border = demo_regions.get("130606").geometry.boundary.interpolate(0.3, normalized=True)
    points = [(border.x - 0.006, border.y), (border.x + 0.006, border.y), (border.x, border.y + 0.006)]
    districts = {demo_regions.locate(lon, lat)["district"] for lon, lat in points}
    assert len(districts) >= 2, "the test points must straddle a border"
    for n, (lon, lat) in enumerate(points):
        c.send(hotspot(n, lon, lat))
    c.send(hotspot(9, border.x + 0.001, border.y - 0.004))
    [alert] = c.alerts()
    assert alert["last_value"] == 4
