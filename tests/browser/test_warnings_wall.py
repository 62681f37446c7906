"""An official warning on the real wall: a CAP Alert → Update → Cancel sequence over MQTT opens, changes and clears
one incident, drawn as the warning's area."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.app_config import RULES
from tests.cap_messages import NARROW, message
from tests.harness import wait_until, wall_display

pytestmark = pytest.mark.browser

WARNING_RULES = RULES.replace(
    "sops:",
    """  - id: rainstorm-warning
    domain: flood
    subject: warning
    select: {feed: test-weather}
    when: {warning: {event: 暴雨}}
    severity: yellow
    title: {zh_CN: "{headline}", en: "{headline}"}
    message: {zh_CN: "{areas}", en: "{areas}"}
    unit: water_authority
groups:
  - id: warnings
    rules: [rainstorm-warning]
    by: city
    auto_close: 0s
sops:""",
)
WEATHER_FEED = """
[[feeds]]
id = "test-weather"
transport = "mqtt"
topics = ["test/weather/#"]
decoder = "cap"
"""
# The incident outlines on the map, each with its colour and its extent on screen.
OUTLINES = """() => [...document.querySelectorAll('#wall-map path.incident-area')].map(p => {
    const r = p.getBoundingClientRect();
    return {cls: p.getAttribute('class'), width: Math.round(r.width), height: Math.round(r.height)};
})"""


@pytest.mark.app_config(rules=WARNING_RULES, feeds=WEATHER_FEED)
def test_a_cap_alert_update_cancel_changes_one_incident_drawn_as_its_area(app, publisher, chromium, output_dir):
    page = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    page.wait_for_selector("#wall-incident-list")
    now = datetime.now(UTC).replace(microsecond=0)

    def warn(payload: bytes) -> None:
        publisher.publish("test/weather/bdqxt", payload, qos=1).wait_for_publish(10)

    incidents = page.locator("#wall-incident-list")
    warn(message("W1", sent=now))
    wait_until(lambda: "Rainstorm orange warning" in incidents.inner_text(), 15, "the warning's incident listed")
    wait_until(lambda: len(page.evaluate(OUTLINES)) == 1, 10, "its area drawn")
    [wide] = page.evaluate(OUTLINES)
    assert "incident-orange" in wide["cls"], wide
    assert incidents.locator(".incident-row").count() == 1
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "wall-warning.png")

    # The Update: red, over the east half. Still one incident, now red and narrower.
    warn(message("W2", "Update", "red", refs=("W1",), polygon=NARROW, sent=now + timedelta(minutes=1)))
    wait_until(lambda: "Rainstorm red warning" in incidents.inner_text(), 15, "the incident follows the Update")
    wait_until(lambda: [o for o in page.evaluate(OUTLINES) if "incident-red" in o["cls"]], 10, "redrawn in red")
    [narrow] = page.evaluate(OUTLINES)
    # A red incident pins the wall on it (the map flies there), so compare shapes, not sizes: the east half of the
    # same height is (115.60 - 115.48) / (115.60 - 115.35) as wide for its height as the whole.
    shape = narrow["width"] / narrow["height"] / (wide["width"] / wide["height"])
    assert shape == pytest.approx((115.60 - 115.48) / (115.60 - 115.35), rel=0.1), (wide, narrow)
    assert incidents.locator(".incident-row").count() == 1

    # The Cancel: the warning clears, and its incident (the group closes itself at once) leaves the wall.
    warn(message("W3", "Cancel", refs=("W2",), sent=now + timedelta(minutes=2)))
    wait_until(lambda: "No open incidents" in incidents.inner_text(), 15, "the incident closed")
    wait_until(lambda: not page.evaluate(OUTLINES), 10, "its area gone from the map")
    # The Cancel carries no text: the ticker names the warning it lifts, never its raw reference.
    ticker = page.locator("#wall-ticker .event-title").first
    wait_until(lambda: ticker.inner_text() == "Warning lifted: 保定市气象台发布暴雨red预警", 10, "the cancel named")
    assert "Cancel:" not in page.locator("#wall-ticker").inner_text()
    assert not errors, errors
