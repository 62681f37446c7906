"""Work down the command chain and reports back up (issue 23): the district gives an incident to a town, the town to
a grid worker, who signs, goes on site, sends a photo and reports; the district verifies and the incident closes.
Each step by its own account, each refused to the others; an unsigned task raised up the chain in working time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from access.policy import Principal, place, scoped
from alerts.chain import Chain, ChainError, Photo, Position
from alerts.org import Organisation
from alerts.rules import load_rule_file
from alerts.working_time import WorkingCalendar
from cityops import DEMO_DIR
from store import incidents as incident_store
from store import tasks as task_store
from tests.rule_city import City

CALENDAR = WorkingCalendar.load(DEMO_DIR / "calendar.yaml", "Asia/Shanghai")
TOWN, GRID = "130606009", "130606009-G01"


@pytest.fixture(scope="module")
def org(demo_regions):
    return Organisation.load(DEMO_DIR / "org.yaml", demo_regions)


def person(org: Organisation, account: str) -> Principal:
    """The principal an account of the demo organisation signs in as."""
    role = {"supervisor": "supervisor"}.get(account) or org.person(account).role
    unit, regions = org.scope(account)
    by_task = org.units[unit].kind != "centre" or role == "field_worker"
    return scoped(Principal(account, role, regions, unit=unit, by_task=by_task), org.regions)


@pytest.fixture
def city(open_store, org):
    book = load_rule_file(DEMO_DIR / "rules.yaml")
    city = City(open_store("c"), org.regions, book.rules, book, org=org)
    yield city
    city.close()


def hotspots(city: City, region_id: str) -> dict:
    """Three hotspots in a region: the demo's fire cluster rule opens one incident there."""
    inside = city.regions.get(region_id).geometry.representative_point()
    for n in range(3):
        city.at(minutes=1).send({"type": "event", "id": f"h{region_id}{n}", "domain": "fire", "event_type": "hotspot",
                                 "lon": inside.x + n * 0.0005, "lat": inside.y})  # fmt: skip
    city.tick()
    [incident] = incident_store.open_incidents(city.store.cursor())
    return incident


def steps(city: City, incident_id: int) -> list[tuple[str, str]]:
    return [(e["actor"], e["action"]) for e in incident_store.timeline(city.store.cursor(), incident_id)
            if e["action"].startswith("task_") or e["action"] in ("dispatch", "start", "resolve", "close")]  # fmt: skip


