"""/admin/feeds in the browser: a feed's health, its dead letter shown as text, and a replay that says why not."""

from __future__ import annotations

import pytest

from tests.harness import signed_in, wait_until

pytestmark = pytest.mark.browser

GARBAGE = b'{"type": "observation", "entity": "g1", "values": {"water_level": "<img src=x onerror=alert(1)>"}'


def test_a_dead_letter_is_listed_shown_as_text_and_replay_says_why_not(app, publisher, chromium, output_dir):
    publisher.publish("test/flood/obs/g1", GARBAGE, qos=1).wait_for_publish(10)
    page = signed_in(chromium, app, "admin", viewport={"width": 1440, "height": 900})
    errors, dialogs = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"http://127.0.0.1:{app}/admin/feeds?lang=en")
    wait_until(lambda: "test-flood" in page.locator("#admin-feeds").inner_text(), 10, "the feed in the table")
    wait_until(lambda: "invalid JSON" in page.locator("#admin-letters").inner_text(), 10, "the dead letter listed")
    # Only garbage came: degraded, with the reason (the table follows the views' snapshot, the next one after this).
    wait_until(lambda: "Degraded" in page.locator("#admin-feeds").inner_text(), 10, "the feed degraded")
    changes = page.locator("#admin-changes").inner_text()  # and the change is kept in the feed's history
    assert "test-flood" in changes and "Degraded" in changes and "messages cannot be decoded" in changes, changes
    ingest = page.locator("#admin-ingest").inner_text()  # the writer keeps up, and says so
    assert "Writing" in ingest and "of 20,000 messages" in ingest and "Lag" in ingest, ingest

    page.locator("#admin-letters label").first.click()
    wait_until(lambda: page.locator(".letter-raw").count() == 1, 5, "the payload shown")
    assert page.locator(".letter-raw").inner_text() == GARBAGE.decode()  # as text: the markup is characters
    assert page.locator(".letter-raw img").count() == 0
    page.click("#admin-replay")
    wait_until(lambda: "Still cannot be decoded: invalid JSON" in page.locator("#admin-message").inner_text(), 10,
               "the replay's answer")  # fmt: skip
    (output_dir / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=output_dir / "screenshots" / "admin-feeds.png")
    assert not errors and not dialogs, (errors, dialogs)
    page.close()
