"""A wall's display link in a real browser: opened on the wall's own machine it shows the wall at once; followed
from another site, or where someone is signed in, it asks first and changes nothing until asked."""

from __future__ import annotations

import http.server
import threading

import pytest

from dashboard.guard import DISPLAY_COOKIE, SESSION_COOKIE
from dashboard.signin import DEMO_DISPLAY_TOKEN
from tests.harness import signed_in, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def other_site(app):
    """A page on another site (localhost, where CityOps is 127.0.0.1) that links to the wall's display link."""
    link = f"http://127.0.0.1:{app}/wall?token={DEMO_DISPLAY_TOKEN}"

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f'<!doctype html><a id="lure" href="{link}">cat pictures</a>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_port}/"
    server.shutdown()


def cookies(page) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def test_a_link_from_another_site_asks_before_a_browser_becomes_a_wall(app, chromium, other_site):
    duty = signed_in(chromium, app, "duty")
    duty.goto(other_site)
    duty.click("#lure")
    duty.wait_for_load_state()
    assert "/wall" in duty.url and duty.locator("form button[type=submit]").is_visible()
    assert "duty" in duty.locator("main").inner_text()  # says who would be signed out
    assert DISPLAY_COOKIE not in cookies(duty) and SESSION_COOKIE in cookies(duty)
    duty.goto(f"http://127.0.0.1:{app}/duty")
    assert "/login" not in duty.url  # still signed in: the link changed nothing
    # A form posted from the other site carries no token of this page: it changes nothing either.
    duty.goto(other_site)
    with duty.expect_navigation():
        duty.evaluate(
            """(target) => { const f = document.createElement('form'); f.method = 'post'; f.action = target;
            for (const [k, v] of [['token', 'demo-wall'], ['csrf_token', 'guess']]) {
                const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
            document.body.appendChild(f); f.submit(); }""",
            f"http://127.0.0.1:{app}/wall",
        )
    assert DISPLAY_COOKIE not in cookies(duty) and SESSION_COOKIE in cookies(duty)
    # Asked and answered on CityOps' own page, the browser becomes the wall.
    duty.goto(other_site)
    duty.click("#lure")
    duty.click("form button[type=submit]")
    wait_until(lambda: duty.locator("#wall-map").count() > 0, 30, "the wall after confirming")
    assert DISPLAY_COOKIE in cookies(duty) and SESSION_COOKIE not in cookies(duty)


def test_the_link_opened_on_the_walls_own_machine_shows_the_wall_at_once(app, chromium):
    wall = chromium.new_page()
    wall.goto(f"http://127.0.0.1:{app}/wall?token={DEMO_DISPLAY_TOKEN}")  # typed in, or a kiosk's start command
    wait_until(lambda: wall.locator("#wall-map").count() > 0, 30, "the wall")
    assert "token" not in wall.url and DISPLAY_COOKIE in cookies(wall)
