"""The history (issue 25) over alerts the real rule engine raised: each filter narrows it as it says, an alert takes
its org unit from its incident, ended ones stay in it, a scoped asker sees nothing outside their regions, and the
duty desk sends a request for closed work to it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.org import Organisation
from alerts.rules import load_rule_file
from cityops import DEMO_DIR
from store import incidents as incident_store
from store import supervision as sql
from store.supervision import Selection
from tests.incident_history import JINGXIU, LIANCHI, act
from tests.rule_city import City


@pytest.fixture
def city(open_store, demo_regions):
    org = Organisation.load(DEMO_DIR / "org.yaml", demo_regions)
    book = load_rule_file(DEMO_DIR / "rules.yaml")
    city = City(open_store("c"), demo_regions, book.rules, book, org=org)
    yield city
    city.close()


def hotspots(city: City, district: str, tag: str) -> None:
    """Three hotspots in a district: the demo's fire cluster rule raises one alert (the cluster) in an incident."""
    inside = city.regions.get(district).geometry.representative_point()
    for n in range(3):
        city.at(minutes=1).send({"type": "event", "id": f"{tag}{n}", "domain": "fire", "event_type": "hotspot",
                                 "lon": inside.x + n * 0.0005, "lat": inside.y})  # fmt: skip
    city.tick()


def test_each_filter_narrows_the_alerts_history(city):
    hotspots(city, LIANCHI, "l")
    hotspots(city, JINGXIU, "j")
    cur = city.store.cursor()
    lianchi = next(i for i in incident_store.open_incidents(cur) if i["district_id"] == LIANCHI)
    act(city.store, lianchi["id"], "cancel", city.now + timedelta(minutes=5), note="false alarm")  # ended: kept

    def count(**narrowing) -> int:
        return sql.history(cur, "alerts", Selection(**narrowing))[0]

    total = count()
    assert total == 2  # the cluster rule raises one alert per cluster, in one incident each
    assert count(region=LIANCHI) + count(region=JINGXIU) == total
    assert count(region=LIANCHI, state="cancelled") == count(region=LIANCHI) > 0  # cancelled with their incident
    assert count(state="open") == count(region=JINGXIU)
    assert count(unit=lianchi["centre_id"]) == count(region=LIANCHI)  # an alert's unit is its incident's
    assert count(domain="fire") == total and count(domain="flood") == 0
    assert count(severity="red") + count(severity="orange") + count(severity="yellow") + count(severity="blue") == total
    assert count(start=city.now + timedelta(hours=1)) == 0 and count(end=city.now - timedelta(days=1)) == 0
    assert count(overdue=True) == 0 and count(overdue=False) == total
    assert count(scope=frozenset({LIANCHI})) == count(region=LIANCHI)
    assert count(scope=frozenset({LIANCHI}), region=JINGXIU) == 0  # a scope is never widened by a filter
    [rule] = {r for r in sql.history(cur, "alerts", Selection())[1]["rule_id"]}
    assert count(rule=rule) == total and count(rule="no-such-rule") == 0
    assert count(text="%") == 0  # a wildcard typed is a character searched for
    first, second = (sql.history(cur, "alerts", Selection(), offset=n, limit=1)[1] for n in (0, 1))
    assert first["created_at"][0] >= second["created_at"][0] and first["id"][0] != second["id"][0]  # newest first
