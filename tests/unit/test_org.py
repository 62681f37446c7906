"""The city's organisation as data (issue 23): the demo's chain of centres and departments, who is on duty when,
where a new incident goes; a broken file refused with its line."""

from __future__ import annotations

from datetime import datetime

import pytest

from alerts.org import Organisation, OrgError
from cityops import DEMO_DIR
from cityops.cli import main

DEMO_ORG = DEMO_DIR / "org.yaml"


@pytest.fixture(scope="module")
def org(demo_regions):
    return Organisation.load(DEMO_ORG, demo_regions)


def test_the_demo_chain_city_districts_towns_and_departments(org):
    levels = [org.regions.get(c.region).level for c in org.file.centres]
    assert levels.count("city") == 1 and levels.count("district") == 24 and levels.count("town") == 359
    assert [u.id for u in org.chain("fire-130629")] == ["fire-130629", "d130629", "city"]
    assert [u.id for u in org.chain("t130606009")] == ["t130606009", "d130606", "city"]
    assert org.units["fire-130629"].regions == ("130629",) and org.units["fire-130629"].domains == ("fire",)


def test_a_hotspot_cluster_in_rongcheng_goes_to_its_centre_and_fire_brigade(org):
    routed = org.route({"district": "130629", "town": "130629100", "grid": None}, "fire", "orange")
    assert (routed.centre, routed.department) == ("d130629", "fire-130629")
    # Not the 莲池区 government, not the city's: the county's own.
    assert org.route({"district": "130606", "town": None, "grid": None}, "flood", "red").department == "water-130606"


def test_routing_falls_back_up_the_chain_and_prefers_the_more_specific_row(demo_regions):
    text = DEMO_ORG.read_text(encoding="utf-8").replace(
        "routing:\n", 'routing:\n  - {"region": "130629", "domain": "fire", "severity": ["red"], "centre": "city", '
        '"department": "fire-city"}\n  - {"region": "130629", "centre": "d130629"}\n', 1)  # fmt: skip
    org = Organisation.parse(text, "org.yaml", demo_regions)
    red = org.route({"district": "130629"}, "fire", "red")
    assert (red.centre, red.department) == ("city", "fire-city")  # the row for red fires in 容城县 wins
    assert org.route({"district": "130629"}, "fire", "yellow").department == "fire-130629"
    assert (org.route({"district": "130629"}, "system", "blue").centre, org.route({"district": "130629"}, "system",
            "blue").department) == ("d130629", None)  # fmt: skip
    outside = org.route({"district": None, "town": None, "grid": None}, "flood", "red")
    assert (outside.centre, outside.department) == ("city", "water-city")  # no district: the city's row


@pytest.mark.parametrize(
    ("moment", "unit", "on_duty"),
    [
        ("2026-03-09 10:00", "d130629", ["duty-130629"]),  # a Monday morning: the day shift
        ("2026-03-09 21:00", "d130629", ["night-130629"]),  # the night shift …
        ("2026-03-10 07:59", "d130629", ["night-130629"]),  # … until 08:00 the next morning
        ("2026-03-07 10:00", "t130606009", []),  # a town centre on a Saturday: nobody (weekdays only)
        ("2026-03-09 10:00", "t130606009", ["duty-130606009"]),
        ("2026-03-09 10:00", "city", ["duty"]),
    ],
)
def test_the_duty_officer_of_a_centre_at_any_moment(org, moment, unit, on_duty):
    assert org.on_duty(unit, datetime.fromisoformat(moment)) == on_duty


@pytest.mark.parametrize(
    ("change", "message", "at"),
    [
        (('"region": "130629", "name"', '"region": "139999", "name"'), "centre d130629: no region 139999", None),
        (('{"id": "d130606", "region": "130606"', '{"id": "d130606", "region": "130602"'),
         "centre d130606: region 130602 already has the centre d130602", None),
        (('"id": "fire-130629", "centre": "d130629"', '"id": "fire-130629", "centre": "d999"'),
         "department fire-130629: no centre d999", None),
        (('"account": "duty-130629", "unit": "d130629"', '"account": "duty-130629", "unit": "d130606"'),
         "duty-130629 works for d130606, not d130629", '"person": "duty-130629"'),
        (('"domain": "fire", "centre": "d130629", "department": "fire-130629"',
          '"domain": "fire", "centre": "d130629", "department": "water-130629"'),
         "department water-130629 does not work on fire", None),
        (('{"unit": "city", "from": "08:00"', '{"unit": "city", "from": "25:00"'), "'25:00' is not a time of day",
         None),
        (('"role": "district_leader"', '"role": "mayor"'), "role: Input should be", None),
        (('"grids": ["130606009-G01"]', '"grids": ["130602001-G01"]'),
         "grid-130606009-g01: the grid 130602001-G01 is outside t130606009's region", '"grid-130606009-g01"'),
        (('"yellow": "2wh"', '"yellow": "2 hours"'), "yellow", None),
    ],
)  # fmt: skip
def test_a_broken_organisation_is_refused_with_its_line(demo_regions, change, message, at):
    text = DEMO_ORG.read_text(encoding="utf-8")
    old, new = change
    assert old in text, old
    broken = text.replace(old, new, 1)
    line = next(n for n, s in enumerate(broken.splitlines(), start=1) if (at or new) in s)
    with pytest.raises(OrgError, match=message) as err:
        Organisation.parse(broken, "org.yaml", demo_regions)
    assert f"org.yaml:{line}:" in str(err.value)


