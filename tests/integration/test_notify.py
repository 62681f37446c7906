"""Notifications off the screen (issue 24), each channel a real protocol against a real local endpoint: a red
incident reaches a signed webhook (the signature checked by the test's receiver), an SMTP server over STARTTLS with
a password, and stand-ins for the WeCom, DingTalk and Feishu robots (their own signatures checked) within 5 s of
its alert; a task raised up the chain is told once; a dead endpoint is given up after its tries, visibly,
replayable, and slows neither ingest nor the other channels."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import ssl
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.chain import Chain
from alerts.org import Organisation
from alerts.rules import load_rule_file
from alerts.working_time import WorkingCalendar
from cityops import DEMO_DIR
from cityops.broker import free_port
from notify import channels
from notify.notifier import Notifier
from notify.settings import NotifySettings
from store import incidents as incident_store
from store import notifications as outbox
from tests.harness import make_pki, wait_until
from tests.rule_city import City

pytestmark = pytest.mark.integration
SECRET = "whsec-test-1234567890"
ROBOT_SECRET = "SEC-robot-secret"


class Endpoint:
    """A local HTTP endpoint standing in for a receiver: keeps what it got; `check` says whether it takes it."""

    def __init__(self, check=lambda handler, body: (200, b'{"errcode":0,"errmsg":"ok"}'), delay: float = 0):
        self.got: list[tuple[dict, bytes, str]] = []
        self.check, self.delay = check, delay
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(endpoint.delay)
                status, answer = endpoint.check(self, body)
                endpoint.got.append((self.headers, body, self.path))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()


def webhook_check(handler, body: bytes):
    stamp = handler.headers[channels.TIMESTAMP]
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(handler.headers.get(channels.SIGNATURE, ""), expected)
    return (200, b"{}") if ok else (401, b"{}")


def dingtalk_check(handler, body: bytes):
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
    stamp, sign = query["timestamp"][0], query["sign"][0]
    mac = hmac.new(ROBOT_SECRET.encode(), f"{stamp}\n{ROBOT_SECRET}".encode(), hashlib.sha256).digest()
    ok = sign == base64.b64encode(mac).decode() and abs(int(stamp) / 1000 - time.time()) < 3600
    return 200, (b'{"errcode":0,"errmsg":"ok"}' if ok else b'{"errcode":310000,"errmsg":"sign not match"}')


def feishu_check(handler, body: bytes):
    sent = json.loads(body)
    mac = hmac.new(f"{sent['timestamp']}\n{ROBOT_SECRET}".encode(), b"", hashlib.sha256).digest()
    ok = sent["sign"] == base64.b64encode(mac).decode() and sent["msg_type"] == "interactive"
    return 200, (b'{"code":0,"msg":"success"}' if ok else b'{"code":19021,"msg":"sign match fail"}')


class Mailbox:
    """An SMTP server that takes mail only over STARTTLS and only after a password."""

    def __init__(self, pki):
        self.mails: list[tuple[str, bytes, bool]] = []
        self.logins: list[tuple[str, bytes]] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki / "server.crt", pki / "server.key")
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.mails.append((envelope.rcpt_tos[0], envelope.content, session.ssl is not None))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            box.logins.append((mechanism, auth_data.login))
            return AuthResult(success=auth_data.password == b"mail-password")

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, authenticator=authenticator,
                                     auth_required=True)  # fmt: skip
        self.controller.start()

    def close(self):
        self.controller.stop()


@pytest.fixture
def endpoints(tmp_path, monkeypatch):
    pki = make_pki(tmp_path / "pki")
    parts = {"webhook": Endpoint(webhook_check), "wecom": Endpoint(), "dingtalk": Endpoint(dingtalk_check),
             "feishu": Endpoint(feishu_check), "slow": Endpoint(delay=30)}  # fmt: skip
    mailbox = Mailbox(pki)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_ROBOT_SECRET", ROBOT_SECRET)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "mail-password")
    monkeypatch.setenv("TEST_WECOM_URL", parts["wecom"].url + "?key=k")
    yield parts, mailbox, pki
    for part in parts.values():
        part.close()
    mailbox.close()


def settings(parts, mailbox, pki, dead_port: int) -> NotifySettings:
    return NotifySettings.model_validate({"poll_ms": 100, "attempts": 3, "base_url": "https://cityops.example",
                                          "channels": [
        {"id": "hook", "kind": "webhook", "url": parts["webhook"].url, "secret_env": "TEST_WEBHOOK_SECRET"},
        {"id": "wecom", "kind": "wecom", "url_env": "TEST_WECOM_URL"},
        {"id": "ding", "kind": "dingtalk", "url": parts["dingtalk"].url + "?access_token=t",
         "secret_env": "TEST_ROBOT_SECRET"},
        {"id": "lark", "kind": "feishu", "url": parts["feishu"].url, "secret_env": "TEST_ROBOT_SECRET",
         "language": "en"},
        {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": mailbox.port, "username": "cityops",
         "password_env": "TEST_SMTP_PASSWORD", "sender": "cityops@example.org", "ca_file": str(pki / "ca.crt")},
        {"id": "dead", "kind": "webhook", "url": f"http://127.0.0.1:{dead_port}/gone", "timeout_s": 1},
        {"id": "slow", "kind": "webhook", "url": parts["slow"].url, "timeout_s": 2},
    ]})  # fmt: skip


SUBSCRIPTIONS = """
subscriptions:
  - {unit: d130606, channel: hook, severity: [red]}
  - {unit: d130606, channel: wecom}
  - {unit: d130606, channel: ding, events: [incident_new, escalation]}
  - {unit: d130606, channel: lark, severity: [red, orange]}
  - {person: duty-130606, channel: mail, to: "duty@lianchi.example.org"}
  - {unit: d130606, channel: dead}
  - {unit: d130606, channel: slow}
  - {unit: t130606009, channel: wecom, events: [escalation]}
