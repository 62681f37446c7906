"""Supervision's figures (issue 25) on a store with a known history: MTTA, MTTR, on-time rates, counts and the
ranking match values computed by hand, on the clock and in working time across the National Day holiday; and the
figures kept incrementally always equal the figures computed from scratch."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.actions import move_incident
from alerts.working_time import WorkingCalendar
from cityops import DEMO_DIR
from store import incidents as incident_store
from store import supervision as sql
from store.database import Store
from store.duckdb_engine import DuckDBStore
from store.supervision import Selection
from supervision.facts import Facts
from supervision.figures import figures, ranking
from supervision.periods import before, days, of_kind
from tests.incident_history import JINGXIU, LIANCHI, act, local, mark_overdue, open_incident, september

CALENDAR = WorkingCalendar.load(DEMO_DIR / "calendar.yaml", "Asia/Shanghai")
SEPTEMBER = of_kind("monthly", local(2026, 9, 15).date(), "Asia/Shanghai")


def kept(store: Store, calendar: WorkingCalendar | None = None) -> Facts:
    """The store's figures, refreshed as a page refreshes them before it answers."""
    facts = Facts(store, calendar)
    facts.refresh()
    return facts


@pytest.fixture
def store(open_store):
    store = open_store("s")
    yield store
    store.close()


def test_figures_of_a_month_match_the_hand_computed_values(store):
    september(store)
    [all_of_it] = figures(kept(store), Selection(start=SEPTEMBER.start, end=SEPTEMBER.end))
    assert (all_of_it.incidents, all_of_it.open, all_of_it.cancelled) == (5, 2, 1)  # B waits to be closed, E new
    # Acknowledged after 120, 300, 900 and 1200 s: the median halfway between 300 and 900; p90 at 2.7 of 3 steps.
    assert all_of_it.mtta_p50 == 600 and all_of_it.mtta_p90 == pytest.approx(1110)
    # Resolved (for good) after 3600, 6000 (C's second resolution) and 10800 s.
    assert all_of_it.mttr_p50 == 6000 and all_of_it.mttr_p90 == pytest.approx(9840)
    assert all_of_it.decided == {"ack": 4, "dispatch": 3, "resolve": 3}
    assert all_of_it.on_time == {"ack": 3, "dispatch": 3, "resolve": 3}
    assert all_of_it.rate() == pytest.approx(0.9) and all_of_it.rate("ack") == 0.75
    assert (all_of_it.overdue, all_of_it.returned, all_of_it.reopened, all_of_it.escalations) == (1, 0, 1, 0)


def test_figures_by_district_and_their_ranking_against_the_month_before(store):
    september(store)
    facts = kept(store)
    now = Selection(start=SEPTEMBER.start, end=SEPTEMBER.end)
    august = before(SEPTEMBER, "Asia/Shanghai")
    by_district = {f.key: f for f in figures(facts, now, "district")}
    assert by_district[LIANCHI].incidents == 2 and by_district[LIANCHI].rate() == pytest.approx(5 / 6)
    assert by_district[JINGXIU].incidents == 3 and by_district[JINGXIU].rate() == 1.0
    ranked = ranking(facts, now, Selection(start=august.start, end=august.end), "district")
    assert [(r.rank, r.figures.key, r.previous_rank) for r in ranked] == [(1, JINGXIU, 2), (2, LIANCHI, 1)]
    assert ranked[0].rate_change == pytest.approx(1 - 2 / 3)  # August: its resolve stage ran out
    assert ranked[1].mttr_change == (3600 + 10800) / 2 - 1200


def test_filters_narrow_the_figures_as_the_history_does(store):
    september(store)
    facts = kept(store)
    month = {"start": SEPTEMBER.start, "end": SEPTEMBER.end}
    assert figures(facts, Selection(**month, overdue=True))[0].incidents == 1
    assert figures(facts, Selection(**month, state="open"))[0].incidents == 2
    assert figures(facts, Selection(**month, unit="d130602"))[0].incidents == 3
    assert figures(facts, Selection(**month, scope=frozenset({LIANCHI})))[0].incidents == 2
    total, rows = sql.history(store.cursor(), "incidents", Selection(**month, unit="d130602"))
    assert total == 3 and len(rows) == 3


def test_working_time_skips_the_national_day_holiday(store):
    # Opened on 30 September at 17:00; acknowledged on 8 October at 09:30 (1 to 7 October are holidays): half an
    # hour that evening and one hour that morning. Resolved on 9 October at 10:00: 9.5 working hours from opening.
    start = local(2026, 9, 30, 17)
    incident = open_incident(store, start)
    act(store, incident, "acknowledge", local(2026, 10, 8, 9, 30))
    act(store, incident, "dispatch", local(2026, 10, 8, 9, 40))
    act(store, incident, "resolve", local(2026, 10, 9, 10))
    facts = kept(store, CALENDAR)
    [clock] = figures(facts, Selection())
    [working] = figures(facts, Selection(), working=True)
    assert clock.mtta_p50 == (local(2026, 10, 8, 9, 30) - start).total_seconds()
    assert working.mtta_p50 == 5400 and working.mttr_p50 == 9.5 * 3600