def test_a_city_without_a_city_wide_route_for_a_domain_is_told(demo_regions):
    text = DEMO_ORG.read_text(encoding="utf-8")
    lines = [s for s in text.splitlines() if not (s.startswith('  - {"domain": "flood", "centre": "city"'))]
    with pytest.raises(OrgError, match="no city-wide row for flood at every severity: an incident there would go"):
        Organisation.parse("\n".join(lines) + "\n", "org.yaml", demo_regions)
    # A city-wide row for red floods only leaves the others nowhere to go; the city's own id is city-wide.
    red_only = lines + ['  - {"domain": "flood", "severity": ["red"], "centre": "city", "department": "water-city"}']
    with pytest.raises(OrgError, match="no city-wide row for flood at every severity"):
        Organisation.parse("\n".join(red_only) + "\n", "org.yaml", demo_regions)
    by_code = lines + ['  - {"region": "130600", "domain": "flood", "centre": "city", "department": "water-city"}']
    org = Organisation.parse("\n".join(by_code) + "\n", "org.yaml", demo_regions)
    assert org.route({"district": None}, "flood", "blue").department == "water-city"


def test_a_row_for_every_domain_names_no_department(demo_regions):
    text = DEMO_ORG.read_text(encoding="utf-8").replace(
        "routing:\n", 'routing:\n  - {"region": "130629", "centre": "d130629", "department": "fire-130629"}\n', 1
    )
    with pytest.raises(OrgError, match="a row for every domain names no department"):
        Organisation.parse(text, "org.yaml", demo_regions)


def test_a_communitys_own_route_is_taken_before_its_towns(tmp_path, demo_regions):
    """Routing walks the regions above the incident's smallest place: a grid's community comes before its town."""
    from tests.unit.test_region_files import LIANCHI_GATE, with_communities

    regions = with_communities(tmp_path, demo_regions)
    places = regions.locate(*LIANCHI_GATE)
    text = DEMO_ORG.read_text(encoding="utf-8").replace(
        "routing:\n", f'routing:\n  - {{"region": "{places["community"]}", "centre": "t{places["town"]}"}}\n', 1
    )
    org = Organisation.parse(text, "org.yaml", regions)
    assert org.route(places, "hotline", "blue").centre == f"t{places['town']}"
    assert org.route({**places, "grid": None}, "hotline", "blue").centre == "d130606"  # the town has no row


def test_org_check_prints_what_the_file_holds_and_refuses_a_broken_one(tmp_path, capsys):
    assert main(["org", "check", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "centres: 359 town, 24 district, 1 city" in out
    assert "roster: 80 shifts at 55 units; on duty around the clock: 25; hours a week with no one on duty: " in out
    broken = tmp_path / "org.yaml"
    text = DEMO_ORG.read_text(encoding="utf-8")
    broken.write_text(text.replace('"unit": "d130629", "role"', '"unit": "d1", "role"', 1), encoding="utf-8")
    assert main(["org", "check", str(broken), "--demo"]) == 2
    assert f"{broken}:" in (err := capsys.readouterr().err) and "duty-130629: no unit d1" in err


def test_a_hotspot_cluster_in_rongcheng_opens_an_incident_owned_by_its_centre_and_fire_brigade(open_store, org):
    """Issue 23: a hotspot cluster in 容城县 preselected the 莲池区 government. The incident is now routed."""
    from alerts.rules import load_rule_file
    from store import incidents as incident_store
    from tests.rule_city import City

    book = load_rule_file(DEMO_DIR / "rules.yaml")
    city = City(open_store("o"), org.regions, book.rules, book, org=org)
    rongcheng = org.regions.get("130629").geometry.representative_point()
    for n in range(3):
        city.at(minutes=1).send({"type": "event", "id": f"h{n}", "domain": "fire", "event_type": "hotspot",
                                 "lon": rongcheng.x + n * 0.002, "lat": rongcheng.y})  # fmt: skip
    city.tick()
    [incident] = incident_store.open_incidents(city.store.cursor())
    assert (incident["district_id"], incident["centre_id"], incident["department_id"]) == (
        "130629", "d130629", "fire-130629")  # fmt: skip
    [opened] = [e for e in incident_store.timeline(city.store.cursor(), incident["id"]) if e["action"] == "open"]
    assert opened["details"]["centre"] == "d130629" and opened["details"]["department"] == "fire-130629"
    city.close()


def test_the_duty_detail_says_whose_an_incident_is(open_store, org, demo_regions):
    from access.policy import Principal
    from dashboard.i18n import translator
    from dashboard.pages.duty.desk import Desk
    from dashboard.pages.duty.detail import incident_part

    desk = Desk(store=open_store("d"), snapshots=None, regions=demo_regions, units={}, sops={},
                tz="Asia/Shanghai", note_chars=4000, org=org)  # fmt: skip
    incident = {"id": 7, "state": "new", "members": 3, "title_zh": "容城县秸秆焚烧", "title_en": "Straw burning",
                "centre_id": "d130629", "department_id": "fire-130629", "district_id": "130629"}  # fmt: skip
    parts = incident_part(desk, Principal("duty", "duty_officer"), incident, translator("zh_CN"), "zh_CN")
    owner = next(p for p in parts if getattr(p, "className", "") == "incident-owner")
    assert owner.children == "负责：容城县城市运行管理中心 · 容城县消防救援大队"
    english = incident_part(desk, Principal("duty", "duty_officer"), incident, translator("en"), "en")
    assert any(getattr(p, "children", "") == "Whose: Rongcheng County Centre · Rongcheng County Fire and Rescue Brigade"
               for p in english)  # fmt: skip
