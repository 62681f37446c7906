"""The duty queue at storm volume, through the real server on a socket: 1,300 open alerts are a row per incident on
the wire, not a row per alert, and an opened incident lists a bounded number of its alerts."""

from __future__ import annotations

import json
import re

import pytest

from alerts.rules import parse_rule_file
from dashboard.guard import CSRF_COOKIE
from dashboard.pages.duty.queue import MEMBERS_SHOWN
from tests.app_config import RULES
from tests.harness import CityOps, callback_body, cookie, dependencies, http_session, post_callback
from tests.rule_city import City

pytestmark = pytest.mark.integration
ALERTS = 1_300


def storm(tmp_path, demo_regions) -> dict[str, int]:
    """The app's store with ALERTS gauges over their level, spread over every district; alerts per district."""
    book = parse_rule_file(RULES)
    city = City(tmp_path / "cityops.duckdb", demo_regions, book.rules, book)
    districts = demo_regions.level("district")
    per = {}
    try:
        gauges = []
        for n in range(ALERTS):
            district = districts[n % len(districts)]
            inside = district.geometry.representative_point()
            gauges.append({"type": "entity", "id": f"g{n}", "domain": "flood", "kind": "river_gauge",
                           "name": f"G{n}", "lon": inside.x, "lat": inside.y})  # fmt: skip
            per[district.id] = per.get(district.id, 0) + 1
        # A message per gauge, in batches the writer takes whole.
        city.send(*gauges)
        city.send(*({"type": "observation", "entity": f"g{n}", "values": {"water_level": 12.5}} for n in range(ALERTS)))
        open_alerts = city.store.cursor().execute("SELECT count(*) FROM alerts WHERE state = 'new'").fetchone()[0]
        assert open_alerts == ALERTS
    finally:
        city.close()
    return per


def test_a_storm_of_alerts_is_a_row_per_incident_on_the_wire(tmp_path, mosquitto, demo_regions):
    per_district = storm(tmp_path, demo_regions)
    app = CityOps(tmp_path, mosquitto.port)
    app.start()
    try:
        opener, jar = http_session(app.web_port, "duty")
        spec = next(s for s in dependencies(opener, app.web_port) if "duty-queue.children" in s["output"])
        values = {"duty-tick.n_intervals": 1, "duty-lang.data": "en", "duty-expanded.data": []}

        def queue(**more) -> tuple[str, list[str]]:
            body = json.loads(callback_body(spec, {**values, **more}, ["duty-filter-domain.value"]))
            status, text = post_callback(opener, app.web_port, cookie(jar, CSRF_COOKIE), body)
            assert status == 200, text[:500]
            return text, re.findall(r'"data-key":\s*"([ai]\d+)"', text)

        text, keys = queue()
        assert len(keys) == len(per_district) and all(k.startswith("i") for k in keys)  # a district's incident each
        assert f"{ALERTS:,} open".replace(",", "") in text.replace(",", "")
        assert len(text) < 60_000, f"the queue sent {len(text):,} bytes for {len(keys)} rows"
        # The first incident opened: its row, then MEMBERS_SHOWN of its alerts and how many more there are.
        first = int(keys[0][1:])
        text, keys = queue(**{"duty-expanded.data": [first]})
        members = [k for k in keys if k.startswith("a")]
        assert len(members) == MEMBERS_SHOWN and len(keys) == len(per_district) + MEMBERS_SHOWN
        assert any(f"… and {n - MEMBERS_SHOWN} more" in text for n in set(per_district.values())), text[-2000:]
        # What the browser sends as the opened incidents is checked: anything else opens nothing.
        assert queue(**{"duty-expanded.data": ["1; DROP TABLE alerts", {"x": 1}, 10**30]})[1] == queue()[1]
    finally:
        assert app.stop() == 0
