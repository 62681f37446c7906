"""What a probe of the running server got through (issue 22), tried again on the real server over a socket."""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from dashboard.guard import CSRF_COOKIE, SESSION_COOKIE
from store import audit
from store.accounts import Accounts
from tests.harness import (
    CityOps,
    api,
    callback_body,
    cookie,
    display_session,
    http_session,
    login_form,
    post_callback,
    publish_gauge,
    publisher,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port)
    app.start()
    yield app
    assert app.stop() == 0


def display(port: int) -> tuple[urllib.request.OpenerDirector, str]:
    """A browser holding the demo wall's display token, and its CSRF token."""
    opener, jar = display_session(port)
    return opener, cookie(jar, CSRF_COOKIE)


def test_the_page_router_is_guarded_by_the_path_dash_renders_not_by_the_ids_it_is_sent(server):
    opener, csrf = display(server.web_port)
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
    router = next(s for s in specs if "_pages_content.children" in s["output"])
    assert [(i["id"], i["property"]) for i in router["inputs"][:2]] == [("_pages_location", "pathname"),
                                                                        ("_pages_location", "search")]  # fmt: skip

    def render(first: tuple[str, str], second: tuple[str, str]) -> tuple[int, str]:
        body = json.loads(callback_body(router, {}, ["_pages_location.pathname"]))
        # The first two inputs as given here, ids and all: Dash reads them by position.
        body["inputs"][:2] = [{"id": "_pages_location", "property": p, "value": v} for p, v in (first, second)]
        return post_callback(opener, server.web_port, csrf, body)

    status, page = render(("pathname", "/wall"), ("search", ""))
    assert status == 200 and "wall" in page  # the display's own page renders
    # The same request with the two inputs swapped: Dash renders what stands first, a district's drill-down page.
    status, page = render(("search", "/region/130606"), ("pathname", "/wall"))
    assert status == 403 and "region" not in page, (status, page[:300])


def gauges(mqtt_port: int, *devices: tuple[str, str, float, float, float]) -> None:
    """River gauges (id, name, lon, lat) published with one water level each, through the real broker."""
    client = publisher(mqtt_port, "probe-gauges")
    try:
        for gid, name, lon, lat, level in devices:
            publish_gauge(client, gid, name, (lon, lat), level)
    finally:
        client.loop_stop()
        client.disconnect()


def signed_in(port: int, user: str) -> tuple[urllib.request.OpenerDirector, str]:
    opener, jar = http_session(port, user)
    return opener, cookie(jar, CSRF_COOKIE)


def bulk_acknowledge(server, user: str, ids: list) -> tuple[int, str]:
    opener, csrf = signed_in(server.web_port, user)
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
    spec = next(s for s in specs if "duty-checked.data" in s["output"] and s["inputs"][0]["id"] == "duty-bulk")
    body = callback_body(spec, {"duty-bulk.n_clicks": 1, "duty-checked.data": ids, "duty-lang.data": "en"},
                         ["duty-bulk.n_clicks"])  # fmt: skip
    return post_callback(opener, server.web_port, csrf, json.loads(body))


def acknowledgements(server) -> list:
    return audit.search(Accounts(server.config.parent / "accounts.sqlite"), text="alert acknowledge", limit=None)


def test_a_bulk_acknowledgement_is_bounded_and_a_role_that_may_not_is_refused_once(server):
    made_up = list(range(1, 5001))
    status, answer = bulk_acknowledge(server, "viewer", made_up)
    assert status == 200 and "do not allow" in answer
    assert [(e.actor, e.outcome) for e in acknowledgements(server)] == [("viewer", "refused")]  # once, not 5,000

    status, answer = bulk_acknowledge(server, "duty", made_up)
    assert status == 200 and "At most 200 alerts" in answer
    status, answer = bulk_acknowledge(server, "duty", [7, "7", "x", True, None, {"id": 1}])
    assert status == 200 and "#7: There is no such alert." in answer  # one id, once; what is not an id is left out
    assert len(acknowledgements(server)) == 2


def test_a_huge_sign_in_name_is_refused_and_audited_short(server):
    port = server.web_port
    opener, _jar, csrf = login_form(port)
    huge = "a" * 400_000  # within limits.web_request_kb (1 MB) for the two of them
    data = urllib.parse.urlencode({"name": huge, "password": huge, "csrf_token": csrf}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"http://127.0.0.1:{port}/login", data=data, timeout=30)
    assert refused.value.code == 401
    (entry,) = audit.search(Accounts(server.config.parent / "accounts.sqlite"), text="sign in", limit=None)
    assert entry.outcome == "refused" and len(entry.actor) <= 65 and len(entry.target) <= 65


