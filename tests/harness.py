"""What the tests and the benchmarks share to drive a running CityOps from outside: the browser, HTTP sessions
signed in as the demo's accounts, Dash callback requests, MQTT publishing, `cityops run` as a process to start,
kill and restart, and waiting for something to become true. The conftest files hold only fixtures, built on these."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import duckdb
import paho.mqtt.client as mqtt
from playwright.sync_api import Page

from cityops.broker import free_port, wait_for_port
from dashboard.signin import DEMO_DISPLAY_TOKEN
from tests.app_config import config

ROOT = Path(__file__).resolve().parents[1]  # the checkout: `cityops run` is started from here
CHROMIUM = "/usr/bin/chromium"
# Chromium must not try to reach the internet: the network is closed here (STACK-NOTES).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
]
LIANCHI = (115.4906, 38.8581)  # the city origin, in 莲池区 (130606)
_openers: dict[int, urllib.request.OpenerDirector] = {}


Session = tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]


def login_form(port: int) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar, str]:
    """An HTTP client that has the sign-in form open: its cookies, and the form's CSRF token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"http://127.0.0.1:{port}/login", timeout=10).read().decode()
    return opener, jar, re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def http_session(port: int, user: str) -> Session:
    """An HTTP client signed in through the sign-in form as a demo account (password demo-<name>)."""
    opener, jar, csrf = login_form(port)
    data = urllib.parse.urlencode({"name": user, "password": f"demo-{user}", "csrf_token": csrf})
    opener.open(f"http://127.0.0.1:{port}/login", data=data.encode(), timeout=10)
    return opener, jar


def display_session(port: int) -> Session:
    """An HTTP client holding the demo wall's display token, as a wall's browser does after its link."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"http://127.0.0.1:{port}/wall?token={DEMO_DISPLAY_TOKEN}", timeout=30).read()
    return opener, jar


def cookie(jar: http.cookiejar.CookieJar, name: str) -> str:
    return next(c.value for c in jar if c.name == name)


def callback_body(spec: dict, values: dict, changed: list[str]) -> bytes:
    """A callback request as Dash's renderer posts it: `spec` is the callback's entry in /_dash-dependencies,
    `values` the inputs' and states' values by "id.property", `changed` the inputs that fired."""
    fill = lambda items: [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]  # noqa: E731
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
               for o in spec["output"].strip(".").split("...")]  # fmt: skip
    if not spec["output"].startswith(".."):  # one output is sent as itself, several ("..a.b...c.d..") as a list
        outputs = outputs[0]
    return json.dumps({"output": spec["output"], "outputs": outputs, "inputs": fill(spec["inputs"]),
                       "state": fill(spec["state"]), "changedPropIds": changed}).encode()  # fmt: skip


def dependencies(opener: urllib.request.OpenerDirector, port: int) -> list[dict]:
    """The registered callbacks as the server tells a signed-in page: /_dash-dependencies."""
    with opener.open(f"http://127.0.0.1:{port}/_dash-dependencies", timeout=10) as response:
        return json.loads(response.read())


def post_callback(opener: urllib.request.OpenerDirector, port: int, csrf: str, body: dict) -> tuple[int, str]:
    """POST a callback request (`body`: as `callback_body` makes it, parsed) with the page's CSRF token; the status
    and the answer's text, a refusal's as well."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_dash-update-component", json.dumps(body).encode(),
                                     {"Content-Type": "application/json", "X-CSRFToken": csrf})  # fmt: skip
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


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


def make_pki(folder: Path) -> Path:
    """A CA of the test's own and a server certificate it signed for 127.0.0.1 and localhost (ca.crt, server.crt,
    server.key in `folder`), made by openssl."""
    if shutil.which("openssl") is None:
        raise AssertionError("openssl is missing: run `make test` as root, or `sudo apt-get install openssl`")
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=CityOps test CA",
            "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip
    return folder


