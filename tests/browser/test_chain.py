"""The command chain in Chromium (issue 23), each step by its own account on the real app: a hotspot cluster in a
莲池区 grid is routed to the district's centre; the district gives it to the town, the town to the grid worker, who
signs for it on the phone page (390×844, touch), goes on site, sends a photo with the position and reports done; the
district verifies and the incident closes. Each account sees its own part only, and is refused outside it."""

from __future__ import annotations

import http.cookiejar
import io
import re
import urllib.error
import urllib.request

import pytest
from PIL import Image

from tests.app_config import demo_regions
from tests.harness import send, signed_in, small_targets, wait_until

pytestmark = pytest.mark.browser

RULES = """
rules:
  - id: hotspot-cluster
    domain: fire
    when:
      count: {event_type: hotspot, min: 3, within_km: 2, window: 1h}
    severity: orange
    title: {zh_CN: "秸秆焚烧火点聚集", en: "Cluster of straw-burning hotspots"}
    message: {zh_CN: "{value} 个火点", en: "{value} hotspots"}
    unit: fire_brigade
"""
GRID = "130606009-G01"
TOWN_CENTRE = "t130606009"


def photo_jpeg() -> bytes:
    """A phone camera's photo: 4000×3000, larger than a request may be until the page shrinks it."""
    image = Image.effect_noise((4000, 3000), 64).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def open_row(page, port: int, section: str, timeout: float = 20) -> None:
    """Open the first row of an inbox section, waiting for it to appear (the page is reloaded while waiting)."""
    rows = page.locator(".inbox-section", has_text=section).locator(".inbox-row a")

    def there() -> bool:
        page.goto(f"http://127.0.0.1:{port}/inbox?lang=en")
        return rows.count() > 0

    wait_until(there, timeout, f"a row in “{section}”", every=1)
    rows.first.click()
    page.wait_for_load_state()


