"""Shift handover (issue 25): the report of a shift lists exactly its incidents (opened, ended, still open, overdue)
in the officer's scope; the incoming officer signs it over; each step refused where it must be, and audited."""

from __future__ import annotations

import pytest

from access.policy import Principal, permission_allowed
from store import handovers
from store.accounts import Accounts
from store.audit import Trail, search
from store.database import Store
from supervision.handover import SECTIONS, HandoverError, current_shift, desk_of, hand_over, report, seen_by, take_over
from tests.incident_history import JINGXIU, LIANCHI, act, local, mark_overdue, open_incident

NIGHT = Principal("duty-night", "duty_officer", (LIANCHI,), unit="d130606")
DAY = Principal("duty-day", "duty_officer", (LIANCHI,), unit="d130606")
CITY = Principal("duty", "duty_officer")


@pytest.fixture
def store(open_store):
    store = open_store("s")
    yield store
    store.close()


@pytest.fixture
def trail(tmp_path):
    return Trail(Accounts(tmp_path / "accounts.sqlite"))


def test_a_shift_report_lists_exactly_the_shifts_incidents(store, trail):
    def incident(name: str, at, district: str = LIANCHI) -> int:
        return open_incident(store, at, title=(name, name), district=district)

    x = incident("X", local(2026, 9, 9, 10))  # opened and closed the day before
    act(store, x, "cancel", local(2026, 9, 9, 12))
    y = incident("Y", local(2026, 9, 9, 22))  # from the night, still new, its receipt overdue
    mark_overdue(store, y, "acknowledge", local(2026, 9, 9, 22, 30))
    z = incident("Z", local(2026, 9, 10, 9))  # opened and cancelled in the day shift
    act(store, z, "cancel", local(2026, 9, 10, 11))
    incident("W", local(2026, 9, 10, 13))  # opened in the day shift, still open
    u = incident("U", local(2026, 9, 9, 20))  # open through the day shift, ended after it
    act(store, u, "cancel", local(2026, 9, 10, 21))
    incident("V", local(2026, 9, 10, 21))  # after the day shift
    incident("Q", local(2026, 9, 10, 10), district=JINGXIU)  # another district's

    hand_over(store, NIGHT, "night: Y waits for the fire brigade", local(2026, 9, 10, 8), trail)
    [waiting] = [h for h in _desk(store) if h["taken_by"] is None]
    take_over(store, DAY, waiting["id"], "taken", local(2026, 9, 10, 8, 5), trail)

    shift = current_shift(store, DAY, local(2026, 9, 10, 20))
    assert (shift.start, shift.end) == (local(2026, 9, 10, 8), local(2026, 9, 10, 20))
    titles = {name: [item["title_en"] for item in shift.report[name]] for name in SECTIONS}
    assert titles == {"opened": ["Z", "W"], "ended": ["Z"], "open": ["U", "Y", "W"], "overdue": ["Y"]}
    assert shift.report["counts"] == {"opened": 2, "ended": 1, "open": 3, "overdue": 1}

    handover_id = hand_over(store, DAY, "W: the gauge is being repaired", local(2026, 9, 10, 20), trail)
    kept = _desk(store)[0]
    assert kept["id"] == handover_id and kept["report"] == shift.report
    assert kept["notes"] == "W: the gauge is being repaired"
    with pytest.raises(HandoverError) as pending:
        hand_over(store, DAY, "again", local(2026, 9, 10, 20, 1), trail)
    assert pending.value.code == "pending"
    with pytest.raises(HandoverError) as own:
        take_over(store, DAY, handover_id, "", local(2026, 9, 10, 20, 2), trail)
    assert own.value.code == "own"
    with pytest.raises(HandoverError) as elsewhere:
        take_over(store, CITY, handover_id, "", local(2026, 9, 10, 20, 2), trail)  # the city's desk, not 莲池区's
    assert elsewhere.value.code == "missing"
    take_over(store, NIGHT, handover_id, "ok", local(2026, 9, 10, 20, 3), trail)
    with pytest.raises(HandoverError) as taken:
        take_over(store, NIGHT, handover_id, "ok", local(2026, 9, 10, 20, 4), trail)
    assert taken.value.code == "taken"

    logged = [(e.actor, e.action, e.outcome) for e in reversed(search(trail.accounts))]
    assert logged == [
        ("duty-night", "handover give", "ok"), ("duty-day", "handover take", "ok"),
        ("duty-day", "handover give", "ok"), ("duty-day", "handover give", "refused"),
        ("duty-day", "handover take", "refused"), ("duty", "handover take", "refused"),
        ("duty-night", "handover take", "ok"), ("duty-night", "handover take", "refused"),
    ]  # fmt: skip


def _desk(store: Store) -> list[dict]:
    return handovers.of_desk(store.cursor(), "d130606")


def test_a_desk_is_never_wider_than_its_officer(store, trail):
    open_incident(store, local(2026, 9, 10, 9), title=("J", "J"), district=JINGXIU)
    department = Principal("duty-fire-130602", "duty_officer", (), unit="fire-130602", by_task=True)
    assert not permission_allowed(department, "handover")  # works by task: no desk of regions
    assert all(not items for name, items in report(store, department, local(2026, 9, 10), local(2026, 9, 11)).items()
               if name != "counts")  # fmt: skip
    unplaced = Principal("ops", "duty_officer", (LIANCHI,))  # scoped, without a unit of the organisation
    assert desk_of(unplaced) == "regions:130606" and desk_of(CITY) == "city"
    hand_over(store, CITY, "", local(2026, 9, 10, 20), trail)
    [city_handover] = handovers.of_desk(store.cursor(), "city")
    assert [i["title_en"] for i in city_handover["report"]["opened"]] == ["J"]
    assert seen_by(NIGHT, city_handover["report"])["opened"] == []  # 莲池区's officer is shown nothing of 竞秀区
