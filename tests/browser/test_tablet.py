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
    # Each card says its domain's state in a word and a colour; the counts come second.
    assert flood.locator(".card-big").inner_text() == "Red warning"
    assert "card-r" in flood.get_attribute("class"), "the card takes the colour of its red alert"
    assert page.locator(".tablet-card", has_text="Traffic").locator(".card-big").inner_text() == "No data"
    states = page.locator(".tablet-states")
    wait_until(lambda: states.count() and "New" in states.inner_text(), 5, "alerts by status")
    assert page.locator(".tablet-incidents").inner_text() == "Incidents: 1"  # its alert is one thing to handle
    wait_until(lambda: page.locator(".tablet-trend .js-plotly-plot").count() == 1, 10, "today's trend")
    wait_until(lambda: page.locator(".tablet-map path.alert-red").count() == 1, 10, "the alert on the district map")

    ticks = page.locator(".tablet-trend .ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks and all(t.isdigit() for t in ticks) and len(ticks) <= 6, ticks  # whole counts, a few labels

    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the tablet scrolls sideways"
    assert small_targets(page) == []
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / f"tablet-{width}x{height}.png", full_page=True)
    # A tapped alert opens on the tablet, not on the keyboard desk; one tap goes back.
    link = page.locator("#tablet-alerts .drill-alerts a").first
    link.tap()
    page.wait_for_url("**/tablet?lang=en&district=130606&alert=*")
    wait_until(lambda: "Raised by rule" in page.locator(".duty-timeline").inner_text(), 10, "its timeline")
    assert page.locator("h1").inner_text() == "府河 G1 water too high"
    assert "Lianchi District" in page.locator(".tablet-facts").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth") and small_targets(page) == []
    page.screenshot(path=output_dir / "screenshots" / f"tablet-alert-{width}x{height}.png", full_page=True)
    page.get_by_role("link", name="Back to Lianchi District").tap()
    wait_until(lambda: page.locator(".tablet-card").count() == 4, 10, "back on the district")
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
    assert "0 open" in page.locator(".tablet-card", has_text="Flood").inner_text()


def test_an_alert_of_another_district_does_not_open_on_the_tablet(app, publisher, chromium):
    qingyuan = (115.4898, 38.7652)  # 清苑区 (130608): not the demo leader's 莲池区
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": "府河 G1", "lon": qingyuan[0], "lat": qingyuan[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.6}})
    supervisor = signed_in(chromium, app, "supervisor", viewport={"width": 1024, "height": 768})
    url = f"http://127.0.0.1:{app}/tablet?lang=en&district=130608&alert=1"
    wait_until(lambda: supervisor.goto(url) and "Raised by rule" in supervisor.locator("body").inner_text(), 15,
               "the alert on a supervisor's tablet")  # fmt: skip
    leader = signed_in(chromium, app, "leader", viewport={"width": 1024, "height": 768})
    for asked in ("district=130606&alert=1", "district=130606&alert=1%27%3B", "district=130606&alert=99"):
        leader.goto(f"http://127.0.0.1:{app}/tablet?lang=en&{asked}")
        assert leader.locator("h1").inner_text() == "There is no such alert.", asked
