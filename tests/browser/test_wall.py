"""The real app in headless Chromium: `cityops run` as its own process, a real mosquitto, a DuckDB file."""

from __future__ import annotations

import time

import pytest

from dashboard.signin import DEMO_DISPLAY_TOKEN
from tests.app_config import demo_regions
from tests.harness import LIANCHI, health, send, signed_in, wait_until, wall_display

pytestmark = pytest.mark.browser
QINGYUAN = (115.4898, 38.7652)  # 清苑区 (130608), another district than LIANCHI's
# Where a cell or gauge is drawn inside the map's frame (the map flies to a pinned alert, so one may be off it).
ON_SCREEN_GAUGE = """() => {
    const frame = document.getElementById('wall-map').getBoundingClientRect();
    for (const el of document.querySelectorAll('#wall-map .cluster, #wall-map path.pt')) {
        const r = el.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
        if (r.width && x > frame.left && x < frame.right && y > frame.top && y < frame.bottom) return [x, y];
    }
    return [frame.x + frame.width / 2, frame.y + frame.height / 2];
}"""


# Every text on the wall that is shown: its size, its colour against what is behind it (the backgrounds of it and
# its ancestors, blended down to the first opaque one), and whether it lies on the screen.
TEXTS = """() => {
    const rgba = c => { const m = c.match(/[\\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
    const linear = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const lum = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    const behind = el => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c[3] > 0) layers.push(c);
            if (c[3] >= 1) break;
        }
        return layers.reverse().reduce((under, c) => under.map((v, i) => i < 3 ? c[i] * c[3] + v * (1 - c[3]) : 1),
                                       [0, 0, 0, 1]);
    };
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        const style = getComputedStyle(el);
        if (!own || !el.getClientRects().length || style.visibility !== 'visible') continue;
        const r = el.getBoundingClientRect();
        const fg = rgba(style.color), bg = behind(el);
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        out.push({text: el.textContent.trim().slice(0, 40), px: parseFloat(style.fontSize),
                  contrast: (a + 0.05) / (b + 0.05), right: r.right, bottom: r.bottom,
                  cls: el.className && el.className.baseVal === undefined ? el.className : ''});
    }
    return out;
}"""
# Named districts on the map: their boxes (none may cover another).
LABELS = """() => [...document.querySelectorAll('.district-label')]
    .filter(l => getComputedStyle(l).visibility === 'visible')
    .map(l => { const r = l.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, l.textContent]; })"""