"""


RED_FIRE = """
rules:
  - id: fire-cluster
    domain: fire
    when:
      count: {event_type: hotspot, min: 3, within_km: 2, window: 1h}
    severity: red
    title: {zh_CN: "火点聚集", en: "Hotspot cluster"}
    message: {zh_CN: "{value} 个火点", en: "{value} hotspots"}
    unit: fire_brigade
"""


@pytest.fixture
def city(open_store, tmp_path, demo_regions):
    text = (DEMO_DIR / "org.yaml").read_text(encoding="utf-8") + SUBSCRIPTIONS
    org = Organisation.parse(text, "org.yaml", demo_regions)
    (tmp_path / "rules.yaml").write_text(RED_FIRE, encoding="utf-8")
    book = load_rule_file(tmp_path / "rules.yaml")
    city = City(open_store("n"), demo_regions, book.rules, book, org=org)
    city.org = org
    yield city
    city.close()


def hotspots(city: City, n: int = 3, first: int = 0, kind: str = "hotspot") -> None:
    inside = city.regions.get("130606009-G01").geometry.representative_point()
    for i in range(first, first + n):
        city.send({"type": "event", "id": f"h{i}", "domain": "fire", "event_type": kind,
                   "lon": inside.x + (i % 5) * 0.0003, "lat": inside.y})  # fmt: skip


def outbox_rows(city: City) -> list[dict]:
    return [dict(zip(("key", "event"), r, strict=True)) for r in city.store.cursor().execute(
        "SELECT key, event FROM notifications").fetchall()]  # fmt: skip


def delivered(city: City) -> dict[str, str]:
    return {d["channel"]: d["state"] for d in outbox.deliveries(city.store.cursor())}


def test_a_red_incident_reaches_every_channel_within_5_s_and_a_raise_is_told_once(city, endpoints):
    parts, mailbox, pki = endpoints
    notifier = Notifier(city.store, city.org, settings(parts, mailbox, pki, free_port()), "Asia/Shanghai")
    # Ingest with nobody to tell, as the baseline for ingest beside a dead and a slow endpoint.
    began = time.monotonic()
    hotspots(city, 40, first=100, kind="smoke")
    baseline = time.monotonic() - began
    notifier.start()
    try:
        city.at(hours=2)
        hotspots(city)
        city.tick()
        raised_at = time.monotonic()
        [incident] = incident_store.open_incidents(city.store.cursor())
        assert (incident["severity"], incident["centre_id"]) == ("red", "d130606")
        wanted = ("hook", "wecom", "ding", "lark", "mail")
        wait_until(lambda: all(delivered(city).get(c) == "sent" for c in wanted), 5, "every channel within 5 s",
                   every=0.05)  # fmt: skip
        print(f"sent on {len(wanted)} channels {time.monotonic() - raised_at:.2f} s after the alert")

        # The webhook's document, signed (the receiver refused anything else with 401).
        headers, body, _ = parts["webhook"].got[0]
        document = json.loads(body)
        assert (document["schema"], document["event"], document["severity"], document["incident_id"]) == (
            "cityops.notification/1", "incident_new", "red", incident["id"])  # fmt: skip
        assert document["title"] == {"zh_CN": "火点聚集", "en": "Hotspot cluster"}
        assert document["link"] == f"https://cityops.example/duty?incident={incident['id']}"
        assert channels.sign(SECRET, int(headers[channels.TIMESTAMP]), body) == headers[channels.SIGNATURE]
        # The robots' own formats; their signatures checked by the stand-ins.
        wecom = json.loads(parts["wecom"].got[0][1])
        assert wecom["msgtype"] == "markdown" and "火点聚集" in wecom["markdown"]["content"]
        assert "[红色] 新事件" in wecom["markdown"]["content"]
        assert json.loads(parts["dingtalk"].got[0][1])["markdown"]["title"] == "[红色] 新事件"
        card = json.loads(parts["feishu"].got[0][1])["card"]
        assert card["header"]["template"] == "red" and card["header"]["title"]["content"] == "[Red] New incident"
        # The mail: over STARTTLS, after the password.
        [(to, content, over_tls)] = mailbox.mails
        assert to == "duty@lianchi.example.org" and over_tls and mailbox.logins[0][1] == b"cityops"
        mail = email.message_from_bytes(content, policy=email.policy.default)
        assert mail["Subject"] == "[红色] 新事件: 火点聚集" and mail["From"] == "cityops@example.org"
        assert "https://cityops.example/duty?incident=" in mail.get_content()

        # One message per incident change: more hotspots join it, nothing more is sent.
        hotspots(city, 3, first=10)
        city.tick()
        time.sleep(1)
        assert len(parts["wecom"].got) == 1

        # A task not signed for in time is raised to the district: told once, though the district and the town
        # both subscribe the same robot to escalations, and however often the clock is checked.
        chain = Chain(city.store, city.org, WorkingCalendar.load(DEMO_DIR / "calendar.yaml", "Asia/Shanghai"))
        from tests.unit.test_chain import person

        task = chain.dispatch(person(city.org, "duty-130606"), incident["id"], to_unit="t130606009", now=city.now,
                              audit=None)  # fmt: skip
        for _ in range(3):
            chain.escalate(city.now + timedelta(minutes=20))
        wait_until(lambda: len(parts["wecom"].got) == 2, 5, "the escalation told", every=0.05)
        time.sleep(1)
        raised = [json.loads(b)["markdown"]["content"] for _, b, _ in parts["wecom"].got[1:]]
        assert len(raised) == 1 and "超时" in raised[0] and "永华街道综合治理中心" in raised[0], raised
        assert f"task:{task}:receipt:raised:d130606" in {n["key"] for n in outbox_rows(city)}

        # The dead endpoint: tried 3 times with backoff, given up, in the timeline, replayable.
        wait_until(lambda: delivered(city).get("dead") == "dead", 20, "the dead endpoint given up", every=0.2)
        timeline = incident_store.timeline(city.store.cursor(), incident["id"])
        failed = [e for e in timeline if e["action"] == "notify" and e["details"]["outcome"] == "failed"]
        assert failed and failed[0]["details"]["channel"] == "dead" and failed[0]["details"]["attempts"] == 3
        sent = {e["details"]["channel"] for e in timeline if e["action"] == "notify" and e["details"]["outcome"] ==
                "sent"}  # fmt: skip
        assert {"hook", "wecom", "ding", "lark", "mail"} <= sent
        from cityops.runtime import notifications_command  # what `cityops notifications` asks the server

        listed = notifications_command(city.store, {"action": "list", "state": "dead"})["deliveries"]
        assert [d["channel"] for d in listed] == ["dead"] and "Connection refused" in listed[0]["last_error"]
        assert notifications_command(city.store, {"action": "replay", "ids": []}) == {"replayed": 1}
        assert delivered(city)["dead"] == "pending"
        assert outbox.counts(city.store.cursor())["sent"] >= 6

        # Ingest beside the dead and the slow endpoint, measured against the baseline above.
        began = time.monotonic()
        hotspots(city, 40, first=200, kind="smoke")
        beside = time.monotonic() - began
        print(f"ingest of 40 events: {baseline:.2f} s alone, {beside:.2f} s beside a dead and a slow endpoint")
        assert beside < max(3 * baseline, 2.0), (baseline, beside)
    finally:
        notifier.stop()


def test_a_directive_and_its_chase_reach_the_receivers_robot_and_its_log(tmp_path, demo_regions, monkeypatch):
    """A directive to 莲池区 and the chase of its late receipt, each told to the district's robot, each delivery
    in the directive's log."""
    from alerts.directives import Directives
    from store import directives as directive_store
    from store.duckdb_engine import DuckDBStore
    from tests.unit.test_chain import person

    robot = Endpoint()
    monkeypatch.setenv("TEST_WECOM_URL", robot.url + "?key=k")
    org = Organisation.parse((DEMO_DIR / "org.yaml").read_text(encoding="utf-8")
                             + "subscriptions:\n  - {unit: d130606, channel: wecom, events: [directive, chase]}\n",
                             "org.yaml", demo_regions)  # fmt: skip
    store = DuckDBStore(tmp_path / "d.duckdb")
    notifier = Notifier(store, org, NotifySettings.model_validate(
        {"poll_ms": 100, "channels": [{"id": "wecom", "kind": "wecom", "url_env": "TEST_WECOM_URL"}]}),
        "Asia/Shanghai")  # fmt: skip
    notifier.start()
    try:
        directives = Directives(store, org)
        now = datetime.now(UTC)
        sent = directives.send(person(org, "duty"), receivers=["d130606", "d130602"], title="防汛IV级应急响应",
                               body="即时启动", answer="sign", deadline=now, now=now, audit=None)  # fmt: skip
        wait_until(lambda: len(robot.got) == 1, 5, "the directive told to 莲池区's robot", every=0.05)
        assert directives.chase(person(org, "duty"), sent, now + timedelta(minutes=1), audit=None)
        wait_until(lambda: len(robot.got) == 2, 5, "the chase told", every=0.05)
        contents = [json.loads(body)["markdown"]["content"] for _, body, _ in robot.got]
        assert "政令" in contents[0] and "催办" in contents[1] and all("防汛IV级应急响应" in c for c in contents)
        wait_until(lambda: len([e for e in directive_store.timeline(store.cursor(), sent)
                                if e["action"] == "notify"]) == 2, 5, "both deliveries in the log")  # fmt: skip
    finally:
        notifier.stop()
        robot.close()
        store.close()
