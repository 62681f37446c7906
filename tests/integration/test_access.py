"""Who may see and do what, through the real app's HTTP interface (Flask's client on the real app, a DuckDB file,
the SQLite accounts file): every route and every registered callback refused without a session, the role × action
matrix, district scope, the wall's display token, CSRF, sign-in locks, session expiry and the security headers."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

import pytest

from cityops.config import load
from dashboard import guard, signin
from dashboard.app import create_app, stop_app
from store import alerts as alert_store
from store import audit
from store.accounts import Accounts
from store.duckdb_engine import DuckDBStore
from tests.alert_rows import new_alert
from tests.app_config import config
from tests.harness import wait_until

LIANCHI, JINGXIU = "130606", "130602"  # the demo leader's district, and another
ROLES = ("admin", "supervisor", "duty", "leader", "viewer")


@pytest.fixture
def site(tmp_path):
    settings = load(config(tmp_path, mqtt_port=1883, web_port=8050))
    settings.auth.demo_accounts = True
    store = DuckDBStore(settings.store.path)
    accounts = Accounts(settings.auth.path)
    signin.bootstrap(accounts, demo=True)
    app = create_app(settings, store, settings.city.regions(), accounts)
    admin = Browser(app)
    admin.sign_in("admin")
    admin.get("/_dash-layout")  # Dash completes its callback map at the first request it serves
    yield Site(app, store, accounts, settings)
    stop_app(app)
    store.close()
    accounts.close()


class Site:
    def __init__(self, app, store, accounts, settings):
        self.app, self.store, self.accounts, self.settings = app, store, accounts, settings

    def browser(self, user: str | None = None) -> Browser:
        browser = Browser(self.app)
        if user:
            browser.sign_in(user)
        return browser

    def callback(self, part: str) -> str:
        """The key of the one registered callback whose output names `part`, or which has `part` as an input."""
        callbacks = self.app.callback_map.items()
        keys = [k for k, _ in callbacks if part in {o.split("@")[0] for o in k.strip(".").split("...")}] or [
            k for k, spec in callbacks if part in {f"{i['id']}.{i['property']}" for i in spec["inputs"]}
        ]
        assert len(keys) == 1, keys
        return keys[0]

    def alert(self, district: str | None, state: str = "new") -> int:
        at = datetime.now(UTC)
        cur = self.store.cursor()
        alert_id = new_alert(self.store, district=district, state=state, severity="red", rule_id="gauge-high", at=at)
        alert_store.log(cur, alert_id, at, "rules", "fire", None, state)
        self.store.bump_version()  # as the rule engine does: the views' snapshot is computed again
        return alert_id

    def state(self, alert_id: int) -> str:
        return alert_store.get(self.store.cursor(), alert_id)["state"]

    def audited(self, **match) -> list[audit.Entry]:
        return [e for e in audit.search(self.accounts, limit=None)
                if all(getattr(e, k) == v for k, v in match.items())]  # fmt: skip


class Browser:
    """One browser's cookies, and the CSRF token its pages would send."""

    def __init__(self, app, base_url: str = "http://localhost"):
        self.app = app
        self.client = app.server.test_client()
        self.base_url = base_url

    def get(self, path: str, **kw):
        return self.client.get(path, base_url=self.base_url, **kw)

    def post(self, path: str, **kw):
        return self.client.post(path, base_url=self.base_url, **kw)

    def sign_in(self, name: str, password: str | None = None):
        """The sign-in form, filled and sent; the answer in English."""
        page = self.get("/login?lang=en")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self.post("/login?lang=en", data={"name": name, "password": password or f"demo-{name}",
                                                 "csrf_token": csrf})  # fmt: skip

    @property
    def csrf(self) -> str:
        cookie = self.client.get_cookie(guard.CSRF_COOKIE)
        return cookie.value if cookie else ""

    def call(self, key: str, inputs: dict | None = None, state: dict | None = None, csrf: str | None = None,
             headers: dict | None = None):  # fmt: skip
        """POST a callback as the Dash renderer does: its outputs, inputs and states with values."""
        spec = self.app.callback_map[key]
        outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
                   for part in key.strip(".").split("...")]  # fmt: skip
        values = {**(inputs or {}), **(state or {})}

        def filled(items):
            return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in items]

        body = {
            "output": key,
            "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": filled(spec["inputs"]),
            "state": filled(spec["state"]),
            "changedPropIds": list(inputs or {}),
        }
        sent = {"X-CSRFToken": self.csrf if csrf is None else csrf, **(headers or {})}
        return self.post("/_dash-update-component", json=body, headers=sent)


