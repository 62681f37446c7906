"""The duty desk's queue without a browser: which alerts it keeps, the order it puts them in, and its rows."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd

from access.policy import Principal
from dashboard.pages.duty.desk import Desk
from dashboard.pages.duty.queue import filtered, ordered, queue

NOW = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
DUTY = Principal("duty", "duty_officer")
LEADER = Principal("leader", "district_leader", ("130606",))
UNITS = {"water-lianchi": SimpleNamespace(id="water-lianchi", type="water_authority", district="130606",
                                          name_zh="莲池区水务", name_en="Lianchi water")}  # fmt: skip


class NoRegions:
    def get(self, _region_id):
        return None


DESK = Desk(store=None, snapshots=None, regions=NoRegions(), units=UNITS, sops={}, tz="Asia/Shanghai", note_chars=4000)


def alert(id, severity="yellow", state="new", *, overdue=False, due=None, snoozed_until=None, created=0,
          domain="flood", district="130606", unit_id=None, unit_type="water_authority"):  # fmt: skip
    return {"id": id, "severity": severity, "state": state, "overdue": overdue, "due": due, "stage": "acknowledge",
            "snoozed_until": snoozed_until, "created_at": NOW - timedelta(minutes=created), "domain": domain,
            "district_id": district, "unit_id": unit_id, "unit_type": unit_type, "title_zh": f"警报{id}",
            "title_en": f"alert {id}"}  # fmt: skip


def frame(*alerts) -> pd.DataFrame:
    """As the snapshot has them: a running limit's `due` is a datetime or None (not NaT)."""
    return pd.DataFrame(list(alerts)).assign(due=pd.Series([a["due"] for a in alerts], dtype=object))


def test_overdue_first_then_severity_then_nearest_limit_then_newest_and_snoozed_last():
    alerts = frame(
        alert(1, "red", snoozed_until=NOW + timedelta(minutes=10)),
        alert(2, "blue", overdue=True),
        alert(3, "orange", due=NOW + timedelta(minutes=30)),
        alert(4, "orange", due=NOW + timedelta(minutes=5)),
        alert(5, "red", created=10),
        alert(6, "red", created=1),
        alert(7, "yellow", snoozed_until=NOW - timedelta(minutes=1)),  # the snooze is over
    )
    out = ordered(alerts, NOW)
    assert list(out["id"]) == [2, 6, 5, 4, 3, 7, 1]
    assert list(out["snoozed"]) == [False] * 6 + [True]


def test_an_empty_queue_stays_empty_with_its_snoozed_column():
    assert "snoozed" in ordered(frame(alert(1)).iloc[0:0], NOW).columns


def test_filters_keep_domain_district_status_and_the_units_own_or_waiting_alerts():
    alerts = frame(
        alert(1, domain="fire", unit_type="fire_brigade"),
        alert(2, district="130602"),
        alert(3, state="acknowledged"),
        alert(4, unit_id="water-lianchi", state="dispatched"),
        alert(5, unit_id="water-elsewhere", state="dispatched"),
    )
    assert list(filtered(alerts, UNITS, domain="flood")["id"]) == [2, 3, 4, 5]
    assert list(filtered(alerts, UNITS, district="130602")["id"]) == [2]
    assert list(filtered(alerts, UNITS, status="acknowledged")["id"]) == [3]
    # Dispatched to it, or waiting for its kind of unit; an unknown unit filters nothing.
    assert list(filtered(alerts, UNITS, unit_id="water-lianchi")["id"]) == [2, 3, 4]
    assert len(filtered(alerts, UNITS, unit_id="no-such-unit")) == 5


def test_the_queue_shows_the_principals_districts_only_and_counts_them():
    alerts = frame(alert(1, "red", overdue=True), alert(2, district="130602"), alert(3, state="acknowledged"))
    rows, counts = queue(DESK, alerts, LEADER, {}, "en", NOW)
    assert [r.__getattribute__("data-id") for r in rows] == ["1", "3"]
    assert [c.children for c in counts] == ["2 open", "1 overdue", "1 new"]
    assert "alarm" in rows[0].className and "overdue" in rows[0].className
    rows, _ = queue(DESK, alerts, DUTY, {}, "en", NOW)
    assert len(rows) == 3


def test_an_empty_queue_says_whether_the_filters_hid_everything():
    alerts = frame(alert(1))
    rows, _ = queue(DESK, alerts, DUTY, {"domain": "fire"}, "en", NOW)
    assert rows[0].children == "No open alert matches."
    rows, _ = queue(DESK, alerts.iloc[0:0], DUTY, {"domain": None}, "en", NOW)
    assert rows[0].children == "No open alerts"
