"""Alerts placed in incidents by the rule file's groups and inhibitions, through the real engine, writer and DuckDB
file, with time moved by the test's clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from access.policy import Principal
from alerts import by_hand, silences
from alerts.actions import act, act_on_incident
from alerts.lifecycle import TransitionError
from alerts.rules import parse_rule_file
from store import audit, queries
from store import incidents as incident_store
from store.accounts import Accounts
from store.audit import Trail
from tests.alert_rows import new_alert
from tests.rule_city import JINGXIU, LIANCHI, City

RULES = """
rules:
  - id: rain
    domain: flood
    select: {kind: rain_gauge}
    when: {threshold: {metric: rain_1h, above: 50}}
    clear: {threshold: {metric: rain_1h, below: 20}}
    severity: orange
    step_up: [{above: 80, severity: red}]
    title: {zh_CN: "{name} 强降雨", en: "{name}: heavy rain"}
    message: {zh_CN: "{value}", en: "{value}"}
    unit: emergency_management
  - id: gauge
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: level, above: 10}}
    severity: yellow
    title: {zh_CN: "{name} 超警", en: "{name} above warning"}
    message: {zh_CN: "{value}", en: "{value}"}
    unit: water_authority
  - id: platform-down
    domain: flood
    select: {kind: platform}
    when: {threshold: {metric: down, above: 0.5}}
    severity: orange
    title: {zh_CN: "{name} 故障", en: "{name} down"}
    message: {zh_CN: "{value}", en: "{value}"}
    unit: system_operations
  - id: camera-offline
    domain: flood
    select: {kind: camera}
    when: {threshold: {metric: online, below: 0.5}}
    clear: {threshold: {metric: online, above: 0.5}}
    severity: blue
    title: {zh_CN: "{name} 离线", en: "{name} offline"}
    message: {zh_CN: "{value}", en: "{value}"}
    unit: system_operations
groups:
  - id: storm
    title: {zh_CN: "{region}暴雨", en: "Storm in {region} ({count})"}
    rules: [rain]
    joins: [gauge]
    by: district
    window: 30m
    auto_close: 10m
inhibit:
  - id: platform
    source: {rule: platform-down, subject: "f:p1"}   # a subject's id is its feed's and its own
    targets: [camera-offline]
