"""The duty desk's queue without a browser: which alerts it keeps, the order it puts them in, and its rows."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd

from access.policy import Principal
from alerts.rules import parse_rule_file
from alerts.silences import Scope
from dashboard.i18n import translator
from dashboard.pages.duty.actions import bulk_acknowledge, silence_scope
from dashboard.pages.duty.desk import Desk
from dashboard.pages.duty.queue import QUEUE_ROWS, filtered, ordered, queue
from tests.rule_city import JINGXIU, LIANCHI, City

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
          domain="flood", district="130606", unit_id=None, unit_type="water_authority", incident=None):  # fmt: skip
    return {"id": id, "severity": severity, "state": state, "overdue": overdue, "due": due, "stage": "acknowledge",
            "snoozed_until": snoozed_until, "created_at": NOW - timedelta(minutes=created), "domain": domain,
            "district_id": district, "unit_id": unit_id, "unit_type": unit_type, "title_zh": f"警报{id}",
            "title_en": f"alert {id}", "incident_id": incident}  # fmt: skip


def incident(id, severity="yellow", state="new", *, district="130606", due=None, stage="acknowledge", overdue=False):
    return {"id": id, "severity": severity, "state": state, "district_id": district, "region_id": district,
            "title_zh": f"事件{id}", "title_en": f"incident {id}", "opened_at": NOW, "snoozed_until": None,
            "due": due, "stage": stage, "overdue": overdue}  # fmt: skip


def incidents(*rows) -> pd.DataFrame:
    """As the snapshot has them: `due` and `stage` objects, None where an incident has no running clock."""
    columns = list(incident(0))
    frame_ = pd.DataFrame(list(rows), columns=columns)
    return frame_.assign(due=pd.Series([r["due"] for r in rows], dtype=object),
                         stage=pd.Series([r["stage"] for r in rows], dtype=object))  # fmt: skip


NONE = incidents()


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


def drawn(shown) -> tuple[list, list]:
    return shown.rows, shown.counts


def test_the_queue_shows_the_principals_districts_only_and_counts_them():
    alerts = frame(alert(1, "red", overdue=True), alert(2, district="130602"), alert(3, state="acknowledged"))
    rows, counts = drawn(queue(DESK, alerts, NONE, LEADER, {}, "en", NOW))
    assert [r.__getattribute__("data-id") for r in rows] == ["1", "3"]
    assert [c.children for c in counts] == ["0 incidents", "2 open", "1 overdue", "1 new"]
    assert "alarm" in rows[0].className and "overdue" in rows[0].className
    rows, _ = drawn(queue(DESK, alerts, NONE, DUTY, {}, "en", NOW))
    assert len(rows) == 3


def test_an_empty_queue_says_whether_the_filters_hid_everything():
    alerts = frame(alert(1))
    rows, _ = drawn(queue(DESK, alerts, NONE, DUTY, {"domain": "fire"}, "en", NOW))
    assert rows[0].children == "No open alert matches."
    rows, _ = drawn(queue(DESK, alerts.iloc[0:0], NONE, DUTY, {"domain": None}, "en", NOW))
    assert rows[0].children == "No open alerts"


def test_the_queue_is_drawn_a_page_at_a_time_and_a_page_past_the_end_is_the_last():
    alerts = frame(*(alert(n, "red" if n <= 5 else "yellow") for n in range(1, 2 * QUEUE_ROWS + 11)))
    shown = queue(DESK, alerts, NONE, DUTY, {}, "en", NOW)
    assert len(shown.rows) == QUEUE_ROWS and (shown.page, shown.pages) == (0, 3)
    assert shown.where == f"Lines 1–{QUEUE_ROWS} of {2 * QUEUE_ROWS + 10}"
    assert [r.__getattribute__("data-id") for r in shown.rows[:5]] == ["1", "2", "3", "4", "5"]  # the red first
    last = queue(DESK, alerts, NONE, DUTY, {}, "en", NOW, page=7)
    assert (last.page, len(last.rows)) == (2, 10) and last.where.startswith(f"Lines {2 * QUEUE_ROWS + 1}–")
    assert [c.children for c in last.counts] == [c.children for c in shown.counts]  # counted over every page
    assert queue(DESK, alerts.head(3), NONE, DUTY, {}, "en", NOW).where == ""  # one page: nothing to say


def texts(component) -> str:
    """All the text of a component and its children."""
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    children = children if isinstance(children, list) else [children] if children is not None else []
    return " ".join(texts(c) for c in children if c is not None)


def test_an_incidents_alerts_are_one_row_that_opens_to_them_with_the_incidents_clock():
    due = NOW + timedelta(minutes=7)
    alerts = frame(alert(1, "red", incident=10, due=due), alert(2, incident=10, due=due), alert(3, "blue"),
                   alert(4, incident=11))  # fmt: skip
    found = incidents(incident(10, "red", due=due), incident(11, state="resolved", due=None, stage=None))
    rows, counts = drawn(queue(DESK, alerts, found, DUTY, {}, "en", NOW))
    assert [r.__getattribute__("data-key") for r in rows] == ["i10", "i11", "a3"]  # incident 11 has no clock
    assert rows[0].__getattribute__("data-id") == "1"  # the incident's row stands for its most urgent alert
    assert "incident 10" in texts(rows[0]) and "2 alerts" in texts(rows[0])
    assert rows[0].children[-1].__getattribute__("data-due") == due.isoformat()
    assert [c.children for c in counts][:2] == ["2 incidents", "4 open"]
    rows, _ = drawn(queue(DESK, alerts, found, DUTY, {}, "en", NOW, frozenset({10})))
    assert [r.__getattribute__("data-key") for r in rows] == ["i10", "a1", "a2", "i11", "a3"]


def test_an_alert_new_in_an_acknowledged_incident_sounds_its_row():
    alerts = frame(alert(1, "red", "acknowledged", incident=10), alert(2, "orange", incident=10))
    rows, _ = drawn(queue(DESK, alerts, incidents(incident(10, "red", "acknowledged")), DUTY, {}, "en", NOW))
    assert "alarm" in rows[0].className


def test_a_district_leader_sees_their_part_of_a_city_wide_incident_as_alerts():
    alerts = frame(alert(1, incident=10), alert(2, district="130602", incident=10))
    city_wide = incidents(incident(10, "red", district=None))
    rows, counts = drawn(queue(DESK, alerts, city_wide, LEADER, {}, "en", NOW))
    assert [r.__getattribute__("data-key") for r in rows] == ["a1"]  # not the city's incident, with its title
    assert "incident 10" not in texts(rows[0]) and counts[0].children == "0 incidents"


# -- bulk acknowledge over a real store: what a marked row stands for -----------------------------------------
BY_CITY = """
rules:
  - id: gauge
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: water_level, above: 12}}
    severity: red
    title: {zh_CN: "{name}", en: "{name}"}
    message: {zh_CN: m, en: m}
    unit: water_authority