def overlaps(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def test_wall_shows_map_regions_clusters_and_reacts_to_a_new_message(app, publisher, chromium, output_dir):
    pub = publisher
    # 300 gauges around the city centre, all well below their levels.
    for n in range(300):
        lon = LIANCHI[0] + ((n % 20) - 10) * 0.01
        lat = LIANCHI[1] + ((n // 20) - 7) * 0.01
        send(
            pub,
            f"test/flood/entity/g{n}",
            {
                "type": "entity",
                "id": f"g{n}",
                "domain": "flood",
                "kind": "river_gauge",
                "name": {"zh_CN": f"测站 {n}", "en": f"gauge {n}"},  # the English wall says the English
                "lon": lon,
                "lat": lat,
                "attributes": {"levels": {"metric": "water_level", "yellow": 10, "red": 12}},
            },
        )
        send(
            pub,
            f"test/flood/obs/g{n}",
            {"type": "observation", "entity": f"g{n}", "id": f"o{n}", "values": {"water_level": 5.0}},
        )
    wait_until(lambda: health(app)["observations"] == 300, 20, "300 observations stored")

    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"{exc}\n{exc.stack}"))
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    page.wait_for_selector("path.region", timeout=15_000)
    wait_until(lambda: page.locator("path.region").count() == 24, 10, "24 district polygons")
    wait_until(lambda: page.locator(".cluster-k").count() > 0, 10, "clusters of healthy gauges")
    assert page.locator(".cluster-r, path.pt-r").count() == 0
    assert page.locator("h1").inner_text() == "Baoding City Operations Center"
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    shots = output_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=shots / "wall-before.png")

    # One gauge crosses its red level, and an event is reported: both on the wall within 5 s.
    started = time.monotonic()
    send(
        pub,
        "test/flood/obs/g150",
        {"type": "observation", "entity": "g150", "id": "o-red", "values": {"water_level": 12.7}},
    )
    send(
        pub,
        "test/flood/event/e1",
        {
            "type": "event",
            "id": "e1",
            "domain": "flood",
            "event_type": "overflow",
            "lon": LIANCHI[0],
            "lat": LIANCHI[1],
            "severity": "red",
            "title": "府河 overtops its bank",
        },
    )
    wait_until(lambda: page.locator(".cluster-r, path.pt-r").count() > 0, 5, "a red cluster or marker")
    wait_until(lambda: page.locator("path.region-r").count() == 1, 5, "Lianchi district turns red")
    wait_until(lambda: "府河 overtops its bank" in page.locator("#wall-ticker").inner_text(), 5, "event in ticker")
    wait_until(lambda: "gauge 150 water too high" in page.locator("#wall-incident-list").inner_text(), 5,
               "the alert listed by the gauge's English name")  # fmt: skip
    assert "测站" not in page.locator("#wall-incident-list").inner_text()
    print(f"\nnew message visible on the wall after {time.monotonic() - started:.2f} s")
    page.screenshot(path=shots / "wall-after.png")
    print("PAGE ERRORS", *errors, sep="\n")
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("news", [True, False], ids=["news", "tick alone"])
def test_news_reaches_the_wall_without_waiting_for_its_tick(request, tmp_path, mosquitto, publisher, chromium, news):
    # The tick is a minute here: an event on screen within seconds came by the news (dashboard/news.py); without
    # the news the same event waits for the tick, which shows this test can tell the two apart.
    request.applymarker(pytest.mark.app_env(CITYOPS_WEB__REFRESH_MS="60000",
                                            CITYOPS_WEB__WALL_NEWS=str(news).lower()))  # fmt: skip
    app = request.getfixturevalue("app")
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    page.wait_for_selector("path.region", timeout=15_000)
    if news:
        wait_until(lambda: page.evaluate("() => window.cityops.wall.following()"), 5, "the wall waiting for news")
    event = {"type": "event", "id": "e-news", "domain": "flood", "event_type": "overflow", "lon": LIANCHI[0],
             "lat": LIANCHI[1], "severity": "yellow", "title": "news from the river"}  # fmt: skip
    sent = time.monotonic()
    send(publisher, "test/flood/event/e-news", event)
    in_ticker = lambda: "news from the river" in page.locator("#wall-ticker").inner_text()  # noqa: E731
    if news:
        wait_until(in_ticker, 5, "the event on the wall")
        print(f"\nevent on the wall {time.monotonic() - sent:.2f} s after it was published")
    else:
        time.sleep(5)
        assert not in_ticker(), "without the news nothing refreshes the wall before its tick"
    page.close()


def test_wall_in_chinese_with_no_data_shown_as_no_data(app, chromium, output_dir):
    # No device has reported: the figures say "no data", never zero or all-clear.
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{app}/wall")
    page.wait_for_selector("path.region", timeout=15_000)
    assert page.locator("h1").inner_text() == "保定市城市运行管理中心"
    wait_until(lambda: page.locator(".figure-nodata").count() >= 6, 15, "figures marked no data")
    wait_until(lambda: page.locator("path.region-n").count() == 24, 15, "every district drawn as no data")
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "wall-nodata-zh.png")
    page.close()


def gauge_grid(publisher, n: int, columns: int, step: float, first_column: int = 0, first_row: int = 0) -> None:
    """`n` river gauges in a grid of `columns` near Lianchi, `step` degrees apart, each at 5 m (below its levels);
    the grid's first column and row are `first_column` and `first_row` steps from Lianchi."""
    for i in range(n):
        column, row = i % columns + first_column, i // columns + first_row
        send(publisher, f"test/flood/entity/g{i}", {
            "type": "entity", "id": f"g{i}", "domain": "flood", "kind": "river_gauge", "name": f"gauge {i}",
            "lon": LIANCHI[0] + column * step, "lat": LIANCHI[1] + row * step,
            "attributes": {"levels": {"metric": "water_level", "yellow": 10, "red": 12}}})  # fmt: skip
        reading = {"type": "observation", "entity": f"g{i}", "values": {"water_level": 5}}
        send(publisher, f"test/flood/obs/g{i}", reading)


