"""The guard every request passes before anything else runs: who is asking (a session, or a wall display holding its
token), and whether the policy (access/policy.py) lets them have this path; CSRF; security headers.

Public are only the sign-in page, /healthz and the static files the browser needs to draw it; everything else needs a
principal and the permission its path asks for. Dash callbacks are all POSTs to one endpoint: the body names the
callback's output, which `page_callbacks` tied to the page that registered it, and the page to the permission it
needs. A callback no page claims is refused, so a new one cannot slip through unguarded. What a user may do to one
alert is decided where the action is taken, by alerts.actions.act.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import quote, urlencode, urlsplit

import dash._callback
from dash.exceptions import PreventUpdate
from flask import Response, g, redirect, request

from access.policy import DISPLAY, Principal, permission_allowed, scoped
from dashboard.i18n import page_language, translator
from dashboard.labels import ROLE_LABELS
from dashboard.plain_pages import PAGE, plain_text, render
from dashboard.settings import DashboardSettings
from layers.regions import RegionIndex
from store import audit
from store.accounts import Accounts, User, digest

PAGE_PERMISSION: dict[str, str] = {
    "wall": "view_wall", "duty": "view", "tablet": "view", "region": "view", "entity": "view",
    "feeds-admin": "feeds", "audit": "audit", "history": "supervise", "figures": "supervise",
    "scorecards": "data_quality",
}  # fmt: skip
# Path prefixes and what they need; a path not listed needs "view" (Dash answers unknown pages with its 404).
ROUTES: tuple[tuple[str, str], ...] = (
    ("/wall", "view_wall"), ("/api/layers", "view_wall"), ("/api/wall", "view_wall"),
    ("/admin/feeds", "feeds"), ("/admin/audit", "audit"), ("/api/audit.csv", "audit"),
    ("/api/health", "health"), ("/account", "account"), ("/logout", "signed_in"),
    # Supervision: history and figures, their exports (each answer limited to the asker's regions).
    ("/history", "supervise"), ("/figures", "supervise"), ("/api/history.csv", "supervise"),
    ("/api/history.xlsx", "supervise"),
    ("/scorecards", "data_quality"), ("/handover", "handover"), ("/reports", "supervise"),
    # The chain's inbox and the photos of its tasks (each photo checked against the incidents it was sent with).
    ("/inbox", "tasks"), ("/attachments", "signed_in"),
    # The page skeleton and the callback endpoint: the callback itself is checked by what it belongs to.
    ("/_dash-layout", "signed_in"), ("/_dash-dependencies", "signed_in"), ("/_dash-update-component", "callback"),
)  # fmt: skip
STATIC: tuple[str, ...] = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
PUBLIC: tuple[str, ...] = ("/login", "/healthz", *STATIC)
SESSION_COOKIE, DISPLAY_COOKIE, CSRF_COOKIE, LOGIN_CSRF_COOKIE = (
    "cityops_session", "cityops_display", "cityops_csrf", "cityops_login_csrf",
)  # fmt: skip
_PAGES_CONTENT = "_pages_content.children"  # Dash pages' own router callback: checked by the path it renders


def current() -> Principal:
    """The principal of this request (Guard.check set it before any page or callback ran)."""
    return g.principal


def refuse(target: str) -> NoReturn:
    """A callback asked for data outside the user's districts (the page never offers it, so someone forged the
    request): audited, and nothing is sent."""
    record("access", target, "refused", "outside the user's districts")
    raise PreventUpdate


def home(principal: Principal) -> str:
    if principal.role == "district_leader":
        return "/tablet"
    if principal.by_task:
        return "/inbox"
    return "/duty" if permission_allowed(principal, "act") else "/wall"


def path_permission(path: str) -> str:
    for prefix, permission in ROUTES:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
            return permission
    return "view"


def record(action: str, target: str = "", outcome: str = "ok", detail: str = "") -> None:
    """An audit entry for this request's principal."""
    who = g.get("principal")
    trail().record(who.actor if who else "anonymous", action, target, outcome, detail, role=who.role if who else "")


def trail() -> audit.Trail:
    """The audit log as this request writes it (for alerts.actions.act and the like)."""
    guard: Guard = g.guard
    return audit.Trail(guard.accounts, request.remote_addr or "")