def test_district_to_town_to_grid_worker_and_back_up_to_close(city, org):
    incident = hotspots(city, GRID)
    assert (incident["centre_id"], incident["department_id"]) == ("d130606", "fire-130606")
    chain = Chain(city.store, org, CALENDAR)
    district, town, worker = (person(org, a) for a in ("duty-130606", f"duty-{TOWN}", "grid-130606009-g01"))
    # The town cannot give what it was not given (the district's incident); the worker cannot give anything.
    for who in (town, worker):
        with pytest.raises(ChainError) as refused:
            chain.dispatch(who, incident["id"], to_unit=f"t{TOWN}", to_person=worker.name, now=city.now, audit=None)
        assert refused.value.code in ("forbidden", "missing")
    first = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", instruction="核实火点", now=city.now,
                           audit=None)  # fmt: skip
    assert incident_store.get(city.store.cursor(), incident["id"])["state"] == "dispatched"
    assert chain.sees_incident(town, incident) and not chain.sees_incident(worker, incident)
    with pytest.raises(ChainError, match="gives what it was given, once signed for"):
        chain.dispatch(town, incident["id"], to_unit=f"t{TOWN}", to_person=worker.name, now=city.now, audit=None)
    chain.act(town, first, "sign", now=city.at(minutes=2).now, audit=None)
    second = chain.dispatch(town, incident["id"], to_unit=f"t{TOWN}", to_person=worker.name, now=city.now,
                            audit=None)  # fmt: skip
    assert [t["id"] for t in chain.inbox(worker)] == [second]
    assert {t["id"] for t in chain.inbox(town)} == {first, second}
    with pytest.raises(ChainError, match="only the receiver"):
        chain.act(town, second, "sign", now=city.now, audit=None)
    here = Position(115.49, 38.86, 8.0)
    chain.act(worker, second, "sign", now=city.at(minutes=1).now, audit=None)
    chain.act(worker, second, "on_site", now=city.at(minutes=9).now, audit=None, position=here)
    assert incident_store.get(city.store.cursor(), incident["id"])["state"] == "in_progress"
    photo = Photo("ab" * 32, "image/jpeg", 120_000, 1280, 960, "scene.jpg")
    chain.act(worker, second, "feedback", note="秸秆堆着火，已扑灭", photos=(photo,), position=here,
              now=city.at(minutes=5).now, audit=None)  # fmt: skip
    with pytest.raises(ChainError, match="needs a note"):
        chain.act(worker, second, "report", now=city.now, audit=None)
    chain.act(worker, second, "report", note="明火已灭，现场已清理", position=here, now=city.at(minutes=3).now,
              audit=None)  # fmt: skip
    # The worker's report goes up: the town's task is reported by itself, and the incident is resolved.
    tasks = {t["id"]: t for t in task_store.of_incident(city.store.cursor(), incident["id"])}
    assert (tasks[first]["state"], tasks[second]["state"]) == ("reported", "reported")
    assert incident_store.get(city.store.cursor(), incident["id"])["state"] == "resolved"
    with pytest.raises(ChainError, match="only the sender"):
        chain.act(town, first, "verify", now=city.now, audit=None)
    chain.act(district, first, "verify", note="核查属实", now=city.at(minutes=4).now, audit=None)
    closed = incident_store.get(city.store.cursor(), incident["id"])
    assert closed["state"] == "closed"
    tasks = {t["id"]: t for t in task_store.of_incident(city.store.cursor(), incident["id"])}
    assert (tasks[first]["state"], tasks[second]["state"]) == ("verified", "verified")
    assert steps(city, incident["id"]) == [
        ("duty-130606", "dispatch"),
        ("duty-130606", "task_dispatch"),
        (town.name, "task_sign"),
        (town.name, "task_dispatch"),
        (worker.name, "task_sign"),
        (worker.name, "task_on_site"),
        (worker.name, "start"),
        (worker.name, "task_feedback"),
        (worker.name, "task_report"),
        (worker.name, "task_report"),
        (worker.name, "resolve"),
        ("duty-130606", "task_verify"),
        ("duty-130606", "task_verify"),
        ("duty-130606", "close"),
    ]
    timeline = incident_store.timeline(city.store.cursor(), incident["id"])
    feedback = next(e for e in timeline if e["action"] == "task_feedback")
    assert feedback["details"]["photos"] == [photo.id] and feedback["details"]["lon"] == 115.49


def test_a_return_reopens_and_the_receiver_reports_again(city, org):
    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    district, town = person(org, "duty-130606"), person(org, f"duty-{TOWN}")
    task = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    chain.act(town, task, "sign", now=city.at(minutes=1).now, audit=None)
    chain.act(town, task, "report", note="已处置", now=city.at(minutes=30).now, audit=None)
    with pytest.raises(ChainError, match="needs a note"):
        chain.act(district, task, "return", now=city.now, audit=None)
    chain.act(district, task, "return", note="照片不清楚，补拍", now=city.at(minutes=5).now, audit=None)
    assert incident_store.get(city.store.cursor(), incident["id"])["state"] == "reopened"
    assert task_store.get(city.store.cursor(), task)["state"] == "returned"
    chain.act(town, task, "report", note="已补拍", now=city.at(minutes=20).now, audit=None)
    chain.act(district, task, "verify", now=city.at(minutes=1).now, audit=None)
    assert incident_store.get(city.store.cursor(), incident["id"])["state"] == "closed"


