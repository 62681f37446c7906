"""Time limits: a breach escalates exactly once per stage; a snooze holds it back."""

from datetime import UTC, datetime, timedelta

import pytest

from access.policy import Principal
from alerts.actions import act
from alerts.rules import parse_rules
from alerts.time_limits import TimeLimits
from cityops.config import TimeLimits as Table
from store import alerts as alert_store
from store.database import Store
from tests.alert_rows import new_alert as alert_row

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
def store(tmp_path):
    store = Store(tmp_path / "sla.duckdb")
    yield store
    store.close()


def new_alert(store, rule_id="r", severity="yellow", at=T0) -> int:
    alert_id = alert_row(store, rule_id=rule_id, severity=severity, at=at, subject_id="s")
    alert_store.log(store.cursor(), alert_id, at, "rules", "fire", None, "new")
    return alert_id


def actions(store, alert_id):
    return [e["action"] for e in alert_store.timeline(store.cursor(), alert_id)]


def test_acknowledge_breach_escalates_once(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    assert limits.check(store, T0 + timedelta(minutes=29)) == []
    assert limits.check(store, T0 + timedelta(minutes=31)) == [(alert_id, "acknowledge")]
    assert limits.check(store, T0 + timedelta(minutes=60)) == []  # not twice
    alert = alert_store.get(store.cursor(), alert_id)
    assert alert["severity"] == "orange" and alert["overdue_stages"] == ["acknowledge"]
    assert actions(store, alert_id) == ["fire", "overdue"]


def test_each_stage_has_its_own_clock(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    act(store, DUTY, alert_id, "acknowledge", audit=None, now=T0 + timedelta(minutes=10))
    # dispatch within 60 min of the acknowledgement (yellow)
    assert limits.check(store, T0 + timedelta(minutes=65)) == []
    assert limits.check(store, T0 + timedelta(minutes=71)) == [(alert_id, "dispatch")]
    act(store, DUTY, alert_id, "dispatch", audit=None, now=T0 + timedelta(minutes=80), unit_id="water-authority")
    # now orange: resolve within 240 min of the dispatch
    assert limits.check(store, T0 + timedelta(minutes=80 + 239)) == []
    assert limits.check(store, T0 + timedelta(minutes=80 + 241)) == [(alert_id, "resolve")]
    assert alert_store.get(store.cursor(), alert_id)["severity"] == "red"


def test_snooze_holds_escalation_back_until_it_ends(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    act(store, DUTY, alert_id, "acknowledge", audit=None, now=T0)
    act(store, DUTY, alert_id, "snooze", audit=None, now=T0, snooze_for=timedelta(hours=2))
    assert limits.check(store, T0 + timedelta(minutes=90)) == []  # dispatch limit (60 min) passed, but snoozed
    assert limits.check(store, T0 + timedelta(minutes=121)) == [(alert_id, "dispatch")]


def test_a_rule_can_set_its_own_limit(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store, rule_id="quick", severity="blue")
    assert limits.check(store, T0 + timedelta(seconds=61)) == [(alert_id, "acknowledge")]


def test_closed_and_resolved_alerts_have_no_running_clock(store):
    limits = TimeLimits(TABLE, RULES)
    alert_id = new_alert(store)
    for action, note in (("acknowledge", ""), ("dispatch", ""), ("resolve", "pumped out")):
        act(store, DUTY, alert_id, action, audit=None, now=T0, note=note, unit_id="water-authority")
    assert limits.deadlines(store, T0 + timedelta(days=3)) == []
