"""The real app for browser tests: `cityops run` as its own process, a real mosquitto, a DuckDB file."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import Page

from cityops import PROJECT_ROOT
from cityops.broker import free_port, wait_for_port
from dashboard.signin import DEMO_DISPLAY_TOKEN
from tests.app_config import config

LIANCHI = (115.4906, 38.8581)  # the city origin, in 莲池区 (130606)
_openers: dict[int, urllib.request.OpenerDirector] = {}


def http_session(port: int, user: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    """An HTTP client signed in through the sign-in form as a demo account (password demo-<name>)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"http://127.0.0.1:{port}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"name": user, "password": f"demo-{user}", "csrf_token": csrf})
    opener.open(f"http://127.0.0.1:{port}/login", data=data.encode(), timeout=10)
    return opener, jar


def callback_body(spec: dict, values: dict, changed: list[str]) -> bytes:
    """A callback request as Dash's renderer posts it: `spec` is the callback's entry in /_dash-dependencies,
    `values` the inputs' and states' values by "id.property", `changed` the inputs that fired."""
    fill = lambda items: [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]  # noqa: E731
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
               for o in spec["output"].strip(".").split("...")]  # fmt: skip
    return json.dumps({"output": spec["output"], "outputs": outputs, "inputs": fill(spec["inputs"]),
                       "state": fill(spec["state"]), "changedPropIds": changed}).encode()  # fmt: skip


def api(port: int, path: str) -> bytes:
    """GET an API path as the demo supervisor (signed in once per app)."""
    if port not in _openers:
        _openers[port] = http_session(port, "supervisor")[0]
    with _openers[port].open(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read()


def health(port: int) -> dict:
    return json.loads(api(port, "/api/health"))


def signed_in(browser, port: int, user: str = "supervisor", **options) -> Page:
    """A page of its own browser context, signed in as one of the demo accounts (password demo-<name>)."""
    page = browser.new_page(**options)
    page.goto(f"http://127.0.0.1:{port}/login")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", f"demo-{user}")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def wall_display(browser, port: int, **options) -> Page:
    """A page of its own browser context holding the demo wall's display token, as a wall's screen does."""
    page = browser.new_page(**options)
    page.goto(f"http://127.0.0.1:{port}/wall?token={DEMO_DISPLAY_TOKEN}")
    return page


def wait_until(predicate, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(autouse=True)
def close_pages(chromium):
    """Every page a test opened is closed after it: a wall left open keeps refreshing against its stopped app, and a
    dozen of them took the machine's two cores from the tests that followed."""
    yield
    for context in chromium.contexts:
        context.close()


@pytest.fixture
def app(request, tmp_path, mosquitto):
    """`cityops run` with the test config; `@pytest.mark.app_env(CITYOPS_WEB__WALL_ROTATE_S="2")` overrides it."""
    marker = request.node.get_closest_marker("app_env")
    overrides = marker.kwargs if marker else {}
    web_port = free_port()
    log = open(tmp_path / "cityops.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "run", "--config", str(config(tmp_path, mosquitto.port, web_port))],
        stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **overrides},
    )  # fmt: skip
    try:
        wait_for_port(web_port, timeout=30)
    except TimeoutError:
        process.kill()
        raise AssertionError((tmp_path / "cityops.log").read_text()) from None
    yield web_port
    process.terminate()
    try:
        code = process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave it running under the next tests
        code = process.wait(5)
    finally:
        log.close()
    assert code == 0, (
        f"cityops did not stop cleanly on SIGTERM ({code}):\n{(tmp_path / 'cityops.log').read_text()[-3000:]}"
    )


@pytest.fixture
def publisher(mosquitto):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test-pub", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


def send(client: mqtt.Client, topic: str, item: dict) -> None:
    client.publish(topic, json.dumps(item, ensure_ascii=False).encode(), qos=1).wait_for_publish(10)