groups:
  - {id: river, rules: [gauge], by: BY}
"""


def bulk(open_store, demo_regions, by: str, then=None) -> tuple[str, list[str]]:
    """Two gauges high in Lianchi and one in Jingxiu, grouped `by` district or city; every alert marked and
    acknowledged in bulk by the duty officer (then `then(city, desk)` runs): the desk's last answer, and the
    alerts' states after."""
    book = parse_rule_file(BY_CITY.replace("BY", by))
    city = City(open_store(f"{by}"), demo_regions, book.rules, book)
    try:
        for name, where in (("l1", LIANCHI), ("l2", (LIANCHI[0] + 0.01, LIANCHI[1])), ("j1", JINGXIU)):
            city.entity(name, where=where)
            city.value(name, water_level=12.5)
        desk = Desk(store=city.store, snapshots=None, regions=demo_regions, units=UNITS, sops={}, tz="Asia/Shanghai",
                    note_chars=4000)  # fmt: skip
        said = bulk_acknowledge(desk, DUTY, None, [a["id"] for a in city.alerts()], translator("en"))
        if then is not None:
            said = then(city, desk)
        return said, [a["state"] for a in city.alerts()]
    finally:
        city.close()


def test_marked_alerts_of_one_incident_acknowledge_it_once(open_store, demo_regions):
    said, states = bulk(open_store, demo_regions, "district")
    assert said == "Acknowledged 2." and states == ["acknowledged"] * 3  # Lianchi's incident, and Jingxiu's


def test_an_alert_that_joins_an_acknowledged_incident_is_acknowledged_itself(open_store, demo_regions):
    def another_gauge(city, desk):
        city.entity("l3", where=(LIANCHI[0] - 0.01, LIANCHI[1]))
        city.value("l3", water_level=12.5)  # joins the city's incident, acknowledged already
        return bulk_acknowledge(desk, DUTY, None, [city.alerts()[-1]["id"]], translator("en"))

    said, states = bulk(open_store, demo_regions, "city", another_gauge)
    assert said == "Acknowledged 1." and states == ["acknowledged"] * 4


def test_a_silence_set_from_an_alert_covers_the_scope_the_officer_chose():
    gauge = {"rule_id": "gauge", "subject_id": "f:g1", "domain": "flood", "district_id": "130606"}
    assert silence_scope(gauge, "device") == Scope(entity_ids=("f:g1",), region_id="130606")
    assert silence_scope(gauge, "domain") == Scope(domain="flood", region_id="130606")
    for choice in ("rule", None, "<script>", "city"):  # the default, and whatever else a request carries
        assert silence_scope(gauge, choice) == Scope(rule_id="gauge", region_id="130606")