def try_sign_in(opener: urllib.request.OpenerDirector, port: int, name: str, password: str) -> tuple[str, int]:
    """What the sign-in page answers this browser: ("signed in" | "wrong" | "wait" | the page's text, the seconds
    a wait lasts)."""
    form = opener.open(f"http://127.0.0.1:{port}/login?lang=en", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": csrf}).encode()
    try:
        opener.open(f"http://127.0.0.1:{port}/login?lang=en", data=data, timeout=30).read()
    except urllib.error.HTTPError as exc:
        page = exc.read().decode()
        if "Wrong user name" in page:
            return "wrong", 0
        wait = re.search(r"Wait (\d+) s", page)
        return ("wait", int(wait.group(1))) if wait else (page, 0)
    return "signed in", 0


def guess_until_held_up(opener: urllib.request.OpenerDirector, port: int, name: str, seconds: int) -> list[str]:
    """Guess at `name`, each time the last wait has passed, until a wait of `seconds` holds the guesser up (said
    as a second less when the answer comes late); the answers, waits included."""
    answers = []
    while True:
        answer, wait = try_sign_in(opener, port, name, "guess")
        answers.append(answer)
        if answer == "wait":
            if wait >= seconds - 1:
                return answers
            time.sleep(wait + 0.2)
        assert len(answers) < 20, answers


def test_guessing_at_a_name_slows_strangers_down_but_never_locks_its_user_out(server):
    port = server.web_port
    own, own_jar = http_session(port, "admin")  # the browser admin works with, signed in before
    own_jar.clear("127.0.0.1", "/", SESSION_COOKIE)
    stranger, _jar, _csrf = login_form(port)  # a browser of its own, never signed in here
    answers = {name: guess_until_held_up(stranger, port, name, 4) for name in ("ghost", "admin")}
    # An unknown name is answered as a known one: 5 free tries, then waits of 1, 2 and 4 s between the next.
    for name in answers:
        assert [a for a in answers[name] if a != "wait"] == ["wrong"] * 7, answers
    assert try_sign_in(stranger, port, "admin", "demo-admin")[0] == "wait"  # not even checked while it waits
    assert try_sign_in(own, port, "admin", "demo-admin")[0] == "signed in"  # its own browser is not held up


def test_a_password_change_ends_every_other_session_and_renews_its_own(server):
    port = server.web_port
    here, here_jar = http_session(port, "duty")
    there, _ = http_session(port, "duty")  # the same account in another browser
    old_token = cookie(here_jar, SESSION_COOKIE)
    form = {
        "csrf_token": cookie(here_jar, CSRF_COOKIE),
        "current": "demo-duty",
        "new": "a-new-pass-2026",
        "repeat": "a-new-pass-2026",
    }
    here.open(f"http://127.0.0.1:{port}/account/password", urllib.parse.urlencode(form).encode(), timeout=30).read()
    new_token = cookie(here_jar, SESSION_COOKIE)
    assert new_token != old_token
    with pytest.raises(urllib.error.HTTPError) as gone:
        there.open(f"http://127.0.0.1:{port}/_dash-layout", timeout=10)
    assert gone.value.code == 401  # the other browser's session ended with the old password
    assert here.open(f"http://127.0.0.1:{port}/_dash-layout", timeout=10).status == 200


def test_what_the_duty_desk_is_sent_is_checked_on_the_server_never_a_500(server):
    opener, csrf = signed_in(server.web_port, "duty")
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())

    def call(trigger: str, values: dict) -> tuple[int, str]:
        spec = next(s for s in specs if s["inputs"][0]["id"] == trigger.split(".")[0])
        body = callback_body(spec, {trigger: 1, "duty-lang.data": "en", **values}, [trigger])
        return post_callback(opener, server.web_port, csrf, json.loads(body))

    confirm = "duty-confirm.n_clicks"
    status, answer = call(confirm, {"duty-dialog-action.data": "snooze", "duty-selected.data": 1,
                                    "duty-minutes.value": "1e400"})  # fmt: skip
    assert status == 200 and "Minutes must be a number" in answer
    status, answer = call(confirm, {"duty-dialog-action.data": "comment", "duty-selected.data": 1,
                                    "duty-note.value": ["not", "text"]})  # fmt: skip
    assert status == 200 and "There is no such alert." in answer  # a refusal said, not a stack trace
    status, answer = call(confirm, {"duty-dialog-action.data": "dispatch", "duty-selected.data": 1,
                                    "duty-unit.value": ["water-authority"]})  # fmt: skip
    assert status == 200 and "unit" in answer
    status, _ = call(confirm, {"duty-dialog-action.data": "dispatch", "duty-selected.data": "abc"})
    assert status == 204  # no alert at all: nothing to do
    status, _ = call("duty-sop-steps.value", {"duty-sop-steps.value": ["x"], "duty-selected.data": 1})
    assert status == 204
    status, answer = call(confirm, {"duty-dialog-action.data": "comment", "duty-selected.data": 1,
                                    "duty-note.value": "x" * 4001})  # fmt: skip
    assert status == 200 and "A note has at most 4000 characters." in answer  # limits.text_chars