def test_a_feed_that_goes_down_turns_its_layer_grey_at_once(app, publisher, mosquitto, chromium, output_dir):
    gauge_grid(publisher, 40, columns=8, step=0.01)
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    wait_until(lambda: page.locator(".cluster-k, path.pt-k").count() > 0, 15, "healthy gauges drawn as ok")

    started = time.monotonic()
    mosquitto.stop()  # the feed's source is gone: the values on screen are no longer current
    figures = page.locator("#wall-figures .domain-flood")
    assert "0/40" in figures.inner_text()  # gauges over their warning level, of those reporting
    wait_until(lambda: page.locator(".cluster-k, path.pt-k").count() == 0, 10, "no gauge still shown as ok")
    wait_until(lambda: page.locator(".cluster-n, path.pt-n").count() > 0, 5, "the gauges shown as no data")
    # The key figure goes with them: no figure from a silent source shown as if current.
    wait_until(lambda: "0/40" not in figures.inner_text(), 5, "the flood figure no longer shown as current")
    assert "test-flood" in page.locator(".feed-down").inner_text()
    print(f"\nlayer grey {time.monotonic() - started:.2f} s after the broker stopped (freshness limit 600 s)")
    page.screenshot(path=output_dir / "screenshots" / "wall-feed-down.png")
    page.close()


def scrolls(page) -> bool:
    """Whether the page has anything to scroll, in either direction (a kiosk must not)."""
    return page.evaluate(
        "document.documentElement.scrollHeight > innerHeight || document.documentElement.scrollWidth > innerWidth"
    )


@pytest.mark.app_env(CITYOPS_WEB__WALL_PIN_S="5")
@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_the_wall_reads_from_5_m_and_fits_the_screen(app, publisher, chromium, output_dir, width, height):
    # A gauge high in each of 12 districts: 12 incidents, more than the list shows.
    districts = demo_regions().level("district")
    for n, district in enumerate(districts[:12]):
        where = district.geometry.representative_point()
        send(publisher, f"test/flood/entity/g{n}", {"type": "entity", "id": f"g{n}", "domain": "flood",
                                                    "kind": "river_gauge", "name": f"府河测站 {n} 号（上游段）",
                                                    "lon": where.x, "lat": where.y})  # fmt: skip
        send(publisher, f"test/flood/obs/g{n}", {"type": "observation", "entity": f"g{n}",
                                                 "values": {"water_level": 12.5 + n / 10}})  # fmt: skip
    page = wall_display(chromium, app, viewport={"width": width, "height": height})
    page.goto(f"http://127.0.0.1:{app}/wall")
    page.wait_for_selector("path.region", timeout=15_000)
    listed = page.locator(".wall-alert-list .incident-row")
    wait_until(lambda: listed.count() == 5, 15, "a full incident list")
    # The heading counts every incident; the list says how many it leaves out.
    wait_until(lambda: "另有 7 项" in page.locator("#wall-incident-list").inner_text(), 10, "the rest counted")
    assert "红色 12" in page.locator("#wall-incidents-heading").inner_text()
    assert not scrolls(page), f"the wall scrolls at {width}×{height}"
    # The red incidents held the wall on the newest for 5 s; back at the city, the districts' names are placed
    # again once the map is still.
    spotlight = page.locator("#wall-spotlight")
    wait_until(lambda: "spotlight-pin" not in spotlight.get_attribute("class") and spotlight.inner_text() == "保定市",
               15, "back at the city")  # fmt: skip
    wait_until(lambda: page.evaluate(LABELS) == (page.wait_for_timeout(700) or page.evaluate(LABELS)), 15, "still")

    # The README's rule: no text under 24 px at 1080p (a CJK glyph of 16 arcmin at 5 m on a 98-inch panel), and
    # as much more as the screen is larger; every text 4.5:1 against its background, and on the screen.
    least = 24 * height / 1080
    texts = page.evaluate(TEXTS)
    assert len(texts) > 40, texts
    small = [(t["text"], t["px"]) for t in texts if t["px"] < least - 0.5]
    assert not small, f"text under {least:.0f} px at {width}×{height}: {small}"
    faint = [(t["text"], t["cls"], round(t["contrast"], 2)) for t in texts if t["contrast"] < 4.5]
    assert not faint, f"text under 4.5:1 contrast: {faint}"
    off = [t["text"] for t in texts if t["right"] > width + 1 or t["bottom"] > height + 1]
    assert not off, f"text off the screen: {off}"
    # The legend explains the map's colours; districts are named where their names fit, none over another.
    legend = page.locator(".wall-legend").inner_text()
    assert all(word in legend for word in ("红色", "蓝色", "正常", "无数据", "事件范围")), legend
    labels = page.evaluate(LABELS)
    assert len(labels) >= 8, labels
    assert not [(a[4], b[4]) for i, a in enumerate(labels) for b in labels[i + 1 :] if overlaps(a, b)], labels
    # A wall has no mouse: no layer switches, language link or account bar on it until a pointer moves.
    controls = ".leaflet-control-layers, .wall-lang, .account-bar"
    assert page.locator(controls).evaluate_all("els => els.filter(e => e.getClientRects().length).length") == 0
    page.mouse.move(width / 2, height / 2)
    wait_until(lambda: page.locator(".wall-map .leaflet-control-layers").is_visible(), 5, "controls for a mouse")
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / f"wall-{width}x{height}-pointer.png")
    wait_until(lambda: not page.locator(".wall-map .leaflet-control-layers").is_visible(), 12, "hidden again")
    page.screenshot(path=output_dir / "screenshots" / f"wall-{width}x{height}.png")
    page.close()