def _url(rule) -> str:
    values = {"alert_id": 1, "level": "district", "domain": "flood", "path": "duty", "region_id": "city",
              "entity_id": "x", "filename": "cityops.css", "package_name": "dash", "handover_id": 1,
              "report_id": 1, "kind": "pdf"}  # fmt: skip
    return rule.build({arg: values.get(arg, "x") for arg in rule.arguments}, append_unknown=False)[1]


def test_every_route_and_every_callback_is_refused_without_a_session(site):
    anonymous = site.browser()
    checked = 0
    for rule in site.app.server.url_map.iter_rules():
        path = _url(rule)
        if path.startswith(guard.PUBLIC):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = anonymous.client.open(path, method=method)
            refused = response.status_code == 401 or (
                response.status_code == 302 and response.headers["Location"].startswith("/login")
            )
            assert refused, f"{method} {path} answered {response.status_code} without a session"
            checked += 1
    assert checked >= 12
    keys = list(site.app.callback_map)
    assert len(keys) >= 20  # every page's callbacks and Dash's page router
    for key in keys:
        response = anonymous.call(key)
        assert response.status_code == 401, f"callback {key} answered {response.status_code} without a session"
    # Every callback is claimed by a page, or is Dash's own (its page router, checked by the path it renders, and
    # the page title, which runs in the browser and is refused if posted).
    claimed = site.app.server.extensions["cityops_guard"].callback_pages
    assert {k for k in keys if not k.lstrip(".").startswith("_pages_")} == set(claimed)


def test_each_role_opens_what_it_may(site):
    may = {
        "/wall": {"admin", "supervisor", "duty", "viewer"},
        "/duty": set(ROLES),
        "/tablet": set(ROLES),
        "/admin/feeds": {"admin"},
        "/admin/audit": {"admin"},
        "/api/audit.csv": {"admin"},
        "/api/health": {"admin", "supervisor"},
        "/api/layers/regions/district.geojson": {"admin", "supervisor", "duty", "viewer"},
        "/api/wall/news?since=stale": {"admin", "supervisor", "duty", "viewer"},  # answered at once: news
        "/history": {"supervisor", "duty", "leader", "viewer"},
        "/api/history.csv": {"supervisor", "duty", "leader", "viewer"},
        "/api/history.xlsx": {"supervisor", "duty", "leader", "viewer"},
        "/figures": {"supervisor", "duty", "leader", "viewer"},
        "/scorecards": {"supervisor", "duty", "viewer"},  # the whole city's: not a district's leader
        "/handover": {"supervisor", "duty"},
        "/reports": {"supervisor", "duty", "leader", "viewer"},
    }
    for user in ROLES:
        browser = site.browser(user)
        for path, allowed in may.items():
            status = browser.get(path).status_code
            assert (status == 200) == (user in allowed), f"{user} {path}: {status}"
        # A page's content comes through Dash's router callback: it is held to the same rule as the URL.
        router = site.callback("_pages_location.pathname")
        rendered = browser.call(router, {"_pages_location.pathname": "/admin/audit", "_pages_location.search": ""})
        assert (rendered.status_code == 200) == (user == "admin"), f"{user} rendering /admin/audit"
    assert site.audited(actor="viewer", outcome="refused")  # refusals are audited