@pytest.mark.parametrize("next_path", ["/\t/evil.example", "/\\evil.example", "//evil.example", "/\n/evil.example"])
def test_after_sign_in_next_leads_only_within_the_site(server, next_path):
    port = server.web_port
    _opener, jar, csrf = login_form(port)
    body = urllib.parse.urlencode({"name": "duty", "password": "demo-duty", "csrf_token": csrf, "next": next_path})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    connection.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies})
    response = connection.getresponse()
    location = response.getheader("Location", "")
    connection.close()
    assert response.status in (302, 303) and location == "/duty", location  # the start page, not another site


def test_what_the_server_writes_is_readable_by_its_user_alone(server, tmp_path):
    server.health()  # a session and a write or two
    written = [p for p in tmp_path.iterdir() if p.is_file() and p.name.startswith(("cityops.duckdb", "accounts"))]
    assert {p.name for p in written} >= {"cityops.duckdb", "accounts.sqlite", "accounts.sqlite-wal"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written if p.stat().st_mode & 0o077} == {}


def test_signed_in_pages_are_not_kept_by_the_browser_and_sign_out_clears_its_cache(server):
    port = server.web_port
    opener, jar = http_session(port, "duty")

    def get(path: str):
        return opener.open(f"http://127.0.0.1:{port}{path}", timeout=10)

    for path in ("/duty", "/_dash-layout", "/_dash-dependencies"):
        assert get(path).headers.get("Cache-Control") == "no-store", path
    assert "no-store" not in get("/assets/cityops.css").headers.get("Cache-Control", "")  # the same for everyone
    assert "must-revalidate" in get("/api/layers/regions/district.geojson").headers["Cache-Control"]  # by ETag
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    connection.request("POST", "/logout", "", {"Cookie": cookies, "X-CSRFToken": cookie(jar, CSRF_COOKIE)})
    response = connection.getresponse()
    assert response.status in (302, 303) and '"cache"' in response.getheader("Clear-Site-Data", "")
    connection.close()


def test_a_device_name_with_control_characters_still_exports_as_valid_cap(server, mosquitto):
    from xml.etree import ElementTree

    gauges(mosquitto.port, ("g9", "G\x019\x1b", 115.4906, 38.8581, 13.5))

    def cap() -> bytes | None:
        try:
            return api(server.web_port, "/api/alerts/1.cap")
        except urllib.error.HTTPError:
            return None

    body = wait_until(cap, 30, "the gauge's alert")
    titles = [e.text for e in ElementTree.fromstring(body).iter("{urn:oasis:names:tc:emergency:cap:1.2}headline")]
    assert titles and all("G9" in t for t in titles), titles


def test_another_districts_alert_is_refused_as_one_that_does_not_exist(server, mosquitto):
    gauges(mosquitto.port, ("j1", "J1", 115.4367, 38.8938, 13.5))  # in Jingxiu, outside the leader's Lianchi
    wait_until(lambda: _exists(server, 1), 30, "the Jingxiu gauge's alert")
    opener, csrf = signed_in(server.web_port, "leader")
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
    spec = next(s for s in specs if s["inputs"][0]["id"] == "duty-confirm")

    def close(alert_id: int) -> str:
        values = {"duty-confirm.n_clicks": 1, "duty-dialog-action.data": "close", "duty-selected.data": alert_id,
                  "duty-lang.data": "en"}  # fmt: skip
        status, answer = post_callback(opener, server.web_port, csrf,
                                       json.loads(callback_body(spec, values, ["duty-confirm.n_clicks"])))  # fmt: skip
        assert status == 200
        return answer

    assert close(1) == close(999) and "There is no such alert." in close(1)


def _exists(server, alert_id: int) -> bool:
    try:
        return bool(api(server.web_port, f"/api/alerts/{alert_id}.cap"))
    except urllib.error.HTTPError:
        return False