def test_a_request_sent_twice_from_a_flaky_phone_is_done_once(city, org):
    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    district, town = person(org, "duty-130606"), person(org, f"duty-{TOWN}")
    one = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None, request="r-1")
    assert chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None,
                          request="r-1") == one  # fmt: skip
    chain.act(town, one, "sign", now=city.now, audit=None, request="r-2")
    chain.act(town, one, "feedback", note="路上", now=city.now, audit=None, request="r-3")
    chain.act(town, one, "feedback", note="路上", now=city.now, audit=None, request="r-3")
    actions = [a for _, a in steps(city, incident["id"])]
    assert actions.count("task_dispatch") == 1 and actions.count("task_feedback") == 1


@pytest.mark.parametrize(
    "account",
    ["duty-130602", "duty-130602001", "grid-130606009-g02", "crew-fire-130602", "duty-fire-130602", "viewer-none"],
)
def test_nobody_outside_the_chain_of_a_task_sees_or_touches_it(city, org, account):
    """Another district, another town, another grid worker, another district's department: refused, as if absent."""
    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    town = person(org, f"duty-{TOWN}")
    task = chain.dispatch(person(org, "duty-130606"), incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    chain.act(town, task, "sign", now=city.now, audit=None)
    to_worker = chain.dispatch(town, incident["id"], to_unit=f"t{TOWN}", to_person="grid-130606009-g01",
                               now=city.now, audit=None)  # fmt: skip
    who = Principal("viewer-none", "viewer") if account == "viewer-none" else person(org, account)
    if account != "viewer-none":
        assert not chain.sees_incident(who, incident)
    assert not {task, to_worker} & {t["id"] for t in chain.inbox(who)}
    for given in (task, to_worker):
        for action in ("sign", "report", "verify", "return"):
            with pytest.raises(ChainError) as refused:
                chain.act(who, given, action, note="x", now=city.now, audit=None)
            assert refused.value.code == "missing"


def test_an_unsigned_task_goes_up_the_chain_in_working_time(city, org):
    """A yellow task given on Friday 2026-09-18 at 16:30 has two working hours to be signed for: one that Friday, one
    on Sunday 20 September, a make-up working day (调休) for the National Day holiday. Unsigned, it is raised to
    the district's centre at 09:30 that Sunday, and after two working hours more to the city's (Sunday 11:30)."""
    incident = hotspots(city, GRID)
    cur = city.store.cursor()
    incident_store.update(cur, incident["id"], {"severity": "yellow"})
    chain = Chain(city.store, org, CALENDAR)
    given = datetime(2026, 9, 18, 8, 30, tzinfo=UTC)  # 16:30 in Baoding
    district = person(org, "duty-130606")
    task = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=given, audit=None)
    assert task_store.get(cur, task)["stage_due"] == datetime(2026, 9, 20, 1, 30, tzinfo=UTC)  # Sunday 09:30
    assert chain.escalate(datetime(2026, 9, 19, 12, 0, tzinfo=UTC)) == []  # Saturday: no working time passes
    assert chain.escalate(datetime(2026, 9, 20, 1, 31, tzinfo=UTC)) == [(task, "d130606")]
    assert chain.escalate(datetime(2026, 9, 20, 2, 0, tzinfo=UTC)) == []  # once per level
    assert chain.escalate(datetime(2026, 9, 20, 3, 31, tzinfo=UTC)) == [(task, "city")]
    assert chain.escalate(datetime(2026, 10, 9, 3, 31, tzinfo=UTC)) == []  # the top: nowhere further
    city_duty = person(org, "duty")
    assert task in [t["id"] for t in chain.inbox(city_duty)]  # the city sees it in its inbox …
    row = task_store.get(cur, task)
    assert (row["to_unit"], row["escalated_to"]) == (f"t{TOWN}", "city")  # … the town still owes it
    raised = [e for e in incident_store.timeline(cur, incident["id"]) if e["action"] == "task_escalate"]
    assert [(e["details"]["to"], e["details"]["owner"]) for e in raised] == [("d130606", f"t{TOWN}"),
                                                                              ("city", f"t{TOWN}")]  # fmt: skip


