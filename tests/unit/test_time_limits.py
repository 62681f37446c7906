"""Time limits: a breach escalates exactly once per stage; a snooze holds it back."""

from datetime import UTC, datetime, timedelta

import pytest

from access.policy import Principal
from alerts.actions import act, act_on_incident
from alerts.rules import parse_rule_file, parse_rules
from alerts.time_limits import TimeLimits
from cityops.config import TimeLimits as Table
from store import alerts as alert_store
from store import incidents as incident_store
from tests.alert_rows import new_alert as alert_row
from tests.rule_city import City

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
DUTY = Principal("duty", "duty_officer")
TABLE = Table.model_validate(
    {
        "acknowledge": {"red": 5, "orange": 10, "yellow": 30, "blue": 60},
        "dispatch": {"red": 10, "orange": 30, "yellow": 60, "blue": 240},
        "resolve": {"red": 60, "orange": 240, "yellow": 480, "blue": 1440},
    }
)
RULES = parse_rules(
    """
rules:
  - id: r
    domain: flood
    when: {threshold: {metric: x, above: 1}}
    severity: yellow
    title: {zh_CN: t, en: t}
    message: {zh_CN: m, en: m}
    unit: water_authority
  - id: quick
    domain: fire
    when: {threshold: {metric: x, above: 1}}
    severity: blue
    time_limits: {acknowledge: 1m}
    title: {zh_CN: t, en: t}
    message: {zh_CN: m, en: m}
    unit: fire_brigade
"""
)


@pytest.fixture
def store(open_store):
    store = open_store("sla")
    yield store
    store.close()


def new_alert(store, rule_id="r", severity="yellow", at=T0) -> int:
    alert_id = alert_row(store, rule_id=rule_id, severity=severity, at=at, subject_id="s")
    alert_store.log(store.cursor(), alert_id, at, "rules", "fire", None, "new")
    return alert_id


def breached(limits: TimeLimits, store, at) -> list[tuple[int, str]]:
    return [(d.id, d.stage) for d in limits.check(store, at)]


def actions(store, alert_id):
    return [e["action"] for e in alert_store.timeline(store.cursor(), alert_id)]


