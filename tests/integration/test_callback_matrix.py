"""Every registered Dash callback × every kind of principal, asked through the real server over a socket, against one
declared table (issue 22): what each principal gets from each callback.

The answers: "ok" (200 with its data, or 204: nothing new), "scoped" (200 or 204, and nothing of the district asked
about — no record's data, nothing done: a refusal said in words, or no update), or the guard's refusal, by its exact
status: 401 without a session, 403 for a principal whose role the callback's page does not allow (dashboard/guard.py
`PAGE_PERMISSION`, access/policy.py `PERMISSIONS`).

A callback about a district, an alert or a device is asked about one: the district leader about their own district's
(莲池区) in one column and another district's (竞秀区) in the next; every other principal about the other district's,
which a role that sees the whole city sees. Whatever any district leader is answered holds nothing of that other
district. A new callback without a row fails `test_the_table_has_a_row_for_every_registered_callback`: add its row.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from cityops.config import load
from dashboard import signin
from dashboard.app import create_app, stop_app
from dashboard.guard import CSRF_COOKIE
from store.accounts import Accounts
from store.duckdb_engine import DuckDBStore
from tests.app_config import config
from tests.harness import (
    LIANCHI,
    CityOps,
    api,
    callback_body,
    cookie,
    dependencies,
    display_session,
    http_session,
    post_callback,
    publish_gauge,
    publisher,
    wait_until,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Record:
    """What a district of this test's city holds: a river gauge, and the alert its high water raised."""

    district: str
    gauge: str  # its id as its feed sends it
    name: str
    alert: int
    where: tuple[float, float]

    @property
    def entity(self) -> str:
        return f"test-flood:{self.gauge}"  # the device's id in the store: its feed's, then the gauge's


OWN = Record("130606", "l1", "L1-gauge", 1, LIANCHI)  # 莲池区, the demo leader's district
FOREIGN = Record("130602", "j1", "J1-gauge", 2, (115.4367, 38.8938))  # 竞秀区, another
FOREIGN_DATA = (FOREIGN.name, f'"{FOREIGN.district}', "Jingxiu")  # what no answer to the district leader may hold
LETTER = 1  # the dead letter of an undecodable message
UNDECODABLE = b"not-json-payload"

PRINCIPALS = ("anonymous", "display", "viewer", "district_leader_own", "district_leader_foreign", "duty_officer",
              "supervisor", "admin")  # fmt: skip
# The demo account each signs in as (dashboard/signin.py DEMO_ACCOUNTS; the display holds the demo wall's token).
ACCOUNTS = {"viewer": "viewer", "district_leader_own": "leader", "district_leader_foreign": "leader",
            "duty_officer": "duty", "supervisor": "supervisor", "admin": "admin"}  # fmt: skip
# The command chain's people (the demo organisation, issue 23), each asked about the other district's records: a
# town's duty officer (永华街道, 莲池区), a department's (竞秀区's own fire brigade: it sees only what it is given, and
# nothing was), and a grid worker. Their answers follow from the table's (`chain_answer`), not columns of their own.
CHAIN = {"town_officer": "duty-130606009", "department_officer": "duty-fire-130602",
         "field_worker": "grid-130606009-g01"}  # fmt: skip
OK, SCOPED = "ok", "scoped"
PRESS = '{"action":["ALL"],"type":"duty-act"}.n_clicks'  # the duty desk's action buttons, a pattern-matching input
END = '{"id":["ALL"],"type":"duty-silence-end"}.n_clicks'  # the buttons that end a silence
DASH = None  # a callback of Dash's own (its page router, the page title): no page claims it


@dataclass(frozen=True)
class Row:
    """A callback's row: the page that claims it (dashboard/guard.py Guard.page_callbacks; DASH for Dash's own),
    the answers (one per PRINCIPALS, as a line of words), the inputs' and states' values for a call about a record
    ("id.property" → value; the first is the input that fired), and what an "ok" answer about the record holds and a
    "scoped" one does not (a pattern; {name}, {alert}, {district} … stand for the record's, escaped)."""

    page: str | None
    line: str
    values: Callable[[Record], dict]
    shows: str | None = None

    @property
    def answers(self) -> tuple[str | int, ...]:
        cells = tuple(int(a) if a.isdigit() else a for a in self.line.split())
        assert len(cells) == len(PRINCIPALS) and set(cells) <= {OK, SCOPED, 401, 403}, self.line
        return cells