@pytest.mark.app_env(CITYOPS_WEB__WALL_ROTATE_S="2", CITYOPS_WEB__WALL_PIN_S="6")
def test_a_new_red_incident_holds_the_tour_once_then_a_banner_names_it_until_acknowledged(app, publisher, chromium,
                                                                                          output_dir):  # fmt: skip
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    page.wait_for_selector("path.region", timeout=15_000)
    spotlight, banner = page.locator("#wall-spotlight"), page.locator("#wall-alarm")
    seen = set()
    wait_until(lambda: seen.add(spotlight.inner_text()) or len(seen) >= 3, 12, "the tour moving on")
    assert seen & {"Jingxiu District", "Lianchi District", "Mancheng District"}, seen

    # A red incident is opened: the wall flies to it and holds there, for web.wall_pin_s (6 s here).
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": "府河 G1", "lon": LIANCHI[0], "lat": LIANCHI[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.6}})
    named = "Red incident awaiting acknowledgement: 府河 G1 water too high · Lianchi District"
    wait_until(lambda: "spotlight-pin" in spotlight.get_attribute("class"), 10, "the wall held on the incident")
    held = time.monotonic()
    assert spotlight.inner_text() == "Lianchi District" and banner.inner_text() == named
    wait_until(lambda: page.locator("path.alert-red").count() == 1, 5, "the alert's marker on the map")
    page.wait_for_timeout(1500)  # the flight to the district takes a moment; the screenshot shows where it lands
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "wall-pinned.png")
    time.sleep(max(0.0, 4 - (time.monotonic() - held)))  # two rotation periods: still held
    assert "spotlight-pin" in spotlight.get_attribute("class")

    # Then the tour goes on, the city and its districts again, while the banner still names the incident.
    wait_until(lambda: spotlight.inner_text() == "Baoding", 6, "the hold ends at the city")
    released = time.monotonic()
    assert released - held >= 5, "the hold ended early"
    # A second red incident at once, elsewhere: named in the banner, but held on only once the wall has toured
    # for as long as a hold (a storm's stream of red incidents holds the wall half the time at most).
    send(publisher, "test/flood/entity/g2", {"type": "entity", "id": "g2", "domain": "flood", "kind": "river_gauge",
                                             "name": "清苑 G2", "lon": QINGYUAN[0], "lat": QINGYUAN[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g2", {"type": "observation", "entity": "g2", "values": {"water_level": 12.7}})
    wait_until(lambda: banner.inner_text().startswith("2 red incidents awaiting acknowledgement"), 10, "both named")
    toured = set()
    while time.monotonic() - released < 5:
        assert "spotlight-pin" not in spotlight.get_attribute("class"), "held again before the wall toured"
        toured.add(spotlight.inner_text())
        page.wait_for_timeout(200)
    assert len(toured) >= 2, toured
    page.screenshot(path=output_dir / "screenshots" / "wall-red-banner.png")
    wait_until(lambda: "spotlight-pin" in spotlight.get_attribute("class"), 8, "the second incident's hold")
    assert spotlight.inner_text() == "Qingyuan District"

    duty = signed_in(chromium, app, "duty", viewport={"width": 1440, "height": 900})
    for alert in (1, 2):
        duty.goto(f"http://127.0.0.1:{app}/duty?lang=en&alert={alert}")
        duty.wait_for_selector("#duty-actions button[data-action=acknowledge]", timeout=30_000)
        duty.click("#duty-actions button[data-action=acknowledge]")
        wait_until(lambda: duty.locator("#duty-actions button[data-action=acknowledge]").count() == 0, 10, "done")
    wait_until(lambda: banner.inner_text() == "", 30, "the banner gone once both are acknowledged")
    assert not errors, errors
    page.close()
    duty.close()


@pytest.mark.app_env(CITYOPS_WEB__SERVER_CELLS_ABOVE="100")
def test_a_city_too_large_for_the_browser_is_drawn_from_server_cells_that_follow_the_view(app, publisher, chromium,
                                                                                            output_dir):  # fmt: skip
    # 400 gauges in a 20 × 20 grid around the city centre, past the line (100) where the server gathers them.
    gauge_grid(publisher, 400, columns=20, step=0.004, first_column=-10, first_row=-10)
    wait_until(lambda: health(app)["entities"] == 400, 20, "400 gauges stored")
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/layers/points/flood" in r.url else None)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    wait_until(lambda: page.locator(".cluster-k").count() > 0, 15, "cells of healthy gauges")
    assert all("z=" in url and "bbox=" in url for url in asked), asked  # never the whole layer
    counts = page.locator(".cluster-k span").all_inner_texts()
    assert sum(int(c) for c in counts) + page.locator("path.pt-k").count() == 400, counts

    # One gauge crosses its red level: its cell turns red with the next refresh.
    send(publisher, "test/flood/obs/g210", {"type": "observation", "entity": "g210", "values": {"water_level": 12.7}})
    wait_until(lambda: page.locator(".cluster-r, path.pt-r").count() == 1, 10, "the red gauge's cell turns red")

    # The red alert pins the wall on its district (a flight that would undo a zoom): zoom in after it has landed.
    wait_until(lambda: "spotlight-pin" in page.locator("#wall-spotlight").get_attribute("class"), 15, "the pin")
    page.wait_for_timeout(2_000)
    # Zoomed in on the centre, the server sends the gauges in view as themselves, each clickable through.
    before = len(asked)

    def single_gauges() -> bool:
        return page.locator("path.pt-k").count() > 0 and page.locator(".cluster").count() == 0

    for _ in range(20):  # the mouse wheel over the gauges, as an operator zooms in
        # A busy machine answers a zoom late: wait for its cells before deciding to zoom again.
        try:
            wait_until(single_gauges, 2, "single gauges")
            break
        except AssertionError:
            pass
        x, y = page.evaluate(ON_SCREEN_GAUGE)
        page.mouse.move(x, y)
        page.mouse.wheel(0, -300)
    state = page.evaluate("() => [document.querySelectorAll('.cluster').length, "
                          "document.querySelectorAll('path.pt').length, location.href]")  # fmt: skip
    assert single_gauges(), f"single gauges drawn when zoomed in (cells, points, page): {state}"
    assert len(asked) > before, "the view's change asked for its cells"
    assert page.locator("path.pt-r").count() <= 1
    page.screenshot(path=output_dir / "screenshots" / "wall-server-cells.png")
    assert not errors, errors
    page.close()


def test_devices_are_drawn_from_district_zoom_in_or_when_their_layer_is_turned_on(app, publisher, chromium):
    gauge_grid(publisher, 30, columns=6, step=0.004)
    wait_until(lambda: health(app)["entities"] == 30, 20, "30 gauges stored")
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    devices = page.locator("#wall-map .dev-flood")
    wait_until(lambda: devices.count() > 0, 15, "the gauges' markers on the map")
    # The city view: the districts, incidents and alerts; no device markers.
    page.wait_for_timeout(500)
    assert not any(d.is_visible() for d in devices.all()), "device markers shown at the city view"
    assert "overview" in page.locator("#wall-main").get_attribute("class")
    # The operator turns the flood layer on: its devices at every zoom; off again: gone.
    flood = page.get_by_label("Flood")
    page.mouse.move(200, 200)  # the wall's controls show while a pointer moves
    flood.check()
    wait_until(lambda: any(d.is_visible() for d in devices.all()), 5, "the flood layer turned on")
    where = page.evaluate(ON_SCREEN_GAUGE)  # the gauges on screen, to zoom in on them below
    page.mouse.move(210, 210)
    flood.uncheck()
    wait_until(lambda: not any(d.is_visible() for d in devices.all()), 5, "the flood layer turned off")
    # Zoomed in on a district (the tour or a pinned incident does the same): the devices are drawn.
    page.mouse.move(*where)
    for _ in range(8):  # a notch at a time, until the wall is past the city view
        if "overview" not in page.locator("#wall-main").get_attribute("class"):
            break
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(500)
    wait_until(lambda: any(d.is_visible() for d in devices.all()), 10, "the gauges drawn when zoomed in")
    assert not errors, errors


# The wall's refresh requests, slowed in the page as a slow server or network would answer: how many are on their
# way at once at most, and which of the wall's parts each answer carried.
SLOW_REFRESH = """() => {
    window.refresh = {inFlight: 0, most: 0, answers: []};
    const plain = window.fetch.bind(window);
    window.fetch = async function (input, init) {
        const body = init && typeof init.body === "string" ? init.body : "";
        if (body.indexOf("wall-seen.data") < 0) return plain(input, init);
        window.refresh.inFlight += 1;
        window.refresh.most = Math.max(window.refresh.most, window.refresh.inFlight);

        try {
            const response = await plain(input, init);
            await new Promise(r => setTimeout(r, 800));
            if (response.status === 200) {
                const parts = Object.keys((await response.clone().json()).response || {});
                window.refresh.answers.push(parts);
            }
            return response;
        } finally {
            window.refresh.inFlight -= 1;

        }
    };
}"""


def test_a_slow_wall_under_a_stream_is_never_asked_twice_at_once_nor_sent_what_it_shows(app, publisher, chromium):
    # A stream of readings that changes nothing the wall shows still makes new snapshots several times a second.
    # Each refresh used to resend every part, and a new one (news, tick) overtook an answer still on its way, which
    # Dash then discards: on a slow machine the wall drew nothing new for seconds.
    gauge_grid(publisher, 30, columns=6, step=0.01)
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    page.add_init_script(f"({SLOW_REFRESH})()")
    page.goto(f"http://127.0.0.1:{app}/wall?token={DEMO_DISPLAY_TOKEN}&lang=en")
    page.wait_for_selector("path.region", timeout=15_000)
    wait_until(lambda: page.evaluate("() => window.refresh.answers.length") >= 1, 15, "the wall's first answer")
    wait_until(lambda: page.evaluate("() => window.cityops.wall.following()"), 5, "the wall waiting for news")
    page.wait_for_timeout(2000)  # the map settles: its first bounds and zoom are inputs of the refresh too
    first = page.evaluate(
        "() => { window.refresh.most = window.refresh.inFlight; return window.refresh.answers.length; }"
    )
    for n in range(120):  # about 6 s of readings at the value they had
        send(publisher, f"test/flood/obs/g{n % 30}", {"type": "observation", "entity": f"g{n % 30}",
                                                     "values": {"water_level": 5}})  # fmt: skip
        page.wait_for_timeout(50)
    state = page.evaluate("() => window.refresh")
    later = state["answers"][first:]
    assert len(later) >= 3, f"the stream made new snapshots, and the wall refreshed: {state}"
    assert state["most"] == 1, f"a refresh was sent while another was on its way: {state['most']} at once"
    resent = [parts for parts in later if {"wall-figures", "wall-ticker", "wall-feeds"} & set(parts)]
    assert not resent, f"parts the wall already showed were sent again: {resent[:3]}"

    send(publisher, "test/flood/obs/g0", {"type": "observation", "entity": "g0", "values": {"water_level": 13}})
    wait_until(lambda: any("wall-points-flood" in "".join(p) for p in page.evaluate("() => window.refresh.answers")
                           [len(state["answers"]):]), 10, "a status that changed is sent")  # fmt: skip
    page.close()
