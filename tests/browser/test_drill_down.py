"""Drill-down in the browser: city → district → town → grid → device chart, back by breadcrumbs; deep links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.app_config import demo_regions
from tests.harness import LIANCHI, health, send, signed_in, wait_until

pytestmark = pytest.mark.browser


LEVELS = {"metric": "water_level", "yellow": 11, "red": 12}


def test_from_the_city_to_one_gauge_and_back_and_the_same_by_link(app, publisher, chromium, output_dir):
    send(publisher, "test/flood/entity/g1", {
        "type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
        "name": {"zh_CN": "府河 G1", "en": "Fu River G1"},  # English pages say the English; G2 has only its own
        "lon": LIANCHI[0], "lat": LIANCHI[1],
        "attributes": {"warning_level": 11.0, "levels": LEVELS}})  # fmt: skip
    now = datetime.now(UTC)
    for minutes, level in ((50, 9.0), (40, 10.2), (30, 11.4), (20, 12.5), (10, 12.8), (1, 12.9)):
        ts = (now - timedelta(minutes=minutes)).isoformat()
        reading = {"type": "observation", "entity": "g1", "id": f"o{minutes}", "ts": ts,
                   "values": {"water_level": level}, "units": {"water_level": "m"}}  # fmt: skip
        send(publisher, "test/flood/obs/g1", reading)
    # A second gauge over its level in another town of the district: on the district's page, not on the town's.
    elsewhere = next(t for t in demo_regions().level("town") if t.parent == "130606" and t.id != "130606009")
    inside = elsewhere.geometry.representative_point()
    send(publisher, "test/flood/entity/g2", {"type": "entity", "id": "g2", "domain": "flood", "kind": "river_gauge",
                                             "name": "府河 G2", "lon": inside.x, "lat": inside.y})  # fmt: skip
    send(publisher, "test/flood/obs/g2", {"type": "observation", "entity": "g2", "values": {"water_level": 12.7}})
    wait_until(lambda: health(app)["observations"] == 7, 10, "seven readings stored")

    page = signed_in(chromium, app, "supervisor", viewport={"width": 1366, "height": 1024})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{app}/region/city?lang=en")
    page.get_by_role("link", name="Lianchi District").click()
    page.wait_for_url("**/region/130606?lang=en")
    body = page.locator(".drill-body")
    wait_until(lambda: "Fu River G1 water too high" in body.inner_text(), 20, "district alert")
    wait_until(lambda: "府河 G2 water too high" in body.inner_text(), 10, "the other town's alert")
    # The district's map: its towns, the alerts placed on it.
    wait_until(lambda: page.locator(".drill-map path.alert-red").count() == 2, 10, "the alerts on the district map")
    assert page.locator(".drill-map path.region").count() > 5
    page.get_by_role("link", name="Yonghua Subdistrict").click()
    page.wait_for_url("**/region/130606009?lang=en")
    wait_until(lambda: "Fu River G1 water too high" in body.inner_text(), 20, "the town's alert")
    assert "G2" not in body.inner_text(), "a town lists another town's alert"
    grid = demo_regions().get(demo_regions().locate(*LIANCHI)["grid"])  # the gauge's grid cell
    page.get_by_role("link", name=grid.name_en).click()
    page.wait_for_url(f"**/region/{grid.id}?lang=en")
    wait_until(lambda: "Fu River G1 water too high" in body.inner_text(), 20, "the grid's alert")
    assert "G2" not in body.inner_text(), "a grid lists another grid's alert"
    page.get_by_role("link", name="Fu River G1 · river_gauge").click()
    page.wait_for_url("**/entity/test-flood%3Ag1?lang=en")

    crumbs = page.locator(".breadcrumbs").inner_text().split("\n")
    assert [c.strip("› ") for c in crumbs if c.strip("› ")] == [
        "City", "Lianchi District", "Yonghua Subdistrict", grid.name_en, "Fu River G1"]  # fmt: skip
    wait_until(lambda: page.locator(".drill-chart .main-svg").count() > 0, 20, "the history chart")
    # Thresholds drawn (yellow, red and the warning level) and the alert's period shaded.
    wait_until(lambda: page.locator(".drill-chart .shapelayer path").count() >= 4, 5, "threshold lines and shading")
    assert "12.9 m" in page.locator(".drill-body").inner_text()
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "entity-history.png", full_page=True)

    page.locator(".breadcrumbs").get_by_role("link", name="Lianchi District").click()
    page.wait_for_url("**/region/130606?lang=en")
    assert page.locator("h1").inner_text() == "Lianchi District"
    # The district's year by day: today's readings, not yet in the daily summaries, are there already.
    wait_until(lambda: page.locator(".drill-year .main-svg").count() > 0, 10, "the district's year chart")
    assert "The last 12 months, by day" in page.locator(".drill-year").inner_text()
    assert page.locator(".drill-year .gtitle").text_content() == "water_level"

    # A link sent by chat opens the same picture.
    linked = signed_in(chromium, app, "duty", viewport={"width": 1366, "height": 1024})
    linked.goto(f"http://127.0.0.1:{app}/entity/test-flood%3Ag1?lang=en&hours=6")
    assert linked.locator("h1").inner_text() == "Fu River G1"
    assert linked.locator(".window-on").inner_text() == "6 hours"
    linked.get_by_role("link", name="Fu River G1 water too high").click()
    linked.wait_for_url("**/duty?alert=*&lang=en")
    wait_until(lambda: "Raised by rule" in linked.locator("#duty-timeline").inner_text(), 20, "the alert's timeline")
    assert not errors, errors
    page.close()
    linked.close()


def test_the_language_chosen_once_is_kept_on_every_view(app, chromium):
    def heading(page, text: str, what: str) -> None:
        wait_until(lambda: page.locator("h1").count() and page.locator("h1").inner_text() == text, 10, what)

    page = signed_in(chromium, app, "supervisor", viewport={"width": 1440, "height": 900})
    page.goto(f"http://127.0.0.1:{app}/wall?lang=zh_CN")
    page.goto(f"http://127.0.0.1:{app}/region/city?lang=en")
    page.goto(f"http://127.0.0.1:{app}/duty")
    heading(page, "Duty desk", "English")
    page.goto(f"http://127.0.0.1:{app}/tablet")
    heading(page, "Choose your district", "still English")
    page.close()
    # The language is the user's: on another browser, signed in again, it is still English ...
    again = signed_in(chromium, app, "supervisor")
    again.goto(f"http://127.0.0.1:{app}/duty")
    heading(again, "Duty desk", "the user's English")
    again.close()
    # ... while another user who has chosen nothing gets the city's language.
    other = signed_in(chromium, app, "viewer")
    other.goto(f"http://127.0.0.1:{app}/duty")
    heading(other, "值班台", "the city's language")
    other.close()
