"""The duty desk's actions without a browser: refusals in the officer's language, the buttons the policy offers,
the dialog, checklist steps and bulk acknowledgement, done through the one door against a real store."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from dash import no_update

from access.policy import Principal
from alerts.lifecycle import TransitionError
from alerts.rules import Sop
from dashboard.i18n import translator
from dashboard.pages.duty.actions import bulk_acknowledge, buttons, confirm, press, refusal, tick_step
from dashboard.pages.duty.desk import Desk
from store import alerts as alert_store
from store import audit
from store.accounts import Accounts
from store.database import Store
from tests.alert_rows import new_alert as alert_row

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
DUTY = Principal("duty", "duty_officer")
LEADER = Principal("leader", "district_leader", ("130606",))
VIEWER = Principal("viewer", "viewer")
EN, ZH = translator("en"), translator("zh_CN")
GAUGE_SOP = Sop.model_validate(
    {
        "title": {"zh_CN": "高水位", "en": "High water"},
        "steps": [{"zh_CN": "核实", "en": "Verify"}, {"zh_CN": "通知", "en": "Tell"}],
    }
)
UNITS = {"water-lianchi": SimpleNamespace(id="water-lianchi", type="water_authority", district="130606",
                                          name_zh="莲池区水务", name_en="Lianchi water")}  # fmt: skip


@pytest.fixture
def house(open_store, tmp_path):
    store = open_store("duty")
    desk = Desk(
        store=store,
        snapshots=None,
        regions=None,
        units=UNITS,
        sops={"gauge": GAUGE_SOP},
        tz="Asia/Shanghai",
        note_chars=4000,
    )
    yield desk, audit.Trail(Accounts(tmp_path / "accounts.sqlite"), "192.0.2.7")
    store.close()


def new_alert(store: Store, district: str = "130606", state: str = "new") -> int:
    return alert_row(store, district=district, state=state, sop="gauge")


def test_a_refusal_names_the_action_and_the_state_in_the_officers_language():
    assert refusal(TransitionError("x", "needs_note", "resolve", "dispatched"), EN) == \
        "Resolve needs a note saying why."  # fmt: skip
    assert refusal(TransitionError("x", "not_allowed", "close", "new"), EN) == \
        "An alert that is New cannot be given “Verify and close”."  # fmt: skip
    assert refusal(TransitionError("x", "not_allowed", "close", "new"), ZH) != \
        refusal(TransitionError("x", "not_allowed", "close", "new"), EN)  # fmt: skip
    # A code the desk does not know is said as "not allowed"; an unknown state by its code.
    assert refusal(TransitionError("x", "odd", "close", "limbo"), EN) == \
        "An alert that is limbo cannot be given “Verify and close”."  # fmt: skip


def test_the_buttons_are_what_the_lifecycle_and_the_policy_allow():
    alert = {"state": "new", "district_id": "130606"}
    offered = [b.id["action"] for b in buttons(DUTY, alert, EN)]
    assert offered == [a for a in offered if a in {"acknowledge", "dispatch", "cancel", "comment", "escalate",
                                                   "silence"}]  # fmt: skip
    assert {"acknowledge", "dispatch", "silence"} <= set(offered)
    assert buttons(VIEWER, alert, EN) == []
    assert "dispatch" not in [b.id["action"] for b in buttons(LEADER, alert, EN)]
    assert buttons(LEADER, {"state": "new", "district_id": "130602"}, EN) == []


def test_dispatch_opens_the_dialog_with_the_unit_suggested_and_acknowledge_is_done_at_once(house):
    desk, trail = house
    alert_id = new_alert(desk.store)
    opened = press(desk, DUTY, trail, alert_id, "dispatch", EN)
    assert opened[0] == "duty-dialog" and opened[5] == "water-lianchi" and opened[8] == "dispatch"
    done = press(desk, DUTY, trail, alert_id, "acknowledge", EN)
    assert done[0] == "duty-dialog hidden" and done[-1] == "Done: Acknowledge"
    assert alert_store.get(desk.store.cursor(), alert_id)["state"] == "acknowledged"
    again = press(desk, DUTY, trail, alert_id, "acknowledge", EN)
    assert again[-1].startswith("Not done: An alert that is Acknowledged")


def test_the_dialog_stays_open_with_what_is_missing(house):
    desk, trail = house
    alert_id = new_alert(desk.store, state="acknowledged")
    assert confirm(desk, DUTY, trail, alert_id, "resolve", None, None, "", EN) == (
        no_update, "Resolve needs a note saying why.", no_update)  # fmt: skip
    assert confirm(desk, DUTY, trail, alert_id, "snooze", None, "soon", "", EN)[1] == \
        "Minutes must be a number."  # fmt: skip
    assert confirm(desk, DUTY, trail, alert_id, "snooze", None, 30, "", EN) == (
        "duty-dialog hidden", "", "Done: Snooze")  # fmt: skip
    assert alert_store.get(desk.store.cursor(), alert_id)["snoozed_until"] is not None


def test_a_checklist_step_ticked_is_recorded_and_nothing_happens_without_one_change(house):
    desk, trail = house
    alert_id = new_alert(desk.store)
    assert tick_step(desk, DUTY, trail, alert_id, [0], [0], EN) is None
    assert tick_step(desk, DUTY, trail, alert_id, [0, 1], [], EN) is None
    assert tick_step(desk, DUTY, trail, alert_id, [1], [], EN) == "Checklist step 2 recorded."
    entry = alert_store.timeline(desk.store.cursor(), alert_id)[-1]
    assert (entry["action"], entry["details"]["step"], entry["details"]["done"]) == ("check", 1, True)
    assert tick_step(desk, DUTY, trail, alert_id, [], [1], EN) == "Checklist step 2 recorded."
    assert alert_store.timeline(desk.store.cursor(), alert_id)[-1]["details"]["done"] is False
    # A step the alert's checklist does not have, or what is not a step, is refused and not recorded.
    assert tick_step(desk, DUTY, trail, alert_id, [999], [], EN).startswith("Not done:")
    assert tick_step(desk, DUTY, trail, alert_id, ["0"], [], EN) is None
    assert len(alert_store.timeline(desk.store.cursor(), alert_id)) == 2


def test_what_the_dialog_limits_in_the_browser_is_refused_on_the_server_too(house):
    desk, trail = house
    alert_id = new_alert(desk.store, state="acknowledged")
    for minutes in ("10000000", "inf", "nan", "1e400"):
        dialog, message, _ = confirm(desk, DUTY, trail, alert_id, "snooze", None, minutes, "", EN)
        assert dialog is no_update and message, minutes  # the dialog stays open and says why
    _dialog, message, _ = confirm(desk, DUTY, trail, alert_id, "dispatch", "no-such-unit", None, "", EN)
    assert "unit" in message
    _dialog, message, _ = confirm(desk, DUTY, trail, alert_id, "dispatch", ["water-lianchi"], None, ["x"], EN)
    assert "unit" in message
    assert alert_store.get(desk.store.cursor(), alert_id)["state"] == "acknowledged"


def test_bulk_acknowledge_does_what_it_may_and_says_why_not_the_rest(house):
    desk, trail = house
    waiting, taken = new_alert(desk.store), new_alert(desk.store, state="acknowledged")
    assert bulk_acknowledge(desk, DUTY, trail, [], EN) == "Mark alerts with Space first."
    message = bulk_acknowledge(desk, DUTY, trail, [waiting, taken], EN)
    assert (
        message == f"Acknowledged 1. Not done: #{taken}: An alert that is Acknowledged cannot be given “Acknowledge”."
    )
    assert sorted(e.outcome for e in audit.search(trail.accounts)) == ["ok", "refused"]
    assert "Not done: " in bulk_acknowledge(desk, LEADER, trail, [new_alert(desk.store, "130602")], EN)


def test_only_whole_numbers_are_taken_as_marked_alerts_each_once():
    from dashboard.pages.duty.actions import marked_ids

    assert marked_ids([3, "3", 4, "x", True, None, 2.5, {"id": 1}, "12"]) == [3, 4, 12]
    assert marked_ids("1,2") == [] and marked_ids(None) == []