class Guard:
    def __init__(self, accounts: Accounts, settings: DashboardSettings, regions: RegionIndex):
        self.accounts = accounts
        self.settings = settings
        self.regions = regions
        self._below: dict[tuple[str, ...], frozenset[str]] = {}
        self.callback_pages: dict[str, str] = {}  # a callback's output key → the page that registered it
        # The Dash app's own map of callbacks (`Dash.callback_map`), which Dash fills from its global one, the page
        # router included, when it starts serving.
        self.callback_map: dict[str, dict] = {}
        self._written: tuple[int, frozenset[str]] = (-1, frozenset())
        self._csp: tuple[int, str] | None = None

    @contextmanager
    def page_callbacks(self, page: str) -> Iterator[None]:
        """Claims for `page` the callbacks registered inside the block; they need the page's permission."""
        if page not in PAGE_PERMISSION:
            raise ValueError(f"page {page!r} has no permission in PAGE_PERMISSION")
        before = set(dash._callback.GLOBAL_CALLBACK_MAP)
        yield
        for key in set(dash._callback.GLOBAL_CALLBACK_MAP) - before:
            self.callback_pages[key] = page

    def unclaimed_callbacks(self) -> list[str]:
        return [key for key in dash._callback.GLOBAL_CALLBACK_MAP if key not in self.callback_pages]

    # -- who is asking -------------------------------------------------------------------------------------------

    def principal_of(self, user: User, csrf: str = "") -> Principal:
        """The principal a signed-in user is, with the regions inside their own (kept: they change with the
        organisation, not with each request)."""
        key = user.districts
        below = self._below.get(key)
        if below is None:
            below = self._below[key] = scoped(Principal("", "viewer", key), self.regions).below
        return Principal(user.name, user.role, user.districts, csrf, user.language, user.must_change, user.unit,
                         user.by_task, below)  # fmt: skip

    def _principal(self) -> Principal | None:
        auth = self.settings.auth
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            found = self.accounts.session(token, auth.idle_minutes * 60, auth.session_hours * 3600,
                                          touch=self._is_activity())  # fmt: skip
            if found is not None:
                user, csrf = found
                return self.principal_of(user, csrf)
        display_token = request.cookies.get(DISPLAY_COOKIE)
        if display_token:
            display = self.accounts.display(display_token)
            if display is not None:
                return Principal(display.name, DISPLAY, csrf=_display_csrf(display_token))
        return None

    def check(self) -> Response | None:
        """The before_request hook: None lets the request through; otherwise the refusal."""
        g.guard = self
        path = request.path
        if path.startswith(PUBLIC):
            return None
        if path == "/wall" and ("token" in request.args or request.method == "POST"):
            return self._open_display(request.values.get("token", ""))
        principal = self._principal()
        g.principal = principal
        if principal is None:
            return self._unauthenticated(path)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not self._csrf_ok(principal):
            record("access", path, "refused", "missing or wrong CSRF token or origin")
            return plain_text("refused: the request did not carry this session's CSRF token\n", 403)
        if path == "/":
            return redirect(home(principal) + (f"?{request.query_string.decode()}" if request.query_string else ""))
        if principal.must_change and not path.startswith(("/account/password", "/logout", "/_dash")):
            return redirect("/account/password")
        permission = path_permission(path)
        if permission == "callback":
            body = _callback_body(self.callback_map)
            if body is None:
                record("access", "callback", "refused", "not a callback request of this app")
                return plain_text("refused: not a callback request of this app\n", 400)
            permission = self._callback_permission(body)
        pending = principal.must_change and permission not in ("signed_in", "account")
        if permission is None or not permission_allowed(principal, permission) or pending:
            record("access", _describe_request(path), "refused", f"needs {permission or 'a known callback'}")
            if request.method == "GET" and principal.role != DISPLAY and not path.startswith(("/_dash", "/api/")):
                return self._forbidden_page(principal)
            return plain_text("refused: not allowed for your role\n", 403)
        return None

    def _callback_permission(self, body: dict) -> str | None:
        output = body["output"]
        spec = self.callback_map.get(output) or dash._callback.GLOBAL_CALLBACK_MAP.get(output, {})
        if spec and "callback" not in spec:
            return None  # it runs in the browser: the server has no function to answer with, and Dash would fail
        page = self.callback_pages.get(output)
        if page is not None:
            return PAGE_PERMISSION[page]
        if _PAGES_CONTENT in output:  # rendering a page: it needs what the page's path needs
            # Dash hands the router its arguments by position, whatever ids the request gives them: the path is
            # what stands first, and a request that puts anything else there is no page anyone may render.
            inputs = body.get("inputs") or []
            first = inputs[0] if inputs else None
            if not (isinstance(first, dict) and first.get("id") == "_pages_location"
                    and first.get("property") == "pathname"):  # fmt: skip
                return None
            pathname = first.get("value") or "/"
            return "signed_in" if pathname == "/" else path_permission(str(pathname))
        return None

    def _is_activity(self) -> bool:
        """Whether this request is the person's own doing, which keeps the session open: a page opened, or a
        callback fired by something that only the person changes in the browser (a click, a typed or chosen value,
        an alert picked in the queue). A callback fired by the page's timer, or by what another callback wrote,
        is not, so an unattended tab does not keep its session open. The server tells from what fired the
        callback, not from what the browser says of its user."""
        if request.path != "/_dash-update-component":
            return request.method == "GET" and not request.path.startswith(("/_dash", "/api/"))
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            return False
        changed = body.get("changedPropIds") if isinstance(body, dict) else None
        if not isinstance(changed, list):
            return False
        written = self._written_by_callbacks()
        return any(str(p) not in written and not str(p).endswith(".n_intervals") for p in changed)

    def _written_by_callbacks(self) -> frozenset[str]:
        """Every "id.property" some callback writes (Dash fills its map once it serves, so this is kept by size)."""
        if self._written[0] != len(self.callback_map):
            written = set()
            for key in self.callback_map:
                for output in key.strip(".").split("..."):
                    component, _, prop = output.rpartition(".")
                    written.add(f"{component}.{prop.split('@')[0]}")  # "@…": Dash's mark of allow_duplicate
            self._written = (len(self.callback_map), frozenset(written))
        return self._written[1]

    def _csrf_ok(self, principal: Principal) -> bool:
        origin = request.headers.get("Origin")
        if origin and origin != request.host_url.rstrip("/"):
            return False
        sent = request.headers.get("X-CSRFToken") or request.form.get("csrf_token") or ""
        return bool(principal.csrf) and hmac.compare_digest(sent, principal.csrf)

    def _open_display(self, token: str) -> Response:
        """/wall?token=…: keep the token in an HttpOnly cookie and show the wall without it in the address bar.

        A link from another site, or one opened where someone is signed in, only asks first: otherwise any page
        could sign a visitor out and turn their browser into a wall. Typed in or bookmarked on the wall's own
        machine (or by a kiosk's start command) it opens at once."""
        display = self.accounts.display(token)
        if display is None:
            audit.record(self.accounts, "anonymous", "display open", "", "refused", "unknown or revoked token",
                         address=request.remote_addr or "")  # fmt: skip
            return redirect("/login?reason=display")
        principal = self._principal()
        signed_in = principal is not None and principal.role != DISPLAY
        if request.method == "POST":
            sent, kept = request.form.get("csrf_token", ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")
            if not kept or not hmac.compare_digest(sent, kept):
                return self._confirm_display(token, display.name, principal if signed_in else None)
        elif signed_in or request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
            return self._confirm_display(token, display.name, principal if signed_in else None)
        audit.record(self.accounts, f"display:{display.name}", "display open", display.name, role=DISPLAY,
                     address=request.remote_addr or "")  # fmt: skip
        query = {k: v for k, v in request.args.items() if k != "token"}
        after_post = 303 if request.method == "POST" else 302  # the wall is then read with GET
        response = redirect("/wall" + (f"?{urlencode(query)}" if query else ""), after_post)
        secure = request.is_secure
        response.set_cookie(DISPLAY_COOKIE, token, max_age=400 * 86400, httponly=True, samesite="Lax", secure=secure)
        response.set_cookie(CSRF_COOKIE, _display_csrf(token), max_age=400 * 86400, samesite="Strict", secure=secure)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    def _confirm_display(self, token: str, name: str, signed_in: Principal | None) -> Response:
        """The question before a browser becomes a wall; its answer is a POST that only this page can make (its
        token is in a SameSite=Strict cookie, which a form posted from another site does not carry)."""
        lang = page_language(request.args.get("lang"), self.settings.web.language)
        t = translator(lang)
        content = [("p", t("This link makes this browser show the wall display \u201c{name}\u201d until the "
                           "display is revoked.", name=name))]  # fmt: skip
        if signed_in is not None:
            content.append(("p", t("You are signed in as {user}: showing the wall here signs you out in this "
                                   "browser.", user=signed_in.name)))  # fmt: skip
        content.append(("p", t("If you did not expect this link, close this page.")))
        csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        query = {k: v for k, v in request.args.items() if k != "token"}
        response = render(
            PAGE,
            200,
            title=t("Show the wall in this browser?"),
            lang=lang,
            content=content,
            form={
                "action": "/wall" + (f"?{urlencode(query)}" if query else ""),
                "csrf": csrf,
                "hidden": [("token", token)],
                "fields": [],
                "submit": t("Show the wall here"),
            },  # fmt: skip
            links=[(home(signed_in), t("Go to your start page"))] if signed_in else [],
        )
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure)
        return response

    def _unauthenticated(self, path: str) -> Response:
        if request.method == "GET" and not path.startswith(("/_dash", "/api/")):
            reason = ""
            token = request.cookies.get(SESSION_COOKIE)
            if request.cookies.get(DISPLAY_COOKIE) and path == "/wall":
                reason = "display"
            elif token and self.accounts.session_expired(token, self.settings.auth.idle_minutes * 60):
                reason = "expired"
                self.accounts.close_session(token)
            target = request.full_path.rstrip("?")
            return redirect(f"/login?next={quote(target, safe='')}" + (f"&reason={reason}" if reason else ""))
        # The browser's fetch hook (assets/cityops_auth.js) reloads the page on 401, which leads to the sign-in.
        return plain_text("sign in first\n", 401)

    def _forbidden_page(self, principal: Principal) -> Response:
        lang = page_language(None, self.settings.web.language)
        t = translator(lang)
        return render(
            PAGE,
            403,
            title=t("Not allowed"),
            lang=lang,
            content=[("p", t("Your role ({role}) may not open this page.", role=t(ROLE_LABELS[principal.role])))],
            links=[(home(principal), t("Go to your start page"))],
        )

    # -- headers -------------------------------------------------------------------------------------------------

    def headers(self, response: Response, app) -> Response:
        """The after_request hook: security headers on every response (a stricter policy a response set for itself,
        as an archived report's, is kept)."""
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = self._policy(app)
        if not self.settings.web.frame_ancestors:
            response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        # The inbox asks for the position a field worker reports from; no other page does.
        where = "(self)" if request.path.startswith("/inbox") else "()"
        response.headers["Permissions-Policy"] = f"camera=(), microphone=(), geolocation={where}"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        # Nothing a signed-in page shows is kept by the browser, except what every visitor gets alike (the scripts
        # and styles) and what says its own rule (the map layers revalidate by ETag, and sign-out clears them).
        if not request.path.startswith(STATIC):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _policy(self, app) -> str:
        # Dash adds inline scripts (the renderer's start, the pages' title) up to its first request: hash them all,
        # and build the policy again only when their number changed.
        count = len(app._inline_scripts) + len(dash._callback.GLOBAL_INLINE_SCRIPTS)
        if self._csp is None or self._csp[0] != count:
            hashes = " ".join(app.csp_hashes())
            web = self.settings.web
            tiles = "" if web.tile_url is None else " " + _tile_origin(web.tile_url)
            ancestors = " ".join(web.frame_ancestors) or "'none'"
            # Plotly and Leaflet set inline styles; scripts run only from this site or with a known hash.
            self._csp = (count, (
                f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
                f"img-src 'self' data: blob:{tiles}; font-src 'self' data:; connect-src 'self'; "
                f"worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
                f"frame-ancestors {ancestors}"
            ))  # fmt: skip
        return self._csp[1]