# A callback that runs in the browser has nothing to run on the server: posted, it is refused.
BROWSER = "401  403     403     403     403     403     403   403"
# A callback's name: its first output; for one that shares it (allow_duplicate), "@" and its first input's id.
# fmt: off
TABLE: dict[str, Row] = {
    # callback                              page           anon display viewer  own     foreign duty  super admin
    "wall-seen.data":                   Row("wall",        "401  ok      ok      403     403     ok    ok    ok",
        lambda r: {"wall-tick.n_intervals": 1, "wall-lang.data": "en", "wall-layer-keys.data": {},
                   "wall-cell-domains.data": []}),
    "wall-map.viewport":                Row("wall",        BROWSER, lambda r: {"wall-rotate.n_intervals": 1}),
    "wall-clock.children":              Row("wall",        BROWSER, lambda r: {"wall-tick.n_intervals": 1}),
    "wall-main.className":              Row("wall",        BROWSER, lambda r: {"wall-map.zoom": 10}),
    "duty-queue.children":              Row("duty",        "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"duty-tick.n_intervals": 1, "duty-filter-district.value": r.district, "duty-lang.data": "en"},
        "{name}"),
    "duty-marked.data":                 Row("duty",        BROWSER, lambda r: {"duty-selected.data": r.alert}),
    "duty-marked.data@duty-as-of":      Row("duty",        BROWSER, lambda r: {"duty-as-of.data": "x"}),
    "duty-detail-poke.data":            Row("duty",        BROWSER, lambda r: {"duty-seen.data": "x"}),
    "duty-marked.data@duty-filter-domain": Row("duty",     BROWSER,
        lambda r: {"duty-filter-district.value": r.district}),
    "duty-summary.children":            Row("duty",        "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"duty-selected.data": r.alert, "duty-lang.data": "en"}, "{name}"),
    "duty-chart.children":              Row("duty",        "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"duty-selected.data": r.alert, "duty-chart-tick.n_intervals": 1, "duty-lang.data": "en"},
        "water_level"),
    "duty-map.children":                Row("duty",        "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"duty-selected.data": r.alert, "duty-lang.data": "en"}, "{name}"),
    # An action button pressed: escalate, which keeps the state (red stays red) and needs "act".
    "duty-dialog.className":            Row("duty",        "401  403     scoped  scoped  scoped  ok    ok    scoped",
        lambda r: {PRESS: [{"id": {"type": "duty-act", "action": "escalate"}, "property": "n_clicks", "value": 1}],
                   "duty-selected.data": r.alert, "duty-lang.data": "en"}, "Done: Escalate"),
    # The dialog confirmed: a comment, which needs "approve" (a district leader's, in their districts) or "act".
    "duty-dialog.className@duty-confirm": Row("duty",      "401  403     scoped  ok      scoped  ok    ok    scoped",
        lambda r: {"duty-confirm.n_clicks": 1, "duty-dialog-action.data": "comment", "duty-selected.data": r.alert,
                   "duty-note.value": "matrix", "duty-lang.data": "en"}, "Done: Comment"),
    # A step of the checklist ticked: "act".
    "duty-message.children@duty-sop-steps": Row("duty",    "401  403     scoped  scoped  scoped  ok    ok    scoped",
        lambda r: {"duty-sop-steps.value": [0], "duty-sop-done.data": [], "duty-selected.data": r.alert,
                   "duty-lang.data": "en"}, "Checklist step 1 recorded"),
    # The marked alerts acknowledged: "act" (whoever comes second is told it is acknowledged already).
    "duty-message.children@duty-bulk":  Row("duty",        "401  403     scoped  scoped  scoped  ok    ok    scoped",
        lambda r: {"duty-bulk.n_clicks": 1, "duty-checked.data": [r.alert], "duty-lang.data": "en"},
        r"Acknowledged \d+\."),
    "duty-marked.data@duty-dialog":     Row("duty",        BROWSER, lambda r: {"duty-dialog.className": "duty-dialog"}),
    "duty-bulk.disabled":               Row("duty",        BROWSER, lambda r: {"duty-checked.data": [r.alert]}),
    # The silences in force in the principal's districts, and ending one (here one that does not exist).
    "duty-silences.children":           Row("duty",        "401  403     ok      ok      ok      ok    ok    ok",
        lambda r: {"duty-tick.n_intervals": 1, "duty-lang.data": "en"}),
    "duty-message.children@duty-silence-end": Row("duty",  "401  403     scoped  scoped  scoped  scoped scoped scoped",
        lambda r: {END: [{"id": {"type": "duty-silence-end", "id": 999}, "property": "n_clicks", "value": 1}],
                   "duty-lang.data": "en"}, "has ended"),
    # An incident opened by hand (a phone call): "act" in the district it names.
    "duty-message.children@duty-new-open": Row("duty",     "401  403     scoped  scoped  scoped  ok    ok    scoped",
        lambda r: {"duty-new-open.n_clicks": 1, "duty-new-domain.value": "flood", "duty-new-region.value": r.district,
                   "duty-new-severity.value": "yellow", "duty-new-title.value": "matrix call",
                   "duty-new-description.value": "", "duty-lang.data": "en"}, "Incident opened"),
    "tablet-figures.children":          Row("tablet",      "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"tablet-tick.n_intervals": 1, "tablet-key.data": {"district": r.district, "lang": "en"}},
        "{name}"),
    "admin-ingest.children":            Row("feeds-admin", "401  403     403     403     403     403   403   ok",
        lambda r: {"admin-tick.n_intervals": 1, "admin-lang.data": "en"}),
    "admin-feeds.children":             Row("feeds-admin", "401  403     403     403     403     403   403   ok",
        lambda r: {"admin-tick.n_intervals": 1, "admin-lang.data": "en"}, "test-flood"),
    "admin-letter.children":            Row("feeds-admin", "401  403     403     403     403     403   403   ok",
        lambda r: {"admin-letters.value": LETTER, "admin-lang.data": "en"}, UNDECODABLE.decode()),
    "admin-message.children":           Row("feeds-admin", "401  403     403     403     403     403   403   ok",
        lambda r: {"admin-replay.n_clicks": 1, "admin-letters.value": LETTER, "admin-lang.data": "en"},
        "Still cannot be decoded"),
    "audit-table.children":             Row("audit",       "401  403     403     403     403     403   403   ok",
        lambda r: {"audit-q.value": "", "audit-period.value": "7d", "audit-lang.data": "en"}, "Sign in"),
    "history-table.children":           Row("history",     "401  403     ok      ok      scoped  ok    ok    403",
        lambda r: {"history-region.value": r.district, "history-kind.value": "incidents", "history-from.value": None,
                   "history-to.value": None, **{f"history-{k}.value": None for k in ("domain", "rule", "severity",
                   "unit", "state", "overdue", "q")}, "history-newer.n_clicks": 0, "history-older.n_clicks": 0,
                   "history-page.data": 0, "history-lang.data": "en"}, "(Jingxiu|Lianchi) District"),
    "figures-cards.children":           Row("figures",     "401  403     ok      ok      scoped  ok    ok    403",
        lambda r: {"figures-region.value": r.district, "figures-from.value": None, "figures-to.value": None,
                   "figures-by.value": "district", **{f"figures-{k}.value": None for k in ("domain", "unit",
                   "severity")}, "figures-clock.value": "clock", "figures-lang.data": "en"},
        "(Jingxiu|Lianchi) District"),
    "scorecards-body.children":         Row("scorecards",  "401  403     ok      403     403     ok    ok    403",
        lambda r: {"scorecards-month.value": None, "scorecards-lang.data": "en"}, "test-flood"),
    "region-body.children":             Row("region",      "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"region-tick.n_intervals": 1, "region-key.data": {"id": r.district, "lang": "en"}}, "{name}"),
    "entity-body.children":             Row("entity",      "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"entity-tick.n_intervals": 1, "entity-key.data": {"id": r.entity, "hours": 24, "lang": "en"}},
        "{name}"),
    # Dash's page router renders the page of a path, held to the path's permission (a drill-down's: "view").
    "_pages_content.children":          Row(DASH,          "401  403     ok      ok      scoped  ok    ok    ok",
        lambda r: {"_pages_location.pathname": f"/region/{r.district}", "_pages_location.search": "?lang=en"},
        '"region-key"'),
    "_pages_dummy.children":            Row(DASH,          BROWSER, lambda r: {"_pages_store.data": {"title": "x"}}),
}
# fmt: on


def callback_name(spec: dict) -> str:
    """A callback's name in TABLE: its first output ("id.property"); for one that shares it with another
    (allow_duplicate, which Dash marks with "@" and a hash), "@" and the id of its first input."""
    output, duplicate, _ = spec["output"].strip(".").split("...")[0].partition("@")
    if not duplicate:
        return output
    fired = spec["inputs"][0]["id"]
    return f"{output}@{json.loads(fired)['type'] if fired.startswith('{') else fired}"


def request_body(spec: dict, values: dict) -> dict:
    """The request the page's script would post: `values` by "id.property", the first the input that fired. A
    pattern-matching input (its id a JSON text in the dependencies) is given the components it matched, each with
    its own id and value, as a list."""
    fired = next(iter(values))
    matched = values[fired] if fired.startswith("{") else None
    changed = [f"{json.dumps(matched[0]['id'], sort_keys=True, separators=(',', ':'))}.{matched[0]['property']}"
               if matched else fired]  # fmt: skip
    body = json.loads(callback_body(spec, values, changed))
    for part in ("inputs", "state"):
        body[part] = [item["value"] if str(item["id"]).startswith("{") else item for item in body[part]]
    return body


@dataclass
class City:
    port: int
    listed: list[dict]  # the registered callbacks, as /_dash-dependencies lists them
    sessions: dict[str, tuple[urllib.request.OpenerDirector, str]]  # by principal: its browser and CSRF token
    log: Path  # the server's output

    def failure(self) -> str:
        """The last error the server wrote (for a 500: what the traceback ends with)."""
        errors = [line for line in self.log.read_text().splitlines() if re.match(r"\w*(Error|Exception)\b", line)]
        return errors[-1] if errors else ""

    @property
    def specs(self) -> dict[str, dict]:
        return {callback_name(spec): spec for spec in self.listed}

    def call(self, principal: str, name: str, record: Record) -> tuple[int, str]:
        opener, csrf = self.sessions[principal]
        return post_callback(opener, self.port, csrf, request_body(self.specs[name], TABLE[name].values(record)))


def _alert_in(port: int, alert_id: int, district: str) -> bool:
    try:
        return f"<value>{district}</value>".encode() in api(port, f"/api/alerts/{alert_id}.cap")
    except urllib.error.HTTPError:
        return False


@pytest.fixture(scope="module")
def city(tmp_path_factory, module_mosquitto):
    """One server for the whole table: the demo accounts, a gauge with an open alert in the leader's district and
    one in another, and a dead letter."""
    broker = module_mosquitto
    server = CityOps(tmp_path_factory.mktemp("callback-matrix"), broker.port, org=True)
    try:
        server.start()
        port = server.web_port
        client = publisher(broker.port, "callback-matrix")
        try:
            for record in (OWN, FOREIGN):  # one after the other: the alerts are 1 and 2
                publish_gauge(client, record.gauge, record.name, record.where, 13.5)
                wait_until(lambda r=record: _alert_in(port, r.alert, r.district), 30, f"alert {record.alert}")
            client.publish("test/flood/obs/x", UNDECODABLE, qos=1).wait_for_publish(10)
        finally:
            client.loop_stop()
            client.disconnect()
        sessions = {"anonymous": (urllib.request.build_opener(), "")}
        opener, jar = display_session(port)
        sessions["display"] = (opener, cookie(jar, CSRF_COOKIE))
        for user in sorted(set(ACCOUNTS.values())):
            opener, jar = http_session(port, user)
            for principal in (p for p, u in ACCOUNTS.items() if u == user):
                sessions[principal] = (opener, cookie(jar, CSRF_COOKIE))
        for principal, user in CHAIN.items():
            opener, jar = http_session(port, user)
            sessions[principal] = (opener, cookie(jar, CSRF_COOKIE))
        city = City(port, dependencies(sessions["admin"][0], port), sessions, server.log_path)
        # The snapshot the views read holds both alerts, and the dead letter is stored.
        wait_until(lambda: all(r.name in city.call("supervisor", "duty-queue.children", r)[1] for r in (OWN, FOREIGN)),
                   30, "both alerts on the duty desk")  # fmt: skip
        wait_until(lambda: UNDECODABLE.decode() in city.call("admin", "admin-letter.children", OWN)[1], 30,
                   "the dead letter")  # fmt: skip
        yield city
    finally:
        stop = server.stop()
    assert stop == 0, server.log_path.read_text()[-3000:]


def test_the_table_has_a_row_for_every_registered_callback(city):
    names = [callback_name(s) for s in city.listed]
    shared = sorted({n for n in names if names.count(n) > 1})
    assert not shared, f"callbacks that share a name: {shared}; make callback_name tell them apart"
    missing = sorted(set(names) - set(TABLE))
    assert not missing, (
        f"registered callbacks without a row in TABLE (tests/integration/test_callback_matrix.py): {missing}. Add a "
        "row for each: the page that registers it and what each principal should get from it."
    )
    stale = sorted(set(TABLE) - set(names))
    assert not stale, f"rows of TABLE for no registered callback: {stale}. Remove them, or rename them."


def test_each_row_names_the_page_that_claims_its_callback(tmp_path):
    settings = load(config(tmp_path, mqtt_port=1883, web_port=8050))
    store, accounts = DuckDBStore(settings.store.path), Accounts(settings.auth.path)
    signin.bootstrap(accounts, demo=True)
    app = create_app(settings, store, settings.city.regions(), accounts)
    try:
        app.server.test_client().get("/login")  # Dash completes its callback map at the first request it serves
        claimed = app.server.extensions["cityops_guard"].callback_pages
        pages = {callback_name({**spec, "output": key}): claimed.get(key) for key, spec in app.callback_map.items()}
    finally:
        stop_app(app)
        store.close()
        accounts.close()
    assert pages == {name: r.page for name, r in TABLE.items()}


CELLS = [pytest.param(name, principal, id=f"{name}-{principal}") for name in TABLE for principal in PRINCIPALS]


@pytest.mark.parametrize(("name", "principal"), CELLS)
def test_each_principal_gets_what_the_table_says(city, name, principal):
    if name not in city.specs:
        pytest.fail(f"no registered callback {name} (test_the_table_has_a_row_for_every_registered_callback says more)")
    expected = TABLE[name].answers[PRINCIPALS.index(principal)]
    record = OWN if principal == "district_leader_own" else FOREIGN
    status, answer = city.call(principal, name, record)
    about = f"district {record.district}, alert {record.alert}, device {record.entity}"
    told = f"{name} as {principal}, about {about}: {status} {city.failure() if status >= 500 else answer[:600]}"
    shows = TABLE[name].shows
    pattern = shows.format(**{k: re.escape(str(v)) for k, v in asdict(record).items()}) if shows else None
    if expected in (401, 403):
        assert status == expected, told
        return
    assert status in (200, 204), told
    if pattern and expected == OK:
        assert status == 200 and re.search(pattern, answer), f"no {pattern!r} in the answer: {told}"
    if pattern and expected == SCOPED:
        assert not re.search(pattern, answer), f"{pattern!r} in the answer: {told}"
    if principal.startswith("district_leader"):
        leaked = [marker for marker in FOREIGN_DATA if marker in answer]
        assert not leaked, f"another district's {leaked} in the answer: {told}"


def chain_answer(row: Row, principal: str) -> str | int:
    """What a person of the chain gets, asked about another district's record: what a duty officer (the town's and
    the department's role) gets, but never the whole city's wall and never the record (scoped); a field worker no
    page at all (the inbox is theirs); one who works by task (a department's) no figures or history, which are of
    regions; none of them the feeds' scorecards, which are the whole city's."""
    duty = row.answers[PRINCIPALS.index("duty_officer")]
    if principal == "field_worker" or duty in (401, 403) or row.page == "wall":
        return 403
    if principal == "department_officer" and row.page in ("history", "figures") or row.page == "scorecards":
        return 403  # the feeds' scorecards are the whole city's
    return SCOPED


@pytest.mark.parametrize(("name", "principal"),
                         [pytest.param(n, p, id=f"{n}-{p}") for n in TABLE for p in CHAIN])  # fmt: skip
def test_the_chains_people_get_nothing_of_another_district(city, name, principal):
    if name not in city.specs:
        pytest.fail(f"no registered callback {name} (test_the_table_has_a_row_for_every_registered_callback says more)")
    expected = chain_answer(TABLE[name], principal)
    status, answer = city.call(principal, name, FOREIGN)
    told = f"{name} as {principal} ({CHAIN[principal]}): {status} {city.failure() if status >= 500 else answer[:600]}"
    if expected in (401, 403):
        assert status == expected, told
        return
    assert status in (200, 204), told
    # The bulk action's row shows "Acknowledged n." whatever n: here what matters is that none was.
    shows = r"Acknowledged [1-9]" if name == "duty-message.children@duty-bulk" else TABLE[name].shows
    pattern = shows.format(**{k: re.escape(str(v)) for k, v in asdict(FOREIGN).items()}) if shows else None
    if pattern:
        assert not re.search(pattern, answer), f"{pattern!r} in the answer: {told}"
    leaked = [marker for marker in FOREIGN_DATA if marker in answer]
    assert not leaked, f"another district's {leaked} in the answer: {told}"
