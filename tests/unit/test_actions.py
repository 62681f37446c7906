"""The one door for alert actions: the access policy decides, the lifecycle table moves, and both the timeline and
the audit log hear of every attempt, done or refused."""

from datetime import UTC, datetime

import pytest

from access.policy import ANYWHERE, DISPLAY, PERMISSIONS, Principal, permission_allowed
from alerts.actions import act
from alerts.lifecycle import ACTIONS, TransitionError
from store import alerts as alert_store
from store import audit
from store.accounts import Accounts
from tests.alert_rows import new_alert

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
DUTY = Principal("duty", "duty_officer")
LEADER = Principal("leader", "district_leader", ("130606",))


@pytest.fixture
def house(open_store, tmp_path):
    store = open_store("actions")
    accounts = Accounts(tmp_path / "accounts.sqlite")
    yield store, audit.Trail(accounts, "192.0.2.7")
    store.close()


def test_an_action_done_is_on_the_timeline_and_in_the_audit_log(house):
    store, trail = house
    alert_id = new_alert(store, district="130606")
    alert = act(store, DUTY, alert_id, "acknowledge", now=T0, audit=trail)
    assert alert["state"] == "acknowledged"
    assert [(e["actor"], e["action"]) for e in alert_store.timeline(store.cursor(), alert_id)] == [
        ("duty", "acknowledge")
    ]
    entry = audit.search(trail.accounts)[0]
    assert (entry.actor, entry.role, entry.action, entry.target, entry.outcome, entry.address) == (
        "duty", "duty_officer", "alert acknowledge", f"alert {alert_id}", "ok", "192.0.2.7",
    )  # fmt: skip


def test_outside_the_principals_districts_an_action_is_refused_and_audited(house):
    store, trail = house
    elsewhere = new_alert(store, district="130602")
    with pytest.raises(TransitionError) as refused:
        act(store, LEADER, elsewhere, "close", now=T0, audit=trail)
    with pytest.raises(TransitionError) as absent:
        act(store, LEADER, elsewhere + 100, "close", now=T0, audit=trail)
    # Another district's alert is refused exactly as one that does not exist: its existence is not told.
    assert refused.value.code == absent.value.code == "missing"
    assert alert_store.get(store.cursor(), elsewhere)["state"] == "new"
    assert alert_store.timeline(store.cursor(), elsewhere) == []
    entries = audit.search(trail.accounts)
    assert [(e.actor, e.outcome) for e in entries] == [("leader", "refused")] * 2
    assert "130602" in entries[-1].detail  # the audit log says where the alert was


def test_a_leader_approves_in_their_district_but_does_not_dispatch(house):
    store, trail = house
    own = new_alert(store, district="130606")
    act(store, LEADER, own, "comment", now=T0, audit=trail, note="seen")
    with pytest.raises(TransitionError) as refused:
        act(store, LEADER, own, "dispatch", now=T0, audit=trail, unit_id="u")
    assert refused.value.code == "forbidden"


def test_a_refusal_of_the_lifecycle_is_audited_too(house):
    store, trail = house
    alert_id = new_alert(store, district="130606")
    with pytest.raises(TransitionError) as refused:
        act(store, DUTY, alert_id, "resolve", now=T0, audit=trail)  # no note
    assert refused.value.code == "needs_note"
    assert audit.search(trail.accounts)[0].outcome == "refused"


def test_a_wall_display_and_a_viewer_act_on_nothing():
    for role in (DISPLAY, "viewer", "admin"):
        principal = Principal("p", role)
        assert not any(permission_allowed(principal, action, "130606") for action in ACTIONS), role


def test_permissions_without_a_place_follow_the_role_table():
    for role, granted in PERMISSIONS.items():
        principal = Principal("p", role)
        for permission in ("view", "view_wall", "feeds", "audit", "health", "act", "approve", "tasks"):
            assert permission_allowed(principal, permission, ANYWHERE) == (permission in granted), (role, permission)
        # The wall is the whole city's: one whose scope is part of it (regions, or tasks given) does not get it.
        for scoped in (Principal("p", role, ("130606",)), Principal("p", role, by_task=True)):
            assert not permission_allowed(scoped, "view_wall", ANYWHERE), role
    # A leader's scope is their districts; a city-wide principal's is everything, unplaced things included.
    assert permission_allowed(LEADER, "view", "130606") and not permission_allowed(LEADER, "view", "130602")
    assert not permission_allowed(LEADER, "view", None) and permission_allowed(DUTY, "view", None)