def test_alert_actions_by_role_and_district(site):
    bulk = site.callback("duty-bulk.n_clicks")  # the duty desk's "acknowledge the marked alerts"
    for user, allowed in (("admin", False), ("viewer", False), ("leader", False), ("duty", True),
                          ("supervisor", True)):  # fmt: skip
        alert_id = site.alert(LIANCHI)
        browser = site.browser(user)
        response = browser.call(bulk, {"duty-bulk.n_clicks": 1}, {"duty-checked.data": [alert_id],
                                                                  "duty-lang.data": "en"})  # fmt: skip
        assert response.status_code == 200, (user, response.text)
        assert site.state(alert_id) == ("acknowledged" if allowed else "new"), user
        expected = "ok" if allowed else "refused"
        assert site.audited(actor=user, action="alert acknowledge", target=f"alert {alert_id}", outcome=expected)
        if allowed:  # the timeline names the person, not "the duty desk"
            assert alert_store.timeline(site.store.cursor(), alert_id)[-1]["actor"] == user

    # A district leader approves (closes) a resolved alert in their district, not in another.
    confirm = site.callback("duty-confirm.n_clicks")  # the action dialog's OK
    leader = site.browser("leader")
    own, other = site.alert(LIANCHI, "resolved"), site.alert(JINGXIU, "resolved")
    for alert_id, closed in ((own, True), (other, False)):
        response = leader.call(
            confirm,
            {"duty-confirm.n_clicks": 1},
            {"duty-dialog-action.data": "close", "duty-selected.data": alert_id, "duty-lang.data": "en"},
        )
        assert response.status_code == 200, response.text
        assert site.state(alert_id) == ("closed" if closed else "resolved")
    refused = site.audited(actor="leader", action="alert close", target=f"alert {other}", outcome="refused")
    assert refused and JINGXIU in refused[0].detail


def test_a_district_leader_sees_only_their_districts(site):
    mine, theirs = site.alert(LIANCHI), site.alert(JINGXIU)
    leader, duty = site.browser("leader"), site.browser("duty")
    queue = site.callback("duty-queue.children")
    args = ({"duty-tick.n_intervals": 1}, {"duty-lang.data": "en"})

    def rows(browser) -> set[int]:
        return {int(i) for i in re.findall(r'"data-id":\s*"(\d+)"', browser.call(queue, *args).text)}

    wait_until(lambda: rows(duty) == {mine, theirs}, 10, "both alerts in the duty officer's queue")
    assert rows(leader) == {mine}
    assert leader.get(f"/api/alerts/{theirs}.cap").status_code == 404
    assert leader.get(f"/api/alerts/{mine}.cap").status_code == 200
    # The tablet's refresh carries its district in the page's store: a forged one gets nothing, and is audited.
    tablet = site.callback("tablet-figures.children")
    forged = leader.call(tablet, {"tablet-tick.n_intervals": 1}, {"tablet-key.data": {"district": JINGXIU,
                                                                                       "lang": "en"}})  # fmt: skip
    assert forged.status_code == 204
    assert site.audited(actor="leader", target=f"tablet {JINGXIU}", outcome="refused")
    own = leader.call(tablet, {"tablet-tick.n_intervals": 1}, {"tablet-key.data": {"district": LIANCHI,
                                                                                    "lang": "en"}})  # fmt: skip
    assert own.status_code == 200


def test_the_wall_token_opens_the_wall_only_and_stops_when_revoked(site):
    token = site.accounts.add_display("hall", "test")
    wall = site.browser()
    opened = wall.get(f"/wall?token={token}&lang=en")
    assert opened.status_code == 302 and opened.headers["Location"] == "/wall?lang=en"  # the token leaves the URL
    assert "HttpOnly" in next(c for c in opened.headers.getlist("Set-Cookie") if c.startswith(guard.DISPLAY_COOKIE))
    assert wall.get("/wall").status_code == 200
    assert wall.get("/api/layers/regions/district.geojson").status_code == 200
    assert wall.get("/api/wall/news?since=stale").status_code == 200
    for path in ("/duty", "/tablet", "/admin/feeds", "/admin/audit", "/api/health", "/api/alerts/1.cap",
                 "/region/city", "/account/password"):  # fmt: skip
        assert wall.get(path).status_code == 403, path
    refresh = site.callback("wall-figures.children")
    wall_state = {"wall-lang.data": "en", "wall-layer-keys.data": {}}
    assert wall.call(refresh, {"wall-tick.n_intervals": 1}, wall_state).status_code == 200
    assert wall.call(site.callback("duty-queue.children"), {"duty-tick.n_intervals": 1}).status_code == 403
    assert wall.post("/logout", data={"csrf_token": wall.csrf}).status_code in (302, 403)
    # It never times out by inactivity: a day later it still shows.
    display_id = next(d.id for d in site.accounts.displays() if d.name == "hall")
    site.accounts.revoke_display(display_id)
    assert wall.call(refresh, {"wall-tick.n_intervals": 2}, wall_state).status_code == 401  # the next refresh
    back = wall.get("/wall")
    assert back.status_code == 302 and "reason=display" in back.headers["Location"]
    assert site.browser().get(f"/wall?token={token}").headers["Location"] == "/login?reason=display"


