"""Everything that came from a feed or a user is shown as text: a device name, an event's title and description, an
officer's note and a user name carrying HTML and script show those characters on every view and run nothing."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from store.accounts import NAME_MAX
from tests.harness import LIANCHI, api, send, signed_in, wait_until, wall_display

pytestmark = pytest.mark.browser

# An element that would exist only if the text were parsed as HTML, a handler and a script that would leave a mark.
NAME = '<img src=x class=injected onerror="window.__xss=1">G1<script>window.__xss=2</script>'
EVENT = '<b class=injected>Crowd</b><svg onload="window.__xss=3"></svg>'
NOTE = "<iframe class=injected src=javascript:window.__xss=4></iframe>checked"
# Plotly reads a subset of HTML in titles and labels: a metric or unit named like this would become a link.
METRIC = '<a href="https://evil.example/">level</a>'


def watch(page) -> list[str]:
    """What ran or tried to run on the page: dialogs, page errors, CSP refusals."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(f"dialog {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda exc: seen.append(f"error {exc}"))
    page.on("console", lambda msg: seen.append(f"console {msg.text}") if "Content Security Policy" in msg.text
            else None)  # fmt: skip
    return seen


def assert_shown_as_text(page, selector: str, *texts: str) -> None:
    for text in texts:
        wait_until(lambda text=text: text in page.locator(selector).inner_text(), 20, f"{text!r} shown in {selector}")
    assert page.locator(".injected").count() == 0, "HTML from a feed or a user became elements"
    assert page.evaluate("window.__xss") is None, "a script from a feed or a user ran"


def test_feed_and_user_text_is_shown_as_text_on_every_view(app, publisher, chromium, output_dir):
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": NAME, "lon": LIANCHI[0], "lat": LIANCHI[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.6}})
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {METRIC: 3.0},
                                          "units": {METRIC: "<b>m</b>"}})  # fmt: skip
    send(publisher, "test/flood/event/e1", {"type": "event", "id": "e1", "domain": "flood", "event_type": "report",
                                            "title": EVENT, "description": EVENT, "severity": "yellow",
                                            "lon": LIANCHI[0], "lat": LIANCHI[1]})  # fmt: skip
    title = f"{NAME} water too high"

    wall = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    wall_seen = watch(wall)
    wall.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    assert_shown_as_text(wall, "#wall-incident-list", title)
    assert_shown_as_text(wall, "#wall-ticker", EVENT)

    duty = signed_in(chromium, app, "duty", viewport={"width": 1440, "height": 900})
    duty_seen = watch(duty)
    duty.goto(f"http://127.0.0.1:{app}/duty?lang=en&alert=1")
    assert_shown_as_text(duty, "#duty-queue", title)
    assert_shown_as_text(duty, "#duty-summary", title)
    duty.click("#duty-actions button[data-action=comment]")
    duty.fill("#duty-note", NOTE)
    duty.get_by_role("button", name="Confirm (Enter)").click()
    assert_shown_as_text(duty, "#duty-timeline", NOTE)

    views = {
        "/tablet?lang=en&district=130606": ".tablet",
        "/region/130606?lang=en": ".drill-body",
        "/entity/test-flood%3Ag1?lang=en": ".drill",
    }
    for path, selector in views.items():
        page = signed_in(chromium, app, "supervisor", viewport={"width": 1366, "height": 1024})
        seen = watch(page)
        page.goto(f"http://127.0.0.1:{app}{path}")
        assert_shown_as_text(page, selector, "G1")
        text = page.locator(selector).inner_text()
        assert "<img src=x" in text and "<script>" in text, f"{path} does not show the name as written"
        if path.startswith("/entity/"):  # its charts: a metric's title is shown as written, no link made of it
            wait_until(lambda page=page: METRIC in " ".join(page.locator(".gtitle").all_text_contents()), 20,
                       "the metric's chart title, as written")  # fmt: skip
            assert page.locator('svg a[href*="evil.example"]').count() == 0
        assert not seen, (path, seen)
        page.close()

    # A user name is user text too: a failed sign-in with one, read in the audit log.
    stranger = chromium.new_page()
    stranger.goto(f"http://127.0.0.1:{app}/login")
    stranger.fill("input[name=name]", NAME)
    stranger.fill("input[name=password]", "not the password")
    stranger.click("button[type=submit]")
    stranger.close()
    admin = signed_in(chromium, app, "admin", viewport={"width": 1440, "height": 900})
    admin_seen = watch(admin)
    admin.goto(f"http://127.0.0.1:{app}/admin/audit?lang=en")
    # The name is longer than any user's (store.accounts.NAME_MAX): the audit log keeps it cut short, as text.
    assert_shown_as_text(admin, "#audit-table", NAME[:NAME_MAX] + "…", "Alert: Comment")
    cap = ElementTree.fromstring(api(app, "/api/alerts/1.cap"))  # the CAP export is well-formed XML ...
    assert any(NAME in (element.text or "") for element in cap.iter())  # ... holding the name as text

    (output_dir / "screenshots").mkdir(exist_ok=True)
    duty.screenshot(path=output_dir / "screenshots" / "injection-duty.png")
    assert not wall_seen and not duty_seen and not admin_seen, (wall_seen, duty_seen, admin_seen)