def test_the_duty_detail_shows_who_holds_the_incident_down_the_chain(city, org):
    from dashboard.i18n import translator
    from dashboard.pages.duty.desk import Desk
    from dashboard.pages.duty.detail import down_the_chain

    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    district = person(org, "duty-130606")
    task = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    chain.escalate(city.now + timedelta(hours=1))  # orange: 30 minutes to sign for it
    desk = Desk(city.store, None, city.regions, {}, {}, "Asia/Shanghai", 4000, org=org)
    parts = down_the_chain(desk, district, incident_store.get(city.store.cursor(), incident["id"]), translator("zh_CN"),
                           "zh_CN")  # fmt: skip
    [row] = parts[0].children
    assert row.children.children == "永华街道综合治理中心 · 待签收 · 超时，已上报 莲池区城市运行管理中心"
    assert row.children.href == f"/inbox/task/{task}"
    assert parts[1].href == f"/inbox/incident/{incident['id']}"  # the district may give it on
    town = down_the_chain(desk, person(org, f"duty-{TOWN}"), incident, translator("en"), "en")
    assert len(town) == 1  # the town sees who holds it, and does not give the district's incident itself


def test_a_return_below_takes_back_the_report_that_went_up(city, org):
    """The town returns the worker's report after it went up: the town's own task is no longer reported, and the
    incident, resolved by that report, is reopened. Verifying later verifies the whole subtree, each in the
    timeline."""
    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    district, town, worker = (person(org, a) for a in ("duty-130606", f"duty-{TOWN}", "grid-130606009-g01"))
    first = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    chain.act(town, first, "sign", now=city.now, audit=None)
    second = chain.dispatch(town, incident["id"], to_unit=f"t{TOWN}", to_person=worker.name, now=city.now,
                            audit=None)  # fmt: skip
    chain.act(worker, second, "sign", now=city.now, audit=None)
    chain.act(worker, second, "report", note="好了", now=city.at(minutes=5).now, audit=None)
    cur = city.store.cursor()
    assert incident_store.get(cur, incident["id"])["state"] == "resolved"
    chain.act(town, second, "return", note="没有照片", now=city.at(minutes=1).now, audit=None)
    assert (task_store.get(cur, first)["state"], task_store.get(cur, second)["state"]) == ("signed", "returned")
    assert incident_store.get(cur, incident["id"])["state"] == "reopened"
    chain.act(worker, second, "report", note="补了照片", now=city.at(minutes=5).now, audit=None)
    chain.act(district, first, "verify", now=city.at(minutes=1).now, audit=None)
    assert task_store.get(cur, second)["state"] == "verified"
    verified = [
        e["details"]["task"] for e in incident_store.timeline(cur, incident["id"]) if e["action"] == "task_verify"
    ]
    assert verified == [first, second]
    assert incident_store.get(cur, incident["id"])["state"] == "closed"