def _callback_body(callbacks: dict[str, dict]) -> dict | None:
    """The callback request as Dash's renderer sends it, or None. A body that is no JSON object, nests deeper than
    the JSON parser goes, or has not the shape of the callback it names is refused here: Dash's dispatch would
    answer it with a 500 and a traceback in the log."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return None
    inputs, state, outputs = body.get("inputs"), body.get("state", []), body.get("outputs")
    if not (isinstance(inputs, list) and isinstance(state, list) and isinstance(outputs, dict | list)):
        return None
    if not isinstance(body.get("changedPropIds", []), list) or not all(map(_dependency, [*inputs, *state])):
        return None
    spec = callbacks.get(body["output"]) or dash._callback.GLOBAL_CALLBACK_MAP.get(body["output"])  # before serving
    if spec is None:
        return body  # no callback of this app: refused by its permission
    several = body["output"].startswith("..")  # "..a.b...c.d..": several outputs, sent as a list
    if len(inputs) != len(spec["inputs"]) or len(state) != len(spec["state"]) or isinstance(outputs, list) != several:
        return None
    if several and len(outputs) != body["output"].count("...") + 1:
        return None
    return body


def _dependency(item: object) -> bool:
    """An input's or a state's entry: {id, property, value}, or a list of them for a pattern that matches many."""
    if isinstance(item, list):
        return all(map(_dependency, item))
    return isinstance(item, dict) and isinstance(item.get("property"), str) and isinstance(item.get("id"), str | dict)


def _display_csrf(token: str) -> str:
    return digest("csrf:" + token)[:43]


def _describe_request(path: str) -> str:
    if path == "/_dash-update-component":
        return f"callback {request.get_json()['output']}"  # only a well-formed one comes this far
    return path


def _tile_origin(tile_url: str) -> str:
    parts = urlsplit(tile_url.replace("{s}.", "*."))
    return f"{parts.scheme}://{parts.netloc}"
