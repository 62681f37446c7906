"""The district tablet in Chromium: at 768×1024 portrait and 1366×1024 landscape it fits the width, every target is
at least 44 px, and the figures, alerts, trend and map are the district's own."""

from __future__ import annotations

import pytest

from tests.harness import LIANCHI, send, signed_in, small_targets, wait_until

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "height"), [(768, 1024), (1366, 1024)])
def test_the_tablet_shows_the_district_at_a_glance(app, publisher, chromium, output_dir, width, height):
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": "府河 G1", "lon": LIANCHI[0], "lat": LIANCHI[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.6}})
    page = signed_in(chromium, app, "supervisor", viewport={"width": width, "height": height}, has_touch=True,
                     is_mobile=True)  # fmt: skip
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"http://127.0.0.1:{app}/tablet?lang=en")
    page.get_by_role("link", name="Lianchi District").click()
    wait_until(lambda: "district=130606" in page.url, 5, "the chosen district in the URL")
    wait_until(lambda: page.locator(".tablet-card").count() == 4, 10, "a card per domain")
    flood = page.locator(".tablet-card", has_text="Flood")
    wait_until(lambda: "1 open" in flood.inner_text(), 10, "the district's open flood alert")
    assert "card-r" in flood.get_attribute("class"), "the card takes the colour of its red alert"
    assert "no data" in page.locator(".tablet-card", has_text="Traffic").inner_text()
    states = page.locator(".tablet-states")
    wait_until(lambda: states.count() and "New" in states.inner_text(), 5, "alerts by status")
    assert page.locator(".tablet-incidents").inner_text() == "Incidents: 1"  # its alert is one thing to handle
    wait_until(lambda: page.locator(".tablet-trend .js-plotly-plot").count() == 1, 10, "today's trend")
    wait_until(lambda: page.locator(".tablet-map path.alert-red").count() == 1, 10, "the alert on the district map")

    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the tablet scrolls sideways"
    assert small_targets(page) == []
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / f"tablet-{width}x{height}.png", full_page=True)
    assert not errors, errors


def test_another_district_does_not_show_this_ones_alert(app, publisher, chromium):
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": "府河 G1", "lon": LIANCHI[0], "lat": LIANCHI[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.6}})
    page = signed_in(chromium, app, "supervisor", viewport={"width": 1366, "height": 1024})
    page.goto(f"http://127.0.0.1:{app}/tablet?lang=en&district=130608")
    wait_until(lambda: page.locator(".tablet-card").count() == 4, 10, "cards")
    page.wait_for_timeout(1500)
    assert "No open alert." in page.locator("#tablet-alerts").inner_text()
    assert "0 open" in page.locator(".tablet-card", has_text="Flood").inner_text() or \
        "no data" in page.locator(".tablet-card", has_text="Flood").inner_text()  # fmt: skip