def http_as(port: int, user: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(f"http://127.0.0.1:{port}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    body = f"name={user}&password=demo-{user}&csrf_token={token}".encode()
    opener.open(f"http://127.0.0.1:{port}/login", data=body, timeout=10).read()
    opener.csrf = next(c.value for c in jar if c.name == "cityops_csrf")  # type: ignore[attr-defined]
    return opener


def status(opener, url: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers={"X-CSRFToken": opener.csrf, "Accept": "application/json"})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.app_config(rules=RULES, org=True)
def test_district_town_grid_worker_and_back_to_close(app, publisher, chromium, output_dir, tmp_path):
    inside = demo_regions().get(GRID).geometry.representative_point()
    for n in range(3):
        send(publisher, f"test/flood/event/h{n}", {"type": "event", "id": f"h{n}", "domain": "fire",
                                                   "event_type": "hotspot", "lon": inside.x + n * 0.0003,
                                                   "lat": inside.y})  # fmt: skip
    # The district's duty officer: the incident is theirs to give, and the town holding it is suggested.
    district = signed_in(chromium, app, "duty-130606", viewport={"width": 1366, "height": 900})
    open_row(district, app, "Ours to give")
    assert district.locator("select[name=target]").input_value() == TOWN_CENTRE
    district.fill("textarea[name=note]", "核实火点，组织扑救")
    district.click("button.act-dispatch")
    district.wait_for_url(re.compile(r"/inbox/task/\d+"))
    task_url = district.url.split("?")[0]
    assert "Xiguan" not in district.content()  # a town of another district is not among the targets given

    # The town's duty officer signs for it and gives it to the grid worker of the grid it is in.
    town = signed_in(chromium, app, "duty-130606009", viewport={"width": 1366, "height": 900})
    open_row(town, app, "To sign for")
    town.click("button.act-sign")
    town.wait_for_selector("button.act-dispatch")
    assert town.locator("select[name=target]").input_value() == f"{TOWN_CENTRE}/grid-130606009-g01"
    received = town.url
    town.click("button.act-dispatch")
    town.wait_for_url(lambda url: url != received)
    worker_task = town.url.split("?")[0]

    # The grid worker, on a phone with its position: sign, on site, a photo, done.
    phone = signed_in(chromium, app, "grid-130606009-g01", viewport={"width": 390, "height": 844}, has_touch=True,
                      is_mobile=True, geolocation={"longitude": inside.x, "latitude": inside.y},
                      permissions=["geolocation"])  # fmt: skip
    errors: list[str] = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    assert phone.url.endswith("/inbox"), "a field worker's home is the inbox"
    open_row(phone, app, "To sign for")
    assert phone.url.split("?")[0] == worker_task
    assert small_targets(phone) == [] and phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    # What the phone fetched for the page: its HTML, the stylesheet and the script, light on a slow network.
    weight = phone.evaluate("""performance.getEntriesByType('navigation').concat(
        performance.getEntriesByType('resource')).reduce((n, e) => n + e.decodedBodySize, 0)""")
    assert weight < 60 * 1024, f"the phone page weighs {weight} bytes"
    phone.click("button.act-sign")
    # The network drops as they report on site: the page says so, sends it again when it is back, and the step is
    # done once.
    phone.wait_for_selector("button.act-on_site")
    phone.context.set_offline(True)
    phone.click("button.act-on_site")
    wait_until(lambda: "No network" in phone.locator(".inbox-sending").first.inner_text(), 10, "the page says so")
    phone.context.set_offline(False)
    wait_until(lambda: "is on site" in phone.locator(".inbox-timeline").inner_text(), 40, "sent again", every=0.5)
    assert phone.locator(".inbox-timeline").inner_text().count("is on site") == 1
    assert phone.locator("button.act-on_site").count() == 0
    picture = tmp_path / "scene.jpg"
    picture.write_bytes(photo_jpeg())
    assert picture.stat().st_size > 1024 * 1024  # over the request limit: only the shrunk one gets through
    feedback = phone.locator("form", has=phone.locator("button.act-feedback"))
    feedback.locator("textarea[name=note]").fill("秸秆堆起火，已扑灭")
    feedback.locator("input[type=file]").set_input_files(str(picture))
    feedback.locator("button.act-feedback").click()
    wait_until(lambda: phone.locator(".inbox-thumb img").count() == 1, 20, "the photo's thumbnail in the timeline")
    thumb = phone.locator(".inbox-thumb img").first
    wait_until(lambda: phone.evaluate("(img) => img.complete && img.naturalWidth > 0", thumb.element_handle()), 10,
               "the thumbnail served")  # fmt: skip
    assert re.search(r"\d+\.\d{5}, \d+\.\d{5}", phone.locator(".inbox-timeline").inner_text()), "the position"
    report = phone.locator("form", has=phone.locator("button.act-report"))
    report.locator("textarea[name=note]").fill("明火已灭，现场已清理")
    report.locator("button.act-report").click()
    wait_until(lambda: "reported it done" in phone.locator(".inbox-timeline").inner_text(), 10, "the report")
    assert small_targets(phone) == []
    (output_dir / "screenshots").mkdir(exist_ok=True)
    phone.screenshot(path=output_dir / "screenshots" / "chain-phone-390x844.png", full_page=True)
    assert not errors, errors

    # The district verifies what came up the chain, and the incident closes.
    open_row(district, app, "To verify")
    assert district.url.split("?")[0] == task_url
    district.click("button.act-verify")
    wait_until(lambda: "verified it" in district.locator(".inbox-timeline").inner_text(), 10, "the verification")
    assert "Incident: Closed" in district.locator(".inbox-meta").inner_text()
    timeline = district.locator(".inbox-timeline").inner_text()
    for step in ("gave the task to", "signed for it", "is on site", "sent feedback", "reported it done", "verified it"):
        assert step in timeline, step
    district.goto(f"http://127.0.0.1:{app}/inbox?lang=en")
    assert district.locator(".inbox-section", has_text="To verify").locator(".inbox-row").count() == 0

    # Outside the chain of these tasks, each role of another district, town or grid is refused, as if they were
    # not there; the worker cannot verify their own work.
    for user in ("duty-130602", "duty-130606002", "grid-130606009-g02", "duty-fire-130602", "crew-fire-130602"):
        other = http_as(app, user)  # each may use an inbox: refused as if the task were not there
        for url in (task_url, worker_task):
            assert status(other, url) == 404, (user, url)
            assert status(other, f"{url}/sign", b"note=x") == 404, (user, url)
    viewer = http_as(app, "viewer")  # no inbox at all
    assert status(viewer, task_url) == 403 and status(viewer, f"{task_url}/sign", b"note=x") == 403
    worker = http_as(app, "grid-130606009-g01")
    assert status(worker, f"{worker_task}/verify", b"note=x") == 400  # their own task: not theirs to verify
    assert status(worker, f"{task_url}/verify", b"note=x") == 404
    assert status(worker, f"http://127.0.0.1:{app}/duty") == 403  # a field worker has no duty desk
    assert status(worker, f"http://127.0.0.1:{app}/wall") == 403
