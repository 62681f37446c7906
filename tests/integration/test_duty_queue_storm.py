"""The duty queue at storm volume, through the real server on a socket: 1,300 open alerts are a row per incident on
the wire, not a row per alert, and an opened incident lists its alerts; when they make hundreds of incidents, or an
incident is opened, one answer is a page of QUEUE_ROWS lines, well under 100 KB."""

from __future__ import annotations

import json
import re

import pytest

from dashboard.guard import CSRF_COOKIE
from dashboard.pages.duty.queue import QUEUE_ROWS
from tests.alert_storm import ALERTS, BY_TOWN, storm
from tests.harness import CityOps, callback_body, cookie, dependencies, http_session, post_callback

pytestmark = pytest.mark.integration


class DutyQueue:
    """The queue's refresh as a signed-in duty officer's browser posts it, on the app's socket."""

    def __init__(self, app: CityOps):
        self.app = app
        self.opener, self.jar = http_session(app.web_port, "duty")
        self.spec = next(s for s in dependencies(self.opener, app.web_port) if "duty-queue.children" in s["output"])
        self.values = {"duty-tick.n_intervals": 1, "duty-lang.data": "en", "duty-expanded.data": [],
                       "duty-page.data": 0}  # fmt: skip

    def __call__(self, changed: str = "duty-filter-domain.value", **more) -> tuple[str, list[str]]:
        """The answer's text and the rows' keys (a… an alert, i… an incident)."""
        body = json.loads(callback_body(self.spec, {**self.values, **more}, [changed]))
        status, text = post_callback(self.opener, self.app.web_port, cookie(self.jar, CSRF_COOKIE), body)
        assert status == 200, text[:500]
        return text, re.findall(r'"data-key":\s*"([ai]\d+)"', text)


def pages(queue: DutyQueue, **values) -> list[str]:
    """Every line of the queue, asked for a page at a time until the server draws the last page again; each answer
    under 100 KB."""
    seen, page = [], 0
    while True:
        text, keys = queue("duty-page.data", **{**values, "duty-page.data": page})
        if int(re.search(r'"data-page":\s*"(\d+)"', text).group(1)) < page:
            return seen
        assert len(text) < 100_000 and 0 < len(keys) <= QUEUE_ROWS, (page, len(text), len(keys))
        seen += keys
        page += 1


def test_a_storm_of_alerts_is_a_row_per_incident_on_the_wire(tmp_path, mosquitto, demo_regions):
    per_district = storm(tmp_path, demo_regions)
    app = CityOps(tmp_path, mosquitto.port)
    app.start()
    try:
        queue = DutyQueue(app)
        text, keys = queue()
        assert len(keys) == len(per_district) and all(k.startswith("i") for k in keys)  # a district's incident each
        assert f"{ALERTS:,} open".replace(",", "") in text.replace(",", "")
        assert len(text) < 60_000, f"the queue sent {len(text):,} bytes for {len(keys)} rows"
        # The first incident opened: its row, then all of its alerts, a page at a time, then the other incidents.
        first = int(keys[0][1:])
        lines = pages(queue, **{"duty-expanded.data": [first]})
        members = [k for k in lines if k.startswith("a")]
        assert lines[0] == f"i{first}" and lines[1 : 1 + len(members)] == members
        assert len(members) in set(per_district.values()) and len(lines) == len(per_district) + len(members)
        # What the browser sends as the opened incidents is checked: anything else opens nothing.
        assert queue(**{"duty-expanded.data": ["1; DROP TABLE alerts", {"x": 1}, 10**30]})[1] == queue()[1]
    finally:
        assert app.stop() == 0


def test_hundreds_of_incidents_are_sent_a_page_at_a_time(tmp_path, mosquitto, demo_regions):
    per_town = storm(tmp_path, demo_regions, BY_TOWN, "town")
    incidents = len(per_town)
    assert incidents > 3 * QUEUE_ROWS
    app = CityOps(tmp_path, mosquitto.port, rules=BY_TOWN)
    app.start()
    try:
        queue = DutyQueue(app)
        text, first = queue()
        assert len(first) == QUEUE_ROWS and all(k.startswith("i") for k in first)
        assert f"{incidents} incidents" in text and f"Lines 1–{QUEUE_ROWS} of {incidents}" in text
        assert len(text) < 100_000, f"the queue sent {len(text):,} bytes for {len(first)} rows"
        # Page on, with an incident opened: every incident once, in the queue's order, the opened one's alerts
        # under it. A page past the end is the last page, and says so.
        opened = int(first[0][1:])
        seen = pages(queue, **{"duty-expanded.data": [opened]})
        incident_rows = [k for k in seen if k.startswith("i")]
        assert len(incident_rows) == len(set(incident_rows)) == incidents
        assert seen[0] == first[0] and seen[1].startswith("a")
        last = (len(seen) - 1) // QUEUE_ROWS
        text, keys = queue("duty-page.data", **{"duty-page.data": last + 5, "duty-expanded.data": [opened]})
        assert keys == seen[last * QUEUE_ROWS :] and f"of {len(seen)}" in text
        assert re.search(r'"data-page":\s*"(\d+)"', text).group(1) == str(last)
        # A filter starts again at the first page; what is not a page number is the first page.
        assert queue(**{"duty-page.data": 3})[1] == first
        assert queue("duty-page.data", **{"duty-page.data": "3; DROP TABLE alerts"})[1] == first
        assert queue("duty-page.data", **{"duty-page.data": True})[1] == first
    finally:
        assert app.stop() == 0