ACTIONS = ("acknowledge", "dispatch", "start", "resolve", "close", "reopen", "return", "cancel", "comment")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(ACTIONS), st.booleans()), min_size=1, max_size=40))
def test_figures_kept_incrementally_equal_figures_computed_from_scratch(tmp_path_factory, steps):
    store = DuckDBStore(tmp_path_factory.mktemp("p") / "s.duckdb")
    try:
        facts = Facts(store, CALENDAR)
        ids = [open_incident(store, local(2026, 9, 1 + n, 9)) for n in range(5)]
        at = local(2026, 9, 1, 9)
        for n, (which, action, refresh) in enumerate(steps):
            at += timedelta(minutes=37 * (n + 1))
            with contextlib.suppress(ValueError):  # an action the state does not allow: refused, nothing written
                act(store, ids[which], action, at)
            if n == 3:
                mark_overdue(store, ids[which], "resolve", at)
            if refresh:
                facts.refresh()
        facts.refresh()
        kept = sql_rows(store)
        facts.rebuild()
        assert kept == sql_rows(store)
    finally:
        store.close()


def sql_rows(store: Store) -> list[tuple]:
    return store.cursor().execute("SELECT * FROM incident_figures ORDER BY id").fetchall()


def test_figures_kept_without_a_calendar_are_computed_again_with_one(store):
    incident = open_incident(store, local(2026, 9, 30, 17))
    act(store, incident, "acknowledge", local(2026, 10, 8, 9, 30))
    Facts(store).refresh()  # kept on the clock alone
    [working] = figures(kept(store, CALENDAR), Selection(), working=True)
    assert working.mtta_p50 == 5400


def test_returns_reopens_and_escalations_are_counted(store):
    incident = open_incident(store, local(2026, 9, 1, 10))
    act(store, incident, "escalate", local(2026, 9, 1, 10, 5))
    act(store, incident, "acknowledge", local(2026, 9, 1, 10, 6))
    act(store, incident, "dispatch", local(2026, 9, 1, 10, 7))
    act(store, incident, "return", local(2026, 9, 1, 10, 20))
    act(store, incident, "dispatch", local(2026, 9, 1, 10, 25))
    act(store, incident, "resolve", local(2026, 9, 1, 11))
    act(store, incident, "reopen", local(2026, 9, 1, 11, 30))
    [f] = figures(kept(store), Selection())
    assert (f.escalations, f.returned, f.reopened) == (1, 1, 1)
    assert f.mttr_p50 is None  # reopened: not resolved now
    assert f.decided["dispatch"] == 1 and f.mtta_p50 == 360  # the first dispatch and acknowledgement count


def test_a_late_commit_and_a_change_without_a_timeline_entry_reach_the_figures(store):
    first, second = (open_incident(store, local(2026, 9, 1, 9 + n)) for n in range(2))
    facts = Facts(store)
    facts.refresh()
    written, commit = threading.Event(), threading.Event()

    def slow() -> None:  # acknowledges the first: its entry is numbered before the second's, committed after
        cur = store.cursor()  # this thread's own
        cur.execute("BEGIN TRANSACTION")
        move_incident(cur, incident_store.get(cur, first), "duty", "acknowledge", datetime.now(UTC))
        written.set()
        commit.wait(10)
        cur.execute("COMMIT")

    worker = threading.Thread(target=slow)
    worker.start()
    written.wait(10)
    act(store, second, "acknowledge", datetime.now(UTC))
    facts.refresh()
    facts.refresh()
    commit.set()
    worker.join(10)
    incident_store.raise_severity(store.cursor(), second, "red", datetime.now(UTC))  # writes no entry
    facts.refresh()
    kept = sql_rows(store)
    facts.rebuild()
    assert kept == sql_rows(store)
    assert figures(facts, Selection(severity="red"))[0].incidents == 1
    assert figures(facts, Selection())[0].decided["ack"] == 2


@pytest.mark.parametrize(("first", "last", "before_first", "before_last"), [
    ("2026-09-01", "2026-09-30", "2026-08-01", "2026-08-31"),  # a month: the month before, whatever its length
    ("2026-03-01", "2026-03-31", "2026-02-01", "2026-02-28"),
    ("2026-04-01", "2026-06-30", "2026-01-01", "2026-03-31"),  # a quarter: the quarter before
    ("2026-01-01", "2026-12-31", "2025-01-01", "2025-12-31"),  # a year: the year before
    ("2026-09-10", "2026-09-16", "2026-09-03", "2026-09-09"),  # days: as many days
])  # fmt: skip
def test_the_period_before_is_as_long(first, last, before_first, before_last):
    earlier = before(days(date.fromisoformat(first), date.fromisoformat(last), "Asia/Shanghai"), "Asia/Shanghai")
    assert (earlier.first_day.isoformat(), earlier.last_day.isoformat()) == (before_first, before_last)