def test_a_district_leader_gets_the_status_of_their_districts_regions_only(server, mosquitto):
    gauges(mosquitto.port, ("l1", "L1", 115.4906, 38.8581, 3), ("j2", "J2", 115.4367, 38.8938, 3))  # Lianchi, Jingxiu
    opener, csrf = signed_in(server.web_port, "leader")
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
    spec = next(s for s in specs if "region-map-parts.hideout" in s["output"])

    def statuses() -> dict:
        values = {"region-tick.n_intervals": 1, "region-key.data": {"id": "130606", "lang": "en"}}
        body = json.loads(callback_body(spec, values, ["region-tick.n_intervals"]))
        status, answer = post_callback(opener, server.web_port, csrf, body)
        return json.loads(answer)["response"]["region-map-parts"]["hideout"]["status"] if status == 200 else {}

    shown = wait_until(lambda: (s := statuses()) and any(k.startswith("130606") for k in s) and s, 30,
                       "the leader's district's statuses")  # fmt: skip
    assert all(region.startswith("130606") for region in shown), sorted(shown)  # not the city's, nor Jingxiu's


def test_a_dead_letter_id_that_is_no_number_is_no_letter_not_a_500(server):
    opener, csrf = signed_in(server.web_port, "admin")
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
    spec = next(s for s in specs if s["inputs"][0]["id"] == "admin-replay")
    values = {"admin-replay.n_clicks": 1, "admin-letters.value": "x", "admin-lang.data": "en"}
    status, answer = post_callback(opener, server.web_port, csrf,
                                   json.loads(callback_body(spec, values, ["admin-replay.n_clicks"])))  # fmt: skip
    assert status == 200 and "Choose a dead letter first." in answer


def test_callback_requests_of_no_callbacks_shape_get_a_400_and_no_traceback(server):
    opener, csrf = signed_in(server.web_port, "duty")
    specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
    queue = next(s for s in specs if "duty-queue.children" in s["output"])
    router = next(s for s in specs if "_pages_content.children" in s["output"])
    one_input = [{"id": "_pages_location", "property": "pathname", "value": "/duty"}]
    bodies = {
        "nested deeper than JSON parses": b'{"output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "no object": b"[1, 2]",
        "no JSON": b"{{{",
        "inputs no list": json.dumps({"output": queue["output"], "outputs": [], "inputs": "x"}).encode(),
        "no outputs": json.dumps({"output": queue["output"], "inputs": []}).encode(),
        "too few inputs": json.dumps(
            {
                "output": queue["output"],
                "outputs": [{"id": "duty-queue", "property": "children"}] * 3,
                "inputs": one_input,
            }
        ).encode(),  # fmt: skip
        "router, one output": json.dumps(
            {"output": router["output"], "outputs": {"id": "x", "property": "y"}, "inputs": one_input}
        ).encode(),  # fmt: skip
    }
    for name, body in bodies.items():
        request = urllib.request.Request(f"http://127.0.0.1:{server.web_port}/_dash-update-component", body,
                                         {"Content-Type": "application/json", "X-CSRFToken": csrf})  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=30)
        assert refused.value.code == 400, (name, refused.value.code)
    assert "Traceback" not in server.log_path.read_text()


def test_the_duty_desk_offers_a_district_leader_no_other_districts_units_and_no_dispatch(server):
    def options(user: str) -> dict[str, list[str]]:
        """The units the duty desk offers `user`, by the component that offers them (filter, dispatch dialog)."""
        opener, csrf = signed_in(server.web_port, user)
        specs = json.loads(opener.open(f"http://127.0.0.1:{server.web_port}/_dash-dependencies", timeout=10).read())
        router = next(s for s in specs if "_pages_content.children" in s["output"])
        values = {"_pages_location.pathname": "/duty", "_pages_location.search": "?lang=en"}
        status, page = post_callback(opener, server.web_port, csrf, json.loads(callback_body(router, values, [])))
        assert status == 200, page[:300]
        found = {}

        def walk(node):
            if isinstance(node, dict):
                props = node.get("props", {})
                if props.get("id") in ("duty-filter-unit", "duty-unit"):
                    found[props["id"]] = [o["label"] for o in props.get("options", [])]
                for value in (*node.values(), *props.values()):
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(json.loads(page))
        return found

    both = ["Baoding Water Resources Bureau", "Jingxiu Fire Brigade"]
    assert options("duty") == {"duty-filter-unit": both, "duty-unit": both}
    # 莲池区's leader: another district's unit is none of theirs, and they do not dispatch.
    assert options("leader") == {"duty-filter-unit": both[:1], "duty-unit": []}


def test_a_request_body_over_the_web_limit_is_refused_before_it_is_read(server):
    for path, headers in (("/login", {"Content-Type": "application/x-www-form-urlencoded"}),
                          ("/_dash-update-component", {"Content-Type": "application/json"})):  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", server.web_port, timeout=10)
        connection.putrequest("POST", path)
        for name, value in {**headers, "Content-Length": str(1024 * 1024 + 1)}.items():
            connection.putheader(name, value)
        connection.endheaders()  # the body is never sent: the server answers on the length it was told
        assert connection.getresponse().status == 413, path  # limits.web_request_kb
        connection.close()