def test_the_owner_and_those_above_it_give_first_and_a_task_is_signed_for_before_it_goes_on(city, org):
    """The incident is 莲池区's: its town, though the incident lies in it, gives nothing it was not given. The city,
    above 莲池区, may take it over and give it to the district; the district then signs for that task before it
    gives anything on, though the incident is its own."""
    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    town, district, city_duty = (person(org, a) for a in (f"duty-{TOWN}", "duty-130606", "duty"))
    assert town.sees(place(incident))
    with pytest.raises(ChainError) as refused:
        chain.dispatch(town, incident["id"], to_unit=f"t{TOWN}", to_person="grid-130606009-g01", now=city.now,
                       audit=None)  # fmt: skip
    assert refused.value.code == "forbidden"
    task = chain.dispatch(city_duty, incident["id"], to_unit="d130606", now=city.now, audit=None)
    with pytest.raises(ChainError, match="once signed for"):
        chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    chain.act(district, task, "sign", now=city.now, audit=None)
    below = chain.dispatch(district, incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    assert task_store.get(city.store.cursor(), below)["parent_id"] == task


def test_the_tasks_of_an_ended_incident_leave_every_inbox_and_clock(city, org):
    from access.policy import Principal as P
    from alerts.actions import act_on_incident

    incident = hotspots(city, GRID)
    chain = Chain(city.store, org, CALENDAR)
    town = person(org, f"duty-{TOWN}")
    task = chain.dispatch(person(org, "duty-130606"), incident["id"], to_unit=f"t{TOWN}", now=city.now, audit=None)
    assert [t["id"] for t in chain.inbox(town)] == [task]
    act_on_incident(city.store, P("duty", "duty_officer"), incident["id"], "cancel", note="误报", now=city.now,
                    audit=None)  # fmt: skip
    assert chain.inbox(town) == []
    assert chain.escalate(city.now + timedelta(days=30)) == []
    with pytest.raises(ChainError, match="has ended"):
        chain.act(town, task, "sign", now=city.now, audit=None)


def test_someone_dropped_from_the_organisation_is_disabled_not_widened(tmp_path, org):
    from alerts.org import apply_to_accounts
    from store.accounts import Accounts

    accounts = Accounts(tmp_path / "a.sqlite")
    fewer = Organisation.parse((DEMO_DIR / "org.yaml").read_text(encoding="utf-8"), "org.yaml", org.regions)
    fewer.file.people[:] = [p for p in fewer.file.people if p.account in ("duty", "duty-fire-130629")]
    fewer._people = {p.account: p for p in fewer.file.people}
    apply_to_accounts(fewer, accounts, "demo-{name}")
    department = accounts.get("duty-fire-130629")
    assert (department.role, department.unit, department.by_task) == ("duty_officer", "fire-130629", True)
    fewer.file.people[:] = [p for p in fewer.file.people if p.account == "duty"]
    fewer._people = {p.account: p for p in fewer.file.people}
    said = apply_to_accounts(fewer, accounts, "demo-{name}")
    gone = accounts.get("duty-fire-130629")
    assert gone.disabled and gone.by_task and gone.unit is None and gone.role == "viewer"
    assert said == ["duty-fire-130629 is no longer in the organisation: disabled until an administrator gives it a "
                    "scope"]  # fmt: skip


def test_with_a_chain_the_desk_gives_no_incident_to_a_flat_unit(city, org):
    """The desk's dispatch dialog is for cities without an organisation: with one, an incident goes down the chain,
    and a request that tries the old way anyway is refused."""
    from alerts.lifecycle import TransitionError
    from dashboard.pages.duty.actions import INCIDENT, perform
    from dashboard.pages.duty.desk import Desk

    incident = hotspots(city, GRID)
    [member] = [a for a in city.alerts() if a["state"] == "new"][:1]
    desk = Desk(city.store, None, city.regions, {}, {}, "Asia/Shanghai", 4000, org=org)
    district = person(org, "duty-130606")
    for action in ("dispatch", INCIDENT + "dispatch"):
        with pytest.raises(TransitionError, match="down the chain"):
            perform(desk, district, None, int(member["id"]), action, unit_id=None)
    assert incident_store.get(city.store.cursor(), incident["id"])["state"] == "new"


def test_an_incident_lies_in_the_town_and_grid_its_members_all_lie_in(city, org):
    """Grouped by district, a hotspot cluster inside one grid is placed in that grid and its town too: the town's
    officer sees it, a neighbouring town's does not; a member in another town widens it to the district."""
    incident = hotspots(city, GRID)
    assert (incident["region_level"], incident["town_id"], incident["grid_id"]) == ("district", TOWN, GRID)
    own, other = person(org, f"duty-{TOWN}"), person(org, "duty-130606002")
    assert own.sees(place(incident)) and not other.sees(place(incident))
    elsewhere = city.regions.get("130606002").geometry.representative_point()
    city.at(minutes=1).send({"type": "event", "id": "far", "domain": "fire", "event_type": "hotspot",
                             "lon": elsewhere.x, "lat": elsewhere.y})  # fmt: skip
    for n in range(2):
        city.send({"type": "event", "id": f"far{n}", "domain": "fire", "event_type": "hotspot",
                   "lon": elsewhere.x + 0.0004 * (n + 1), "lat": elsewhere.y})  # fmt: skip
    city.tick()
    [wider] = incident_store.open_incidents(city.store.cursor())
    assert wider["id"] == incident["id"] and (wider["town_id"], wider["grid_id"]) == (None, None)
    assert not own.sees(place(wider)) and person(org, "duty-130606").sees(place(wider))