def small_targets(page) -> list[str]:
    """What a finger must hit (links, buttons, fields, map controls) that is smaller than 44 px either way."""
    return page.evaluate("""
        Array.from(document.querySelectorAll(
            'a, button, [role=button], select, textarea, input:not([type=hidden])'))
          .filter(el => el.offsetParent !== null)
          .map(el => [el, el.getBoundingClientRect()])
          .filter(([el, r]) => r.height < 44 || r.width < 44)
          .map(([el, r]) => `${el.tagName} "${el.textContent.trim().slice(0, 20)}" ${r.width | 0}×${r.height | 0}`)
    """)


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


def send(client: mqtt.Client, topic: str, item: dict) -> None:
    client.publish(topic, json.dumps(item, ensure_ascii=False).encode(), qos=1).wait_for_publish(10)


class CityOps:
    """One configuration, run, killed and run again as often as a test likes."""

    def __init__(self, tmp_path: Path, mqtt_port: int, env: dict[str, str] | None = None, **configured):
        """`configured`: app_config.config's keywords (`rules`, `feeds`, `store`, `node` …)."""
        self.web_port = free_port()
        self.config = config(tmp_path, mqtt_port, self.web_port, **configured)
        self.log_path = tmp_path / "cityops.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> float:
        """Start and wait until it serves; returns how long that took."""
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts + 1} ---\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cityops.cli", "run", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env,
            )  # fmt: skip
        try:
            wait_for_port(self.web_port, timeout=60)
        except TimeoutError:
            self.kill()
            raise AssertionError(self.log_path.read_text()[-3000:]) from None
        self.starts += 1
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye to the broker."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is not None:
            return self.process.returncode  # it ended by itself: a crash must not pass as a clean stop
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("cityops did not stop on SIGTERM") from None

    def health(self) -> dict:
        return health(self.web_port)


def publisher(port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def observation(n: int, entity: str = "g1") -> bytes:
    """A reading with its own message id and time, so exactly-once can be counted by id."""
    seconds = n * 0.01
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_795_000_000 + seconds)) + f".{n % 100:02d}Z"
    body = {"type": "observation", "entity": entity, "id": f"m{n}", "ts": ts, "values": {"water_level": 5 + n % 5}}
    return json.dumps(body).encode()


class Stream:
    """Readings m0 … m{messages-1} of gauge g1 (`observation`), or what `message(n)` gives (a topic and a payload),
    published with QoS 1 at `rate` a second by a thread of its own, until `stop`; `published` says how many so far.
    `also(n)` is called before message n (more messages of a test's)."""

    def __init__(self, client: mqtt.Client, messages: int, rate: float, pace_every: int = 1000,
                 also: Callable[[int], None] | None = None,
                 message: Callable[[int], tuple[str, bytes]] | None = None):  # fmt: skip
        self.client, self.messages, self.rate, self.pace_every = client, messages, rate, pace_every
        self.also = also or (lambda n: None)
        self.message = message or (lambda n: ("test/flood/obs/g1", observation(n)))
        self.published = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(10)

    def _run(self) -> None:
        began = time.monotonic()
        for n in range(self.messages):
            if self._stopped.is_set():
                return
            self.also(n)
            self.client.publish(*self.message(n), qos=1)
            self.published = n + 1
            if n % self.pace_every == self.pace_every - 1:
                time.sleep(max(0.0, began + self.published / self.rate - time.monotonic()))


def publish_gauge(client: mqtt.Client, gid: str = "g1", name: str = "G1", where: tuple[float, float] = LIANCHI,
                  level: float | None = None) -> None:  # fmt: skip
    """A river gauge of the test configuration's flood feed (g1, which `observation` readings are about), and one
    water level if given."""
    send(client, f"test/flood/entity/{gid}", {"type": "entity", "id": gid, "domain": "flood", "kind": "river_gauge",
                                              "name": name, "lon": where[0], "lat": where[1]})  # fmt: skip
    if level is not None:
        send(client, f"test/flood/obs/{gid}", {"type": "observation", "entity": gid, "values": {"water_level": level}})


def stored_readings(store_path: Path) -> tuple[int, int]:
    """Observations in the (stopped) store: rows, and distinct message ids; exactly once means the two are equal."""
    with duckdb.connect(str(store_path), read_only=True) as db:
        return db.execute("SELECT count(*), count(DISTINCT msg_id) FROM observations").fetchone()
