"""The duty desk through a storm, in Chromium: 1,300 open alerts in hundreds of incidents are a page of rows at a
time, a refresh never overtakes the one before it, the queue says when it is behind, and an action shows in the
detail at once."""

from __future__ import annotations

import signal
import time

import pytest

from dashboard.pages.duty.queue import QUEUE_ROWS
from tests.alert_storm import BY_TOWN, storm
from tests.browser.test_duty import gauge, open_duty, steps
from tests.harness import LIANCHI, CityOps, wait_until

pytestmark = pytest.mark.browser
STOPPED_S = 8  # the server stopped for longer than the queue waits before it says it is behind (5 s)


class QueueRequests:
    """The queue's refreshes as the page sends them: how many are on their way at once, at most."""

    def __init__(self, page):
        self.page = page
        self.open, self.most, self.sent = 0, 0, 0
        page.on("request", self._sent)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def sent_since(self, before: int) -> int:
        self.page.wait_for_timeout(100)  # Playwright hands over the page's events while it is called
        return self.sent - before

    @staticmethod
    def _ours(request) -> bool:
        return "/_dash-update-component" in request.url and "duty-queue.children" in (request.post_data or "")

    def _sent(self, request) -> None:
        if self._ours(request):
            self.open += 1
            self.sent += 1
            self.most = max(self.most, self.open)

    def _ended(self, request) -> None:
        if self._ours(request):
            self.open -= 1


@pytest.fixture
def storm_app(tmp_path, mosquitto, demo_regions):
    incidents = len(storm(tmp_path, demo_regions, BY_TOWN, "town"))
    app = CityOps(tmp_path, mosquitto.port, rules=BY_TOWN)
    app.start()
    yield app, incidents
    if app.process.poll() is None:
        app.process.send_signal(signal.SIGCONT)
    assert app.stop() == 0


def test_a_storm_on_the_desk_pages_never_overtakes_and_says_when_behind(storm_app, chromium, output_dir):
    app, incidents = storm_app
    page, errors = open_duty(chromium, app.web_port)
    requests = QueueRequests(page)
    rows = page.locator("#duty-queue .q-row")
    where = page.locator("#duty-page-where")
    wait_until(lambda: rows.count() == QUEUE_ROWS, 30, "a page of the queue")
    assert f"Lines 1–{QUEUE_ROWS} of {incidents}" in where.inner_text()
    assert f"{incidents} incidents" in page.locator("#duty-counts").inner_text()

    # The next page, and back, from the keyboard.
    first = rows.first.get_attribute("data-key")
    page.keyboard.press("PageDown")
    wait_until(lambda: f"Lines {QUEUE_ROWS + 1}–{2 * QUEUE_ROWS} of" in where.inner_text(), 10, "the second page")
    assert rows.first.get_attribute("data-key") != first
    page.keyboard.press("PageUp")
    wait_until(lambda: rows.first.get_attribute("data-key") == first, 10, "the first page again")

    # An action on the first incident shows in its detail at once, while the queue goes on refreshing.
    page.keyboard.press("j")
    wait_until(lambda: "Raised by rule" in page.locator("#duty-timeline").inner_text(), 10, "its timeline")
    page.keyboard.press("a")
    wait_until(lambda: "acknowledge" in steps(page), 5, "the acknowledgement in the detail")

    # The server stops answering: no refresh is sent while one is on its way, and the queue says it is behind.
    behind = page.locator("#duty-behind")
    assert behind.inner_text() == ""
    sent = requests.sent
    app.process.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    wait_until(lambda: "The queue is behind" in behind.inner_text(), STOPPED_S + 2, "the queue says it is behind")
    assert time.monotonic() - stopped >= 3.5, "said behind before its time"
    page.wait_for_timeout(max(0, STOPPED_S - (time.monotonic() - stopped)) * 1000)
    assert requests.most == 1 and requests.sent_since(sent) <= 1, (requests.most, requests.sent - sent)
    page.screenshot(path=output_dir / "screenshots" / "duty-behind.png")
    app.process.send_signal(signal.SIGCONT)
    wait_until(lambda: behind.inner_text() == "", 10, "caught up")
    wait_until(lambda: requests.sent_since(sent) >= 3, 10, "refreshing again")
    assert requests.most == 1, f"{requests.most} refreshes of the queue were on their way at once"

    # The server dies and comes back: refreshes that failed outright do not leave the queue stopped for good.
    app.kill()
    wait_until(lambda: "The queue is behind" in behind.inner_text(), 15, "behind while the server is gone")
    app.start()
    wait_until(lambda: behind.inner_text() == "", 30, "caught up after the restart")
    wait_until(lambda: rows.count() == QUEUE_ROWS, 10, "the queue drawn again")
    assert not [e for e in errors if "Callback failed" not in e], errors


@pytest.mark.app_config(rules=BY_TOWN.replace("unit: water_authority", "unit: fire_brigade"))
def test_enter_dispatches_to_the_suggested_unit_not_the_first(app, publisher, chromium):
    gauge(publisher, "g1", "府河 G1", LIANCHI, 12.6)
    page, errors = open_duty(chromium, app)
    wait_until(lambda: page.locator(".q-row").count() == 1, 10, "the alert in the queue")
    page.keyboard.press("j")
    wait_until(lambda: "Raised by rule" in page.locator("#duty-timeline").inner_text(), 10, "its timeline")
    page.keyboard.press("a")
    wait_until(lambda: "acknowledge" in steps(page), 5, "acknowledged")
    page.keyboard.press("d")
    dialog = page.locator("#duty-dialog")
    wait_until(lambda: "hidden" not in dialog.get_attribute("class"), 5, "the dispatch dialog")
    # The fire brigade is the suggestion and the second unit listed; the focus is on it, and Enter sends to it.
    wait_until(lambda: page.evaluate("document.activeElement.type") == "radio", 5, "focus on the units")
    assert page.evaluate("document.activeElement.value") == "jingxiu-fire"
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("Enter")
    wait_until(lambda: "hidden" in dialog.get_attribute("class"), 5, "the dialog closes")
    wait_until(lambda: "dispatch" in steps(page), 5, "dispatched")
    timeline = page.locator("#duty-timeline").inner_text()
    assert "Jingxiu Fire Brigade" in timeline and "Water Resources" not in timeline, timeline
    assert not errors, errors