"""


@pytest.fixture
def city(open_store, demo_regions):
    book = parse_rule_file(RULES)
    c = City(open_store("incidents"), demo_regions, book.rules, book)
    yield c
    c.close()


def incidents(city: City) -> list[dict]:
    cur = city.store.cursor()
    return [
        {
            k: row[k]
            for k in (
                "id",
                "group_id",
                "region_id",
                "severity",
                "members",
                "active_members",
                "inhibited",
                "title_en",
                "all_cleared_at",
            )
        }  # fmt: skip
        for row in incident_store.open_incidents(cur)
    ]


def placed(city: City) -> dict[str, tuple[int | None, str | None]]:
    rows = city.store.cursor().execute("SELECT subject_id, incident_id, suppressed_by FROM alerts").fetchall()
    return {subject.removeprefix("f:"): (incident, suppressed) for subject, incident, suppressed in rows}


def test_a_storm_opens_one_incident_per_district_that_its_gauges_join(city):
    city.entity("r1", LIANCHI, kind="rain_gauge")
    city.entity("g1", LIANCHI, kind="river_gauge")
    city.entity("g2", JINGXIU, kind="river_gauge")
    city.value("g2", level=11)  # no storm in Jingxiu: the gauge's rule opens its own incident there
    city.value("r1", rain_1h=60)
    city.value("g1", level=12)  # joins Lianchi's storm
    storm, jingxiu = sorted(incidents(city), key=lambda i: i["group_id"], reverse=True)
    assert (storm["group_id"], storm["region_id"], storm["members"]) == ("storm", "130606", 2)
    assert storm["title_en"] == "Storm in Lianchi District (2)" and storm["severity"] == "orange"
    assert (jingxiu["group_id"], jingxiu["region_id"], jingxiu["title_en"]) == ("gauge", "130602", "G2 above warning")
    assert placed(city)["g1"][0] == placed(city)["r1"][0] == storm["id"]
    area = json.loads(city.store.cursor().execute("SELECT area FROM incidents WHERE id = ?",
                                                  [storm["id"]]).fetchone()[0])  # fmt: skip
    assert area["type"] == "Polygon"  # its members lie on one spot: widened so it can be drawn
    # A member that gets worse makes the incident as bad.
    city.at(minutes=1).value("r1", rain_1h=90)
    assert next(i for i in incidents(city) if i["id"] == storm["id"])["severity"] == "red"


def test_a_storm_joins_while_it_rains_or_within_its_window_then_a_new_one_opens(city):
    for gauge in ("r1", "r2", "r3"):
        city.entity(gauge, LIANCHI, kind="rain_gauge")
    city.value("r1", rain_1h=60)
    city.at(minutes=40).value("r2", rain_1h=60)  # past the 30 min window, but r1 still rains: the same storm
    assert [(i["group_id"], i["members"]) for i in incidents(city)] == [("storm", 2)]
    city.at(minutes=1).value("r1", rain_1h=10)
    city.value("r2", rain_1h=10)  # all clear now
    city.at(minutes=31).value("r3", rain_1h=60)  # clear for longer than the window: a new storm
    assert [(i["group_id"], i["members"]) for i in incidents(city)] == [("storm", 2), ("storm", 1)]


def test_cleared_members_say_since_when_the_incident_is_all_clear(city):
    city.entity("r1", LIANCHI, kind="rain_gauge")
    city.value("r1", rain_1h=60)
    city.at(minutes=5).value("r1", rain_1h=10)
    (storm,) = incidents(city)
    assert storm["active_members"] == 0 and storm["all_cleared_at"] == city.now
    city.at(minutes=1).value("r1", rain_1h=70)  # it rains again: active again
    (storm,) = incidents(city)
    assert storm["active_members"] == 1 and storm["all_cleared_at"] is None


@pytest.mark.parametrize("same_batch", [False, True])
def test_cameras_of_a_platform_that_is_down_are_recorded_in_its_incident_not_raised(city, same_batch):
    city.entity("p1", LIANCHI, kind="platform")
    for camera in ("c1", "c2"):
        city.entity(camera, LIANCHI, kind="camera")
    if same_batch:  # the platform and its cameras fail in one message: one evaluation finds them all
        city.send({"type": "observation", "entity": "p1", "values": {"down": 1}},
                  *({"type": "observation", "entity": c, "values": {"online": 0}} for c in ("c1", "c2")))  # fmt: skip
    else:
        city.value("p1", down=1)
        city.value("c1", online=0)
        city.value("c2", online=0)
    (platform,) = incidents(city)
    assert (platform["members"], platform["inhibited"]) == (1, 2)
    where = placed(city)
    assert where["c1"] == where["c2"] == (platform["id"], "inhibit:platform")
    assert set(queries.open_alerts(city.store)["subject_id"]) == {"f:p1"}  # the views see the platform only
    # A camera that comes back while inhibited is closed: nobody was asked to handle it.
    city.at(minutes=1).value("c1", online=1)
    states = dict(city.store.cursor().execute("SELECT subject_id, state FROM alerts").fetchall())
    assert states == {"f:p1": "new", "f:c1": "closed", "f:c2": "new"}


def test_cameras_offline_without_the_platform_down_are_raised(city):
    city.entity("p1", LIANCHI, kind="platform")
    city.entity("c1", JINGXIU, kind="camera")
    city.value("p1", down=0)
    city.value("c1", online=0)
    (camera,) = incidents(city)
    assert (camera["group_id"], camera["members"], camera["inhibited"]) == ("camera-offline", 1, 0)
    assert placed(city)["c1"] == (camera["id"], None)


def test_cameras_are_raised_once_their_platform_is_back(city):
    city.entity("p1", LIANCHI, kind="platform")
    city.entity("c1", LIANCHI, kind="camera")
    city.value("p1", down=1)
    city.value("c1", online=0)
    city.at(minutes=1).value("p1", down=0)  # the platform is back; the camera is still offline
    city.tick(seconds=5)
    cameras = [i for i in incidents(city) if i["group_id"] == "camera-offline"]
    assert [(i["members"], i["inhibited"]) for i in cameras] == [(1, 0)]
    assert placed(city)["c1"] == (cameras[0]["id"], None)
    platform = next(i for i in incidents(city) if i["group_id"] == "platform-down")
    assert platform["inhibited"] == 0
    camera_alert = city.store.cursor().execute("SELECT id FROM alerts WHERE subject_id = 'f:c1'").fetchone()[0]
    assert city.timeline(camera_alert) == ["fire", "raise"]


def test_an_incident_that_closes_itself_does_so_once_all_is_clear_for_its_time(city):
    city.entity("r1", LIANCHI, kind="rain_gauge")
    city.value("r1", rain_1h=60)
    city.at(minutes=1).value("r1", rain_1h=10)
    city.tick(minutes=9)
    assert len(incidents(city)) == 1  # clear for 9 of its 10 minutes: still open
    city.tick(minutes=1)
    assert incidents(city) == []
    row = city.store.cursor().execute("SELECT state, closed_at FROM incidents").fetchone()
    assert row == ("closed", city.now)
    assert [a["state"] for a in city.alerts()] == ["closed"]
    assert city.timeline(city.alerts()[0]["id"])[-1] == "close"
    assert [e["note"] for e in incident_store.timeline(city.store.cursor(), 1)][-1] == "all cleared"


def test_alerts_from_before_incidents_are_placed_when_the_engine_starts(open_store, demo_regions):
    book = parse_rule_file(RULES)
    first = City(open_store("old"), demo_regions, book.rules, book)
    first.close()
    store = open_store("old")
    new_alert(store, district="130606", rule_id="gauge", subject_id="f:g9")  # written before incidents existed
    store.close()
    again = City(open_store("old"), demo_regions, book.rules, book)
    try:
        (incident,) = incidents(again)
        assert (incident["group_id"], incident["region_id"], incident["members"]) == ("gauge", "130606", 1)
        assert placed(again)["g9"] == (incident["id"], None)
    finally:
        again.close()


@pytest.fixture
def trail(tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite")
    yield Trail(accounts, "10.0.0.1")
    accounts.close()


DUTY = Principal("duty", "duty_officer")


def test_a_silence_records_the_alerts_of_its_scope_until_it_ends(city, trail):
    city.entity("c1", LIANCHI, kind="camera")
    city.entity("c2", JINGXIU, kind="camera")
    silence_id = silences.add(city.store, city.regions, DUTY, silences.Scope(rule_id="camera-offline",
                              region_id="130606"), "cameras of 莲池区 serviced", city.now + timedelta(minutes=30),
                              now=city.now, audit=trail)  # fmt: skip
    city.value("c1", online=0)
    city.value("c2", online=0)
    assert placed(city)["c1"] == (None, f"silence:{silence_id}")  # recorded, in no incident, not raised
    assert placed(city)["c2"][1] is None
    assert set(queries.open_alerts(city.store)["subject_id"]) == {"f:c2"}
    city.tick(minutes=29)
    assert placed(city)["c1"][1] == f"silence:{silence_id}"
    city.tick(minutes=1)  # the silence is over: the camera, still offline, is raised
    assert placed(city)["c1"][1] is None and placed(city)["c1"][0] is not None
    assert [e.action for e in audit.search(trail.accounts)] == ["silence add"]


def test_a_silence_ended_early_lets_its_alerts_be_raised(city, trail):
    city.entity("c1", LIANCHI, kind="camera")
    silence_id = silences.add(city.store, city.regions, DUTY, silences.Scope(domain="flood"), "drill",
                              city.now + timedelta(hours=2), now=city.now, audit=trail)  # fmt: skip
    city.value("c1", online=0)
    assert placed(city)["c1"][1] == f"silence:{silence_id}"
    silences.end(city.store, city.regions, DUTY, silence_id, now=city.now, audit=trail)
    city.tick(seconds=5)
    assert placed(city)["c1"][1] is None
    ended = city.store.cursor().execute("SELECT ended_by FROM silences").fetchone()[0]
    assert ended == "duty"


@pytest.mark.parametrize(("principal", "scope", "reason", "hours", "code"), [
    (Principal("leader", "district_leader", ("130606",)), silences.Scope(region_id="130606"), "x", 1, "forbidden"),
    (Principal("viewer", "viewer"), silences.Scope(domain="flood"), "x", 1, "forbidden"),
    (DUTY, silences.Scope(), "x", 1, "empty"),
    (DUTY, silences.Scope(region_id="nowhere"), "x", 1, "empty"),
    (DUTY, silences.Scope(domain="flood"), " ", 1, "reason"),
    (DUTY, silences.Scope(domain="flood"), "x", 24 * 8, "ends"),
    (DUTY, silences.Scope(domain="flood"), "x", -1, "ends"),
])  # fmt: skip
def test_a_silence_is_refused_with_its_reason_and_the_refusal_audited(city, trail, principal, scope, reason, hours,
                                                                       code):  # fmt: skip
    with pytest.raises(silences.SilenceError) as refused:
        silences.add(city.store, city.regions, principal, scope, reason, city.now + timedelta(hours=hours),
                     now=city.now, audit=trail)  # fmt: skip
    assert refused.value.code == code
    assert city.store.cursor().execute("SELECT count(*) FROM silences").fetchone()[0] == 0
    assert [(e.action, e.outcome) for e in audit.search(trail.accounts)] == [("silence add", "refused")]


def storm_with_two_gauges(city: City) -> int:
    city.entity("r1", LIANCHI, kind="rain_gauge")
    city.entity("g1", LIANCHI, kind="river_gauge")
    city.value("r1", rain_1h=60)
    city.value("g1", level=12)
    (storm,) = incidents(city)
    return storm["id"]


def states(city: City) -> dict[str, str]:
    rows = city.store.cursor().execute("SELECT subject_id, state FROM alerts").fetchall()
    return {subject.removeprefix("f:"): state for subject, state in rows}


def test_an_action_on_an_incident_moves_its_members_that_may_take_it(city, trail):
    storm = storm_with_two_gauges(city)
    gauge = next(a["id"] for a in city.alerts() if a["subject_id"] == "f:g1")
    act(city.store, DUTY, gauge, "acknowledge", now=city.now, audit=None)  # one member went ahead
    incident = act_on_incident(city.store, DUTY, storm, "acknowledge", now=city.now, audit=trail)
    assert incident["state"] == "acknowledged" and states(city) == {"r1": "acknowledged", "g1": "acknowledged"}
    rain = next(a["id"] for a in city.alerts() if a["subject_id"] == "f:r1")
    assert city.timeline(rain) == ["fire", "acknowledge"] and city.timeline(gauge) == ["fire", "acknowledge"]
    (entry,) = audit.search(trail.accounts)
    assert (entry.action, entry.target, entry.detail) == ("incident acknowledge", f"incident {storm}", "1 alerts")
    act_on_incident(city.store, DUTY, storm, "dispatch", now=city.now, audit=trail, unit_id="water-authority")
    act_on_incident(city.store, DUTY, storm, "resolve", now=city.now, audit=trail, note="pumps running")
    with pytest.raises(TransitionError) as own:  # who resolved it verifies it only saying how (核查)
        act_on_incident(city.store, DUTY, storm, "close", now=city.now, audit=trail)
    assert own.value.code == "own_close"
    closed = act_on_incident(city.store, DUTY, storm, "close", now=city.now, audit=trail, note="checked on site")
    assert closed["state"] == "closed" and closed["closed_at"] == city.now and closed["unit_id"] == "water-authority"
    assert set(states(city).values()) == {"closed"}
    assert [e["action"] for e in incident_store.timeline(city.store.cursor(), storm)] == [
        "open", "grow", "acknowledge", "dispatch", "resolve", "close"]  # fmt: skip


def test_an_incident_elsewhere_is_missing_and_a_role_that_may_not_is_refused(city, trail):
    storm = storm_with_two_gauges(city)  # in 莲池区 (130606)
    jingxiu = Principal("leader-j", "district_leader", ("130602",))
    lianchi = Principal("leader-l", "district_leader", ("130606",))
    with pytest.raises(TransitionError) as elsewhere:
        act_on_incident(city.store, jingxiu, storm, "comment", now=city.now, audit=trail, note="seen")
    assert elsewhere.value.code == "missing"
    with pytest.raises(TransitionError) as forbidden:
        act_on_incident(city.store, lianchi, storm, "acknowledge", now=city.now, audit=trail)
    assert forbidden.value.code == "forbidden"
    act_on_incident(city.store, lianchi, storm, "comment", now=city.now, audit=trail, note="on my way")  # approve
    with pytest.raises(TransitionError) as needs_unit:
        act_on_incident(city.store, DUTY, storm, "dispatch", now=city.now, audit=trail)
    assert needs_unit.value.code == "needs_unit"
    assert [e.outcome for e in audit.search(trail.accounts)] == ["refused", "ok", "refused", "refused"]
    assert set(states(city).values()) == {"new"}


def test_inhibited_members_are_left_as_they_are(city, trail):
    city.entity("p1", LIANCHI, kind="platform")
    city.entity("c1", LIANCHI, kind="camera")
    city.value("p1", down=1)
    city.value("c1", online=0)
    (platform,) = incidents(city)
    act_on_incident(city.store, DUTY, platform["id"], "acknowledge", now=city.now, audit=trail)
    assert states(city) == {"p1": "acknowledged", "c1": "new"}


def test_an_incident_worked_alert_by_alert_is_as_far_as_its_least_advanced_alert(city):
    storm = storm_with_two_gauges(city)
    rain, gauge = (next(a["id"] for a in city.alerts() if a["subject_id"] == f"f:{s}") for s in ("r1", "g1"))
    act(city.store, DUTY, rain, "acknowledge", now=city.now, audit=None)
    assert incidents(city)[0]["id"] == storm and incident_store.get(city.store.cursor(), storm)["state"] == "new"
    act(city.store, DUTY, gauge, "dispatch", now=city.now, audit=None, unit_id="water-authority")
    assert incident_store.get(city.store.cursor(), storm)["state"] == "acknowledged"
    act(city.store, DUTY, rain, "dispatch", now=city.now, audit=None, unit_id="water-authority")
    assert incident_store.get(city.store.cursor(), storm)["state"] == "dispatched"
    for alert_id in (rain, gauge):
        act(city.store, DUTY, alert_id, "resolve", now=city.now, audit=None, note="done")
        act(city.store, DUTY, alert_id, "close", now=city.now, audit=None, note="verified")
    closed = incident_store.get(city.store.cursor(), storm)
    assert (closed["state"], closed["closed_at"]) == ("closed", city.now)
    followed = [e["to_state"] for e in incident_store.timeline(city.store.cursor(), storm) if e["action"] == "follow"]
    assert followed == ["acknowledged", "dispatched", "resolved", "closed"]


def test_rain_and_a_river_found_in_one_evaluation_are_one_storm(city):
    city.entity("r1", LIANCHI, kind="rain_gauge")
    city.entity("g1", LIANCHI, kind="river_gauge")
    # The gauge's reading comes first in the message, and its rule first in the file: the storm still opens first.
    city.send({"type": "observation", "entity": "g1", "values": {"level": 12}},
              {"type": "observation", "entity": "r1", "values": {"rain_1h": 60}})  # fmt: skip
    assert [(i["group_id"], i["members"]) for i in incidents(city)] == [("storm", 2)]


def test_counts_follow_the_alerts_and_a_member_escalated_by_hand_raises_its_incident(city):
    storm = storm_with_two_gauges(city)
    gauge = next(a["id"] for a in city.alerts() if a["subject_id"] == "f:g1")
    act(city.store, DUTY, gauge, "escalate", now=city.now, audit=None)  # yellow → orange, as the storm
    act(city.store, DUTY, gauge, "escalate", now=city.now, audit=None)  # → red
    assert incident_store.get(city.store.cursor(), storm)["severity"] == "red"
    act(city.store, DUTY, gauge, "cancel", now=city.now, audit=None, note="a faulty gauge")
    city.tick(seconds=5)
    counted = incident_store.get(city.store.cursor(), storm)
    assert (counted["members"], counted["active_members"]) == (2, 1)  # the cancelled one is no longer active


def test_an_incident_moves_forward_only_and_an_alert_left_open_at_its_end_gets_an_incident_of_its_own(city):
    storm = storm_with_two_gauges(city)
    act_on_incident(city.store, DUTY, storm, "acknowledge", now=city.now, audit=None)
    city.entity("g2", LIANCHI, kind="river_gauge")
    city.value("g2", level=12)  # joins the acknowledged storm as a new alert
    rain = next(a["id"] for a in city.alerts() if a["subject_id"] == "f:r1")
    act(city.store, DUTY, rain, "dispatch", now=city.now, audit=None, unit_id="water-authority")
    assert incident_store.get(city.store.cursor(), storm)["state"] == "acknowledged"  # not back to new
    act_on_incident(city.store, DUTY, storm, "dispatch", now=city.now, audit=None, unit_id="water-authority")
    act_on_incident(city.store, DUTY, storm, "resolve", now=city.now, audit=None, note="pumped")
    city.entity("g3", LIANCHI, kind="river_gauge")
    city.value("g3", level=12)  # joins the resolved storm: new, it cannot be closed with the rest
    act_on_incident(city.store, DUTY, storm, "close", now=city.now, audit=None, note="verified")
    assert placed(city)["g3"] == (None, None) and states(city)["g2"] == "closed"
    city.tick(seconds=5)
    (again,) = incidents(city)
    assert again["id"] != storm and again["members"] == 1 and placed(city)["g3"][0] == again["id"]


def test_an_incident_opened_by_hand_enters_the_same_loop(city, trail):
    opened = by_hand.open_incident(city.store, city.regions, DUTY, domain="flood", region_id="130606",
                                   severity="orange", title="火车站下穿积水", description="caller: 30 cm",
                                   description_max=4000, now=city.now, audit=trail)  # fmt: skip
    (incident,) = incidents(city)
    assert (incident["id"], incident["group_id"], incident["region_id"], incident["members"]) == (
        opened, "by-hand", "130606", 1)  # fmt: skip
    (alert,) = city.alerts()
    assert (alert["title_en"], alert["severity"], alert["state"]) == ("火车站下穿积水", "orange", "new")
    assert set(queries.open_alerts(city.store)["id"]) == {alert["id"]}  # on the queue and the wall like any
    act_on_incident(city.store, DUTY, opened, "acknowledge", now=city.now, audit=trail)
    assert [a["state"] for a in city.alerts()] == ["acknowledged"]
    city.tick(minutes=5)  # no rule watches it: the rule engine leaves it to people
    assert [a["state"] for a in city.alerts()] == ["acknowledged"] and len(incidents(city)) == 1
    assert [e.action for e in audit.search(trail.accounts)] == ["incident acknowledge", "incident open"]


@pytest.mark.parametrize(("principal", "fields", "code"), [
    (Principal("viewer", "viewer"), {}, "forbidden"),
    (Principal("leader-j", "district_leader", ("130602",)), {}, "forbidden"),
    (DUTY, {"region_id": "city"}, "region"),
    (DUTY, {"domain": "weather"}, "domain"),
    (DUTY, {"severity": "purple"}, "severity"),
    (DUTY, {"title": " "}, "title"),
    (DUTY, {"description": "x" * 4001}, "description"),
])  # fmt: skip
def test_an_incident_by_hand_is_refused_with_its_reason(city, trail, principal, fields, code):
    typed = {"domain": "flood", "region_id": "130606", "severity": "yellow", "title": "t", "description": "", **fields}
    with pytest.raises(by_hand.OpenError) as refused:
        by_hand.open_incident(city.store, city.regions, principal, **typed, description_max=4000, now=city.now,
                              audit=trail)  # fmt: skip
    assert refused.value.code == code and incidents(city) == []
    assert [(e.action, e.outcome) for e in audit.search(trail.accounts)] == [("incident open", "refused")]