def test_walls_wait_for_news_and_no_more_of_them_than_half_the_web_threads(site):
    display = site.accounts.add_display("hall", "test")
    walls = [site.browser() for _ in range(site.settings.web.threads // 2 + 1)]
    for wall in walls:
        wall.get(f"/wall?token={display}")
    snapshots = site.app.server.extensions["cityops_snapshots"]
    answers: dict[int, tuple[int, dict, float]] = {}

    def wait(i: int) -> None:
        response = walls[i].get(f"/api/wall/news?since={shown}")
        answers[i] = (response.status_code, response.json, time.monotonic())

    # A snapshot is also made again as it ages (AGE_LIMIT_S), with a new key that answers the waiting walls: on a
    # loaded machine that can come before they all wait, and then they are set waiting again.
    for _ in range(5):
        answers.clear()
        shown = walls[0].get("/api/wall/news?since=stale").json["key"]
        waiting = [threading.Thread(target=wait, args=(i,)) for i in range(len(walls) - 1)]
        for thread in waiting:
            thread.start()
        wait_until(lambda: snapshots.stats()["walls_waiting"] == len(walls) - 1 or answers, 10,
                   "every wall but the last waiting")  # fmt: skip
        if not answers:
            break
        for thread in waiting:
            thread.join(30)
    else:
        raise AssertionError("the walls never all waited at once: a new snapshot came each time")
    wait(len(walls) - 1)
    assert answers.pop(len(walls) - 1)[0] == 429, "one wall more than the limit keeps to its tick"
    assert not answers, "the others are still waiting: nothing new yet"
    changed = time.monotonic()
    site.alert(LIANCHI)  # an alert is raised: a new data version, then a new snapshot
    for thread in waiting:
        thread.join(10)
    assert sorted(answers) == list(range(len(waiting)))
    for status, body, at in answers.values():
        assert status == 200 and body["key"] != shown
        assert at - changed < 5, "told when the snapshot changed, not at the end of the wait"


def test_csrf_and_origin_are_checked_on_every_state_changing_request(site):
    duty = site.browser("duty")
    alert_id = site.alert(LIANCHI)
    bulk = site.callback("duty-bulk.n_clicks")
    args = ({"duty-bulk.n_clicks": 1}, {"duty-checked.data": [alert_id], "duty-lang.data": "en"})
    assert duty.call(bulk, *args, csrf="").status_code == 403
    assert duty.call(bulk, *args, csrf="forged").status_code == 403
    assert duty.call(bulk, *args, headers={"Origin": "https://evil.example"}).status_code == 403
    assert site.state(alert_id) == "new"
    assert duty.call(bulk, *args).status_code == 200
    assert site.state(alert_id) == "acknowledged"
    # The sign-in form carries its own token: a form posted from elsewhere does not sign in.
    stranger = site.browser()
    refused = stranger.post("/login", data={"name": "duty", "password": "demo-duty", "csrf_token": "x"})
    assert refused.status_code == 401 and stranger.client.get_cookie(guard.SESSION_COOKIE) is None


def test_guessing_slows_down_and_is_audited_and_a_reset_ends_the_waits(site):
    site.settings.auth.slow_after = 2  # then waits of 1, 2 … s
    browser = site.browser()
    outcomes = []
    for _ in range(4):
        page = browser.sign_in("duty", "wrong password")
        outcomes.append("wait" if "Wait" in page.text else "wrong")
    assert outcomes == ["wrong", "wrong", "wait", "wait"]  # a try too soon after failures is not even checked
    assert "Wait" in browser.sign_in("duty", "demo-duty").text  # the right password too, while the wait lasts
    assert browser.client.get_cookie(guard.SESSION_COOKIE) is None
    assert len(site.audited(action="sign in", target="duty", outcome="refused")) == 5
    site.accounts.reset_password("duty")  # an admin's reset ends the waits at once
    assert "Wrong user name or password" in browser.sign_in("duty", "demo-duty").text  # checked, no wait


def test_a_session_ends_after_inactivity_but_not_by_its_own_refreshes(site):
    site.settings.auth.idle_minutes = 0.05  # 3 s
    duty = site.browser("duty")
    tick = site.callback("duty-queue.children")
    args = ({"duty-tick.n_intervals": 1}, {"duty-lang.data": "en"})
    for _ in range(4):  # refreshes on an interval, nobody at the keyboard: they do not keep the session open,
        # whatever the browser says of its user
        assert duty.call(tick, *args, headers={"X-CityOps-Idle-S": "0"}).status_code == 200
        time.sleep(0.6)
    time.sleep(1.0)  # 3.4 s since the last click (signing in)
    assert duty.call(tick, *args).status_code == 401
    page = duty.get("/duty")
    assert page.status_code == 302 and "reason=expired" in page.headers["Location"]
    active = site.browser("duty")
    detail = site.callback("duty-summary.children")
    for _ in range(6):  # someone working, for longer than the limit: an alert picked in the queue each second
        assert active.call(detail, {"duty-selected.data": None}, {"duty-lang.data": "en"}).status_code == 200
        assert active.call(tick, *args).status_code == 200
        time.sleep(1)


def test_a_one_time_password_must_be_changed_first(site):
    password = site.accounts.add("newcomer", "viewer")
    browser = site.browser()
    signed = browser.sign_in("newcomer", password)
    assert signed.headers["Location"] == "/account/password"
    assert browser.get("/wall").headers["Location"] == "/account/password"
    assert browser.call(site.callback("wall-figures.children"), {"wall-tick.n_intervals": 1}).status_code == 403
    short = browser.post("/account/password", data={"current": password, "new": "short", "repeat": "short",
                                                    "csrf_token": browser.csrf})  # fmt: skip
    assert short.status_code == 400
    new = "a much longer passphrase"
    done = browser.post("/account/password", data={"current": password, "new": new, "repeat": new,
                                                   "csrf_token": browser.csrf})  # fmt: skip
    assert done.status_code == 302
    assert browser.get("/wall").status_code == 200
    assert site.audited(actor="newcomer", action="password change")


def test_cookies_and_security_headers(site):
    plain = site.browser()
    page = plain.get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    secure = Browser(site.app, base_url="https://localhost")
    cookies = secure.sign_in("duty").headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith(guard.SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" in session
    csrf = next(c for c in cookies if c.startswith(guard.CSRF_COOKIE + "="))
    assert "SameSite=Strict" in csrf and "Secure" in csrf  # readable by the page, which sends it back as a header
    assert "Secure" not in next(c for c in site.browser().sign_in("duty").headers.getlist("Set-Cookie")
                                if c.startswith(guard.SESSION_COOKIE + "="))  # fmt: skip


def test_sign_out_ends_the_session(site):
    duty = site.browser("duty")
    assert duty.get("/duty").status_code == 200
    assert duty.post("/logout", data={"csrf_token": duty.csrf}).status_code == 302
    assert duty.get("/duty").status_code == 302
    assert site.audited(actor="duty", action="sign out")


def test_the_audit_log_is_append_only_and_exported_as_text(site):
    site.browser().sign_in('=HYPERLINK("http://x")', "nope")  # a name meant to run in a spreadsheet
    admin = site.browser("admin")
    export = admin.get("/api/audit.csv?q=HYPERLINK")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "'=HYPERLINK" in export.text  # kept as text, not a formula
    assert site.audited(actor="admin", action="audit export")
    with pytest.raises(Exception, match="append-only"), site.accounts.db() as db:
        db.execute("DELETE FROM audit_log")
    with pytest.raises(Exception, match="append-only"), site.accounts.db() as db:
        db.execute("UPDATE audit_log SET actor = 'someone else'")


def test_a_fresh_install_has_one_admin_with_a_one_time_password(tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite")
    password = signin.bootstrap(accounts, demo=False)
    assert password and [(u.name, u.role, u.must_change) for u in accounts.users()] == [("admin", "admin", True)]
    assert accounts.sign_in("admin", password, "127.0.0.1").outcome == "ok"
    assert accounts.sign_in("admin", "demo-admin", "127.0.0.1").outcome == "wrong"  # no default
    assert signin.bootstrap(accounts, demo=False) is None  # printed once: never again
    accounts.close()


def test_the_duty_desk_sends_a_request_for_closed_work_to_the_history(site):
    answer = site.browser("duty").get("/duty?status=closed&lang=en")
    assert answer.status_code == 302 and answer.headers["Location"] == "/history?state=closed&lang=en"
    assert site.browser().get("/duty?status=closed").headers["Location"].startswith("/login")  # sign in first
