"""Official warnings (CAP) through the real decoder, writer and rule engine: an Alert opens one alert and its
incident with the warning's area, an Update changes them, a Cancel or the expiry clears them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import shapely

from access.policy import Principal
from alerts.actions import act
from alerts.rules import RuleError, parse_rule_file
from feeds.decoders import cap, ea_flood
from feeds.decoding import FeedDecoding
from layers.crs import to_wgs84
from store.database import frame
from tests.cap_messages import NARROW, WIDE, message
from tests.rule_city import T0, City

RULES = """
rules:
  - id: rainstorm-warning
    domain: flood
    subject: warning
    select: {feed: weather}
    when: {warning: {event: [暴雨, Rainstorm], min_severity: yellow}}
    severity: yellow
    title: {zh_CN: "{headline}", en: "{headline}"}
    message: {zh_CN: "{areas}：{instruction}", en: "{areas}: {instruction}"}
    unit: flood_control
groups:
  - id: warnings
    rules: [rainstorm-warning]
    by: city
    auto_close: 10m
"""


class WarningCity(City):
    def __init__(self, path, demo_regions, rules: str = RULES):
        book = parse_rule_file(rules)
        super().__init__(path, demo_regions, book.rules, book)
        self.weather = FeedDecoding("weather", cap.decode, to_wgs84("wgs84"))

    def warn(self, payload: bytes) -> None:
        env = self.weather.envelope("http://weather/cap", payload, self.now, self.regions)
        assert env.dead_letter is None, env.dead_letter
        self.writer.put(env)
        assert self.writer.flush()

    def incidents(self) -> list[dict]:
        return frame(self.store.cursor(), "SELECT * FROM incidents ORDER BY id").to_dict("records")

    def warning_alerts(self) -> list[dict]:
        return frame(self.store.cursor(), "SELECT * FROM alerts ORDER BY id").to_dict("records")


@pytest.fixture
def city(open_store, demo_regions):
    c = WarningCity(open_store("s"), demo_regions)
    yield c
    c.close()


def outline(geojson: str):
    return shapely.geometry.shape(json.loads(geojson))


def test_alert_update_cancel_open_change_and_clear_one_incident_with_the_warnings_area(city):
    city.warn(message("W1"))
    [alert] = city.warning_alerts()
    [incident] = city.incidents()
    assert (alert["subject_id"], alert["severity"], alert["incident_id"]) == ("BDQXT,W1", "orange", incident["id"])
    assert alert["title_zh"] == "保定市气象台发布暴雨orange预警" and alert["title_en"] == "Rainstorm orange warning"
    assert alert["message_en"] == "莲池区 竞秀区: Avoid underpasses"
    assert alert["expires_at"] == T0 + timedelta(hours=6)
    assert pd.isna(alert["district_id"])  # over two districts: the city's, not its centre's
    wide = shapely.Polygon([(lon, lat) for lat, lon in WIDE])
    assert outline(alert["area"]).equals(wide)
    assert outline(incident["area"]).equals(wide)  # the warning's area, not a hull around a pin
    assert (incident["severity"], incident["title_en"]) == ("orange", "Rainstorm orange warning")

    # The Update: worse, and over the east half only. The same alert and incident change.
    city.at(minutes=30).warn(message("W2", "Update", "red", refs=("W1",), polygon=NARROW, sent=city.now))
    [alert] = city.warning_alerts()
    [incident] = city.incidents()
    narrow = shapely.Polygon([(lon, lat) for lat, lon in NARROW])
    assert alert["severity"] == "red" and outline(alert["area"]).equals(narrow)
    assert incident["severity"] == "red" and outline(incident["area"]).equals(narrow)
    assert incident["title_en"] == "Rainstorm red warning"
    assert city.timeline(alert["id"]) == ["fire", "update"]

    # An Update may also lower it: the incident is as bad as its warning says now.
    city.at(minutes=30).warn(message("W3", "Update", "yellow", refs=("W2",), polygon=NARROW, sent=city.now))
    assert [i["severity"] for i in city.incidents()] == ["yellow"]

    # The Cancel names only the last Update: the chain leads back to the alert, which clears.
    city.at(minutes=10).warn(message("W4", "Cancel", refs=("W3",), sent=city.now))
    [alert] = city.warning_alerts()
    assert alert["condition"] == "cleared" and alert["state"] == "new"
    [incident] = city.incidents()
    assert incident["active_members"] == 0 and incident["all_cleared_at"] == city.now
    log = (
        city.store.cursor()
        .execute("SELECT action, details FROM alert_log WHERE alert_id = ? ORDER BY id", [alert["id"]])
        .fetchall()
    )
    assert log[-1][0] == "clear" and json.loads(log[-1][1]) == {"cancelled_by": "BDQXT,W4"}
    assert json.loads(log[1][1])["message"] == "BDQXT,W2" and json.loads(log[1][1])["severity_before"] == "orange"
    city.tick(minutes=10)  # the group's auto_close
    assert [(i["state"], i["id"]) for i in city.incidents()] == [("closed", incident["id"])]


def test_a_warning_left_to_expire_clears_at_its_expiry(city):
    city.warn(message("W1", expires_in=timedelta(hours=1)))
    city.tick(minutes=59)
    assert [a["condition"] for a in city.warning_alerts()] == ["active"]
    city.tick(minutes=1)
    [alert] = city.warning_alerts()
    assert alert["condition"] == "cleared"
    why = city.store.cursor().execute("SELECT details FROM alert_log WHERE action = 'clear'").fetchone()[0]
    assert json.loads(why) == {"expired": True}
    # Extended by an Update after it expired: in force again.
    city.at(minutes=5).warn(message("W2", "Update", refs=("W1",), sent=city.now, expires_in=timedelta(hours=2)))
    [alert] = city.warning_alerts()
    assert alert["condition"] == "active" and alert["expires_at"] == city.now + timedelta(hours=2)
    [incident] = city.incidents()  # counted active again: the group's auto_close (10 m) must not close it
    assert incident["active_members"] == 1 and pd.isna(incident["all_cleared_at"])
    city.tick(minutes=15)
    assert [i["state"] for i in city.incidents()] == ["new"]


def test_exercises_other_events_and_milder_warnings_open_nothing(city):
    city.warn(message("T1", status="Exercise"))
    city.warn(message("T2", status="Test"))
    city.warn(message("H1", event=("高温", "Heat")))
    city.warn(message("B1", colour="blue"))  # below the rule's min_severity: yellow
    assert city.warning_alerts() == []


def test_an_update_of_a_warning_never_seen_opens_it_and_a_stray_cancel_does_nothing(city):
    city.warn(message("X9", "Cancel", refs=("X1",)))
    assert city.warning_alerts() == []
    city.warn(message("Y2", "Update", "red", refs=("Y1",)))  # CityOps started after Y1 was sent
    [alert] = city.warning_alerts()
    assert (alert["subject_id"], alert["severity"]) == ("BDQXT,Y1", "red")
    city.at(minutes=5).warn(message("Y3", "Cancel", refs=("Y1", "Y2"), sent=city.now))
    assert [a["condition"] for a in city.warning_alerts()] == ["cleared"]


def test_a_warning_named_by_region_code_only_covers_that_region(city, demo_regions):
    city.warn(message("G1", polygon=None, geocode="130602000000"))  # 竞秀区, as a 12-digit 行政区划代码
    [alert] = city.warning_alerts()
    jingxiu = demo_regions.get("130602").geometry
    assert outline(alert["area"]).equals(jingxiu)
    assert alert["district_id"] == "130602" and jingxiu.covers(shapely.Point(alert["lon"], alert["lat"]))


def test_a_warning_rule_is_checked_where_it_is_written():
    wrong = RULES.replace("    subject: warning\n", "")
    with pytest.raises(RuleError, match=r"<rules>:3: .*subject: warning"):
        parse_rule_file(wrong)
    with_clear = RULES.replace("    severity: yellow\n", "    severity: yellow\n    clear: {absent: 5m}\n")
    with pytest.raises(RuleError, match=r"<rules>:3: .*no other condition, 'clear' or 'step_up'"):
        parse_rule_file(with_clear)
    nested = RULES.replace("when: {warning: {event: [暴雨, Rainstorm], min_severity: yellow}}",
                           "when: {all: [{warning: {event: 暴雨}}]}")  # fmt: skip
    with pytest.raises(RuleError, match=r"<rules>:3: .*no other condition"):
        parse_rule_file(nested)
    zoned = RULES.replace(
        "    select: {feed: weather}\n", "    select: {feed: weather}\n    zone: {region: '130602'}\n"
    )
    with pytest.raises(RuleError, match=r"<rules>:3: .*no 'zone', 'near', 'kind' or 'district'"):
        parse_rule_file(zoned)


def test_taiwans_real_rain_warning_chain_is_one_alert_from_its_alert_to_its_cancel(open_store, demo_regions,
                                                                                   fixture_path):  # fmt: skip
    rules = RULES.replace("when: {warning: {event: [暴雨, Rainstorm], min_severity: yellow}}", "when: {warning: {}}")
    city = WarningCity(open_store("s"), demo_regions, rules)
    try:
        chain = [fixture_path(f"cap/cwa_rain_chain_{n}.xml").read_bytes()
                 for n in ("1_alert", "2_update", "3_update", "4_cancel")]  # fmt: skip
        city.now = datetime(2024, 4, 22, 6, 5, tzinfo=UTC)  # when the first was sent; its warning was in force
        severities = []
        for payload in chain[:3]:
            city.warn(payload)
            severities.append([a["severity"] for a in city.warning_alerts()])
        assert severities == [["yellow"], ["orange"], ["yellow"]]  # 大雨 → 豪雨 → 大雨: one alert throughout
        city.warn(chain[3])
        [alert] = city.warning_alerts()
        assert alert["condition"] == "cleared" and alert["subject_id"].endswith("202404221405001")
        assert city.timeline(alert["id"]) == ["fire", "update", "update", "clear"]
    finally:
        city.close()


def test_a_warning_already_expired_when_it_arrives_opens_nothing(city):
    city.at(hours=7).warn(message("OLD"))  # sent at T0, expired at T0 + 6 h: a replayed file, a late poll
    assert city.warning_alerts() == []


def test_late_repeated_and_out_of_order_messages_change_nothing(city):
    alert_w1 = message("W1", sent=T0)
    city.warn(alert_w1)
    city.at(minutes=10).warn(message("W2", "Update", "red", refs=("W1",), polygon=NARROW, sent=city.now))
    city.at(minutes=1).warn(alert_w1)  # the Alert again (a poll of an old file, an MQTT redelivery)
    [alert] = city.warning_alerts()
    assert alert["severity"] == "red" and outline(alert["area"]).equals(
        shapely.Polygon([(lon, lat) for lat, lon in NARROW]))  # fmt: skip
    cancel = message("W3", "Cancel", refs=("W2",), sent=city.at(minutes=5).now)
    city.warn(cancel)
    city.at(minutes=1).warn(alert_w1)
    city.warn(cancel)
    [alert] = city.warning_alerts()
    assert alert["condition"] == "cleared" and city.timeline(alert["id"]) == ["fire", "update", "clear"]
    # A Cancel that comes before its Alert: the Alert, late, opens nothing.
    city.warn(message("Z2", "Cancel", refs=("Z1",), sent=T0 + timedelta(hours=1)))
    city.warn(message("Z1", sent=T0 + timedelta(minutes=30)))
    assert len(city.warning_alerts()) == 1


def test_news_of_a_warning_whose_alert_someone_ended_opens_a_new_one(city):
    city.warn(message("W1", sent=T0))
    [first] = city.warning_alerts()
    act(city.store, Principal("duty", "duty_officer"), first["id"], "cancel", audit=None, now=city.now,
        note="the bureau says it was sent by mistake")  # fmt: skip
    city.at(minutes=1).warn(message("W1", sent=T0))  # the same Alert again: nothing new
    assert [a["state"] for a in city.warning_alerts()] == ["cancelled"]
    city.at(minutes=20).warn(message("W2", "Update", "red", refs=("W1",), sent=city.now))  # news: raised again
    assert [(a["state"], a["severity"]) for a in city.warning_alerts()] == [("cancelled", "orange"), ("new", "red")]


def test_a_warning_for_somewhere_else_opens_nothing(city):
    shanghai = [(31.1, 121.3), (31.1, 121.6), (31.3, 121.6), (31.3, 121.3), (31.1, 121.3)]
    city.warn(message("SH1", polygon=shanghai))  # a national feed carries every province's warnings
    assert city.warning_alerts() == []


def test_the_environment_agencys_flood_warnings_are_followed_as_warnings(open_store, demo_regions, fixture_path):
    rules = RULES.replace("    select: {feed: weather}\n", "    select: {feed: ea}\n").replace(
        "when: {warning: {event: [暴雨, Rainstorm], min_severity: yellow}}", "when: {warning: {}}")  # fmt: skip
    city = WarningCity(open_store("s"), demo_regions, rules)
    city.weather = FeedDecoding("ea", ea_flood.decode, to_wgs84("wgs84"))
    try:
        listed = fixture_path("hydrology/ea_flood_monitoring_floods_somerset_2016-11-20.json").read_bytes()
        city.now = datetime(2016, 11, 20, 12, 40, tzinfo=UTC)
        city.warn(listed)
        alerts = city.warning_alerts()
        # Nine warnings listed; one is "no longer in force" for an area never seen raised: eight alerts.
        assert len(alerts) == 8 and {a["severity"] for a in alerts} == {"yellow", "orange"}
        city.at(minutes=15).warn(listed)  # polled again, nothing changed: nothing happens
        assert [a["condition"] for a in city.warning_alerts()] == ["active"] * 8
        # The next poll: the Flood Warning for 113FWF2G2A is no longer in force (level 4, as the EA says it).
        doc = json.loads(listed)
        ended = next(i for i in doc["items"] if i["floodAreaID"] == "113FWF2G2A")
        ended.update(severityLevel=4, severity="Warning no longer in force", timeMessageChanged="2016-11-20T13:00:00")
        city.at(minutes=5).warn(json.dumps(doc).encode())
        cleared = [a["subject_id"] for a in city.warning_alerts() if a["condition"] == "cleared"]
        assert cleared == ["113FWF2G2A"]
    finally:
        city.close()
