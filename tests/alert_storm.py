"""A storm of alerts in a store, before the app that serves it starts: ALERTS river gauges over their level, spread
over a level of the demo city's regions, each raised by the real rule engine."""

from __future__ import annotations

from pathlib import Path

from alerts.rules import parse_rule_file
from layers.regions import RegionIndex
from store.duckdb_engine import DuckDBStore
from tests.app_config import RULES
from tests.rule_city import City

ALERTS = 1_300


# The gauges' alerts make an incident per town: hundreds of rows.
BY_TOWN = RULES.replace("sops:", "groups:\n  - {id: high-water, rules: [gauge-high], by: town}\nsops:")


def storm(tmp_path: Path, demo_regions: RegionIndex, rules: str = RULES, level: str = "district") -> dict[str, int]:
    """The app's store with ALERTS gauges over their level, spread over the regions of `level`; alerts per region."""
    book = parse_rule_file(rules)
    city = City(DuckDBStore(tmp_path / "cityops.duckdb"), demo_regions, book.rules, book)
    regions = demo_regions.level(level)
    per = {}
    try:
        gauges = []
        for n in range(ALERTS):
            region = regions[n % len(regions)]
            inside = region.geometry.representative_point()
            gauges.append({"type": "entity", "id": f"g{n}", "domain": "flood", "kind": "river_gauge",
                           "name": f"G{n}", "lon": inside.x, "lat": inside.y})  # fmt: skip
            per[region.id] = per.get(region.id, 0) + 1
        # A message per gauge, in batches the writer takes whole.
        city.send(*gauges)
        city.send(*({"type": "observation", "entity": f"g{n}", "values": {"water_level": 12.5}} for n in range(ALERTS)))
        open_alerts = city.store.cursor().execute("SELECT count(*) FROM alerts WHERE state = 'new'").fetchone()[0]
        assert open_alerts == ALERTS
    finally:
        city.close()
    return per
