"""Alerts in the browser: raised by a rule, shown on the wall, acknowledged on the duty desk, in the timeline."""

from __future__ import annotations

import pytest

from tests.harness import LIANCHI, api, send, signed_in, wait_until, wall_display

pytestmark = pytest.mark.browser


def raise_alert(publisher) -> None:
    send(publisher, "test/flood/entity/g1", {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge",
                                             "name": "府河 G1", "lon": LIANCHI[0], "lat": LIANCHI[1]})  # fmt: skip
    send(publisher, "test/flood/obs/g1", {"type": "observation", "entity": "g1", "values": {"water_level": 12.6}})


def test_alert_on_the_wall_then_acknowledged_on_the_duty_desk(app, publisher, chromium, output_dir):
    raise_alert(publisher)
    wall = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    wall.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    incidents = wall.locator("#wall-incident-list")
    wait_until(lambda: "府河 G1 water too high" in incidents.inner_text(), 10, "its incident in the list")
    wait_until(lambda: wall.locator("path.alert-red").count() == 1, 5, "a red alert marker on the map")
    assert "New" in incidents.inner_text()

    duty = signed_in(chromium, app, "duty", viewport={"width": 1440, "height": 900})
    errors = []
    duty.on("pageerror", lambda exc: errors.append(str(exc)))
    duty.goto(f"http://127.0.0.1:{app}/duty?lang=en")
    duty.get_by_text("府河 G1 water too high").click()
    wait_until(lambda: "Raised by rule" in duty.locator("#duty-timeline").inner_text(), 5, "timeline shown")

    # Cancelling without saying why is refused in the dialog, and nothing changes.
    duty.click("#duty-actions button[data-action=cancel]")
    duty.get_by_role("button", name="Confirm (Enter)").click()
    wait_until(lambda: "needs a note" in duty.locator("#duty-dialog-message").inner_text(), 5, "refusal message")
    duty.get_by_role("button", name="Close (Esc)").click()
    wait_until(lambda: "hidden" in duty.locator("#duty-dialog").get_attribute("class"), 5, "dialog closed")

    duty.click("#duty-actions button[data-action=acknowledge]")
    wait_until(lambda: "Done: Acknowledge" in duty.locator("#duty-message").inner_text(), 5, "done message")
    wait_until(lambda: duty.locator("#duty-timeline li.tl-acknowledge").count() == 1, 5, "in the timeline")
    timeline = duty.locator("#duty-timeline").inner_text()
    assert "duty" in timeline and "Cancel" not in timeline  # the officer's own name
    (output_dir / "screenshots").mkdir(exist_ok=True)
    duty.screenshot(path=output_dir / "screenshots" / "duty-acknowledged.png")
    wait_until(lambda: "Acknowledged" in incidents.inner_text(), 5, "the wall shows its incident's new state")
    wall.screenshot(path=output_dir / "screenshots" / "wall-alert.png")
    assert not errors, errors

    assert b"<severity>Extreme</severity>" in api(app, "/api/alerts/1.cap")
    wall.close()
    duty.close()