def test_acknowledge_breach_escalates_once(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    assert breached(limits, store, T0 + timedelta(minutes=29)) == []
    assert breached(limits, store, T0 + timedelta(minutes=31)) == [(alert_id, "acknowledge")]
    assert breached(limits, store, T0 + timedelta(minutes=60)) == []  # not twice
    alert = alert_store.get(store.cursor(), alert_id)
    assert alert["severity"] == "orange" and alert["overdue_stages"] == ["acknowledge"]
    assert actions(store, alert_id) == ["fire", "overdue"]


def test_each_stage_has_its_own_clock(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    act(store, DUTY, alert_id, "acknowledge", audit=None, now=T0 + timedelta(minutes=10))
    # dispatch within 60 min of the acknowledgement (yellow)
    assert breached(limits, store, T0 + timedelta(minutes=65)) == []
    assert breached(limits, store, T0 + timedelta(minutes=71)) == [(alert_id, "dispatch")]
    act(store, DUTY, alert_id, "dispatch", audit=None, now=T0 + timedelta(minutes=80), unit_id="water-authority")
    # now orange: resolve within 240 min of the dispatch
    assert breached(limits, store, T0 + timedelta(minutes=80 + 239)) == []
    assert breached(limits, store, T0 + timedelta(minutes=80 + 241)) == [(alert_id, "resolve")]
    assert alert_store.get(store.cursor(), alert_id)["severity"] == "red"


def test_snooze_holds_escalation_back_until_it_ends(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    act(store, DUTY, alert_id, "acknowledge", audit=None, now=T0)
    act(store, DUTY, alert_id, "snooze", audit=None, now=T0, snooze_for=timedelta(hours=2))
    assert breached(limits, store, T0 + timedelta(minutes=90)) == []  # dispatch limit (60 min) passed, but snoozed
    assert breached(limits, store, T0 + timedelta(minutes=121)) == [(alert_id, "dispatch")]


def test_a_rule_can_set_its_own_limit(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store, rule_id="quick", severity="blue")
    assert breached(limits, store, T0 + timedelta(seconds=61)) == [(alert_id, "acknowledge")]


def test_closed_and_resolved_alerts_have_no_running_clock(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    for action, note in (("acknowledge", ""), ("dispatch", ""), ("resolve", "pumped out")):
        act(store, DUTY, alert_id, action, audit=None, now=T0, note=note, unit_id="water-authority")
    assert limits.deadlines(store, T0 + timedelta(days=3)) == []


# -- incidents: one clock for what people handle ---------------------------------------------------------------
GROUPED = parse_rule_file(
    """
rules:
  - id: gauge
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: water_level, above: 12}}
    severity: yellow
    title: {zh_CN: "{name}", en: "{name}"}
    message: {zh_CN: m, en: m}
    unit: water_authority
  - id: quick-gauge
    domain: flood
    select: {kind: quick_gauge}
    when: {threshold: {metric: water_level, above: 12}}
    severity: yellow
    time_limits: {acknowledge: 2m}
    title: {zh_CN: "{name}", en: "{name}"}
    message: {zh_CN: m, en: m}
    unit: water_authority
groups:
  - id: river
    rules: [gauge]
    joins: [quick-gauge]
"""
)


@pytest.fixture
def river(open_store, demo_regions):
    city = City(open_store("river"), demo_regions, GROUPED.rules, GROUPED)
    city.now = T0
    for name in ("g1", "g2"):
        city.entity(name)
        city.value(name, water_level=12.5)  # two gauges of one district: one incident
    yield city
    city.close()


def test_an_incident_runs_one_clock_for_all_its_alerts(river):
    limits = TimeLimits(TABLE, GROUPED.rules, GROUPED)
    [incident] = incident_store.open_incidents(river.store.cursor())
    [deadline] = limits.deadlines(river.store, T0)  # the alerts inside run none of their own
    assert (deadline.id, deadline.incident, deadline.stage) == (incident["id"], True, "acknowledge")
    assert deadline.due == incident["opened_at"] + timedelta(minutes=30)  # yellow: acknowledge within 30 min
    assert [d.stage for d in limits.check(river.store, T0 + timedelta(minutes=29))] == []
    assert [d.stage for d in limits.check(river.store, T0 + timedelta(minutes=31))] == ["acknowledge"]
    assert limits.check(river.store, T0 + timedelta(minutes=40)) == []  # once per stage
    incident = incident_store.get(river.store.cursor(), incident["id"])
    assert incident["overdue_stages"] == ["acknowledge"] and incident["severity"] == "orange"
    assert [e["action"] for e in incident_store.timeline(river.store.cursor(), incident["id"])][-1] == "overdue"
    members = incident_store.members(river.store.cursor(), incident["id"])
    assert [(m["severity"], m["overdue_stages"]) for m in members] == [("yellow", []), ("yellow", [])]


def test_acting_on_the_incident_starts_the_next_stages_clock(river):
    limits = TimeLimits(TABLE, GROUPED.rules, GROUPED)
    [incident] = incident_store.open_incidents(river.store.cursor())
    acknowledged = T0 + timedelta(minutes=10)
    act_on_incident(river.store, DUTY, incident["id"], "acknowledge", audit=None, now=acknowledged)
    [deadline] = limits.deadlines(river.store, acknowledged)
    assert (deadline.stage, deadline.due) == ("dispatch", acknowledged + timedelta(minutes=60))  # yellow
    # Worked alert by alert instead: the incident follows its least advanced alert, and its clock with it.
    for member in incident_store.members(river.store.cursor(), incident["id"]):
        act(river.store, DUTY, member["id"], "dispatch", audit=None, now=acknowledged + timedelta(minutes=5),
            unit_id="water-authority")  # fmt: skip
    [deadline] = limits.deadlines(river.store, acknowledged)
    assert (deadline.stage, deadline.due) == ("resolve", acknowledged + timedelta(minutes=5 + 480))


def test_an_incident_takes_the_strictest_limit_of_its_groups_rules(river):
    limits = TimeLimits(TABLE, GROUPED.rules, GROUPED)
    [incident] = incident_store.open_incidents(river.store.cursor())
    river.entity("q1", kind="quick_gauge")
    river.value("q1", water_level=13)  # only joins the river incident: its rule's 2 minutes are not the group's
    [deadline] = limits.deadlines(river.store, T0)
    assert deadline.id == incident["id"] and deadline.due == incident["opened_at"] + timedelta(minutes=30)
    # A group whose incidents both rules open takes the stricter of their limits.
    both = GROUPED.model_copy(update={"groups": [GROUPED.groups[0].model_copy(
        update={"rules": ["gauge", "quick-gauge"], "joins": []})]})  # fmt: skip
    limits = TimeLimits(TABLE, both.rules, both)
    assert limits.incident_due("river", "acknowledge", "yellow", T0) == T0 + timedelta(minutes=2)
    assert limits.incident_due("river", "dispatch", "yellow", T0) == T0 + timedelta(minutes=60)  # neither sets its own
    [deadline] = limits.deadlines(river.store, T0)
    assert deadline.due == incident["opened_at"] + timedelta(minutes=2)
