"""A wall whose server stops answering says so, big, within seconds, and greys what it shows; it recovers by itself
when the server is back (issue 19: a dead wall went on looking live for a minute and more)."""

from __future__ import annotations

import re

import pytest

from tests.harness import CityOps, wait_until, wall_display

pytestmark = pytest.mark.browser


def test_a_wall_that_loses_its_server_says_so_and_recovers(tmp_path, mosquitto, chromium, output_dir):
    app = CityOps(tmp_path, mosquitto.port)  # refresh 500 ms: the wall says it after 5 s without an answer
    app.start()
    try:
        page = wall_display(chromium, app.web_port, viewport={"width": 1920, "height": 1080})
        page.goto(f"http://127.0.0.1:{app.web_port}/wall?lang=en")
        page.wait_for_selector("path.region", timeout=15_000)
        banner = page.locator("#wall-offline")
        page.wait_for_timeout(6_000)
        assert not banner.is_visible(), "a live wall says it lost its server"
        assert app.stop() == 0
        wait_until(banner.is_visible, 10, "the banner, within seconds of the server stopping")
        said = banner.inner_text()
        assert re.fullmatch(r"No connection to CityOps: what you see is from \d\d:\d\d:\d\d", said), said
        assert page.evaluate("getComputedStyle(document.querySelector('.wall-map')).opacity") == "0.35"
        (output_dir / "screenshots").mkdir(exist_ok=True)
        page.screenshot(path=output_dir / "screenshots" / "wall-offline.png")
        app.start()  # back: the next answer ends it
        wait_until(lambda: not banner.is_visible(), 20, "the banner gone once the server answers again")
        assert page.evaluate("getComputedStyle(document.querySelector('.wall-map')).opacity") == "1"
    finally:
        assert app.stop() == 0
