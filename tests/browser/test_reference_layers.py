"""Reference layers in Chromium: the wall switches its schools and shelters on, the tablet shows its district's own,
and the duty desk names what lies near an alert."""

from __future__ import annotations

import pytest

from tests.app_config import demo_reference, demo_regions
from tests.harness import send, signed_in, wait_until, wall_display

pytestmark = pytest.mark.browser


def test_the_wall_switches_its_reference_layers_on(app, chromium, output_dir):
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    page.wait_for_selector("path.region", timeout=15_000)
    control = page.locator(".wall-map .leaflet-control-layers")
    assert page.locator("path.ref").count() == 0, "reference layers are off until turned on"
    assert not control.is_visible(), "a wall without a mouse shows no controls"
    page.mouse.move(300, 300)  # they show while a pointer moves over the wall
    control.get_by_text("Schools").click()
    wait_until(lambda: page.locator("path.ref-school").count() == 359, 10, "every school of the city drawn")
    page.mouse.move(310, 310)
    control.get_by_text("Emergency shelters").click()
    wait_until(lambda: page.locator("path.ref-shelter").count() == 359, 10, "every shelter drawn")
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "wall-reference-layers.png")
    page.mouse.move(300, 300)
    control.get_by_text("Schools").click()
    wait_until(lambda: page.locator("path.ref-school").count() == 0, 10, "schools off again")
    page.locator("path.ref-shelter").first.hover()
    hovered = page.locator(".leaflet-tooltip:not(.district-label)")
    wait_until(lambda: "避难场所（示例） · Emergency shelters" in hovered.inner_text(), 5,
               "the shelter's name and its layer on hover")  # fmt: skip


def test_the_tablet_shows_its_districts_places_only(app, chromium, output_dir):
    lianchi = demo_regions().get("130606").geometry
    schools = [p for p in demo_reference().get("schools").places if lianchi.intersects(p.geometry)]
    page = signed_in(chromium, app, "leader", viewport={"width": 768, "height": 1024}, has_touch=True,
                     is_mobile=True)  # fmt: skip
    page.goto(f"http://127.0.0.1:{app}/tablet?lang=en")
    page.wait_for_selector(".tablet-map .leaflet-control-layers", timeout=15_000)
    # The district fills its map (dash-leaflet fitted small maps before the page was laid out: a speck at zoom 9).
    filled = """(() => {
        const box = document.querySelector('.tablet-map .leaflet-container').getBoundingClientRect();
        const parts = Array.from(document.querySelectorAll('.tablet-map path.region'))
            .map(p => p.getBoundingClientRect());
        const w = Math.max(...parts.map(r => r.right)) - Math.min(...parts.map(r => r.left));
        const h = Math.max(...parts.map(r => r.bottom)) - Math.min(...parts.map(r => r.top));
        return Math.max(w / box.width, h / box.height);
    })()"""
    wait_until(lambda: page.evaluate(filled) > 0.6, 5, "the district framed in its map")
    page.locator(".tablet-map .leaflet-control-layers-toggle").tap()
    page.locator(".tablet-map .leaflet-control-layers").get_by_text("Schools").tap()
    wait_until(lambda: page.locator(".tablet-map path.ref-school").count() == len(schools), 10,
               "the district's schools, and no other district's")  # fmt: skip
    assert 0 < len(schools) < 359
    page.screenshot(path=output_dir / "screenshots" / "tablet-reference-layers.png")


def test_the_duty_desk_names_the_schools_near_an_alert(app, publisher, chromium):
    school = demo_reference().get("schools").places[0]  # in 竞秀区
    where = {"lon": school.geometry.x, "lat": school.geometry.y}
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": "一亩泉河 G1", **where})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.9}})
    page = signed_in(chromium, app, "duty", viewport={"width": 1600, "height": 1000})
    page.goto(f"http://127.0.0.1:{app}/duty?lang=en")
    page.wait_for_selector("#duty-queue .q-row", timeout=20_000)
    page.locator("#duty-queue .q-row").first.click()
    nearby = page.locator("ul.nearby")
    wait_until(lambda: nearby.count() == 1, 10, "the alert's detail with what is near it")
    said = nearby.inner_text()
    assert said.startswith("Schools: ") and f"within 1 km ({school.name}" in said and "the nearest 0 m away" in said
