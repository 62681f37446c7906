"""Who is asking, and may they: sessions and display tokens, roles and district scope, CSRF, security headers.

Every request passes `Guard.check` before anything else runs. Public are only the sign-in page, /healthz and the
static files the browser needs to draw it; everything else needs a principal — a signed-in user, or a wall display
holding its token — and the permission its path asks for. Dash callbacks are all POSTs to one endpoint: the body
names the callback's output, which `page_callbacks` tied to the page that registered it, and the page to the
permission it needs. A callback no page claims is refused, so a new one cannot slip through unguarded. What a user
may do to one alert (its action and its district) is checked where the action is taken: `may_act`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import dash._callback
import pandas as pd
from dash.exceptions import PreventUpdate
from flask import Flask, Response, g, redirect, render_template_string, request

from dashboard.i18n import N_, page_language, translator
from layers.regions import RegionIndex
from store import audit
from store.accounts import MIN_PASSWORD, AccountError, Accounts, digest

DISPLAY = "display"  # the wall's token: shows, never acts, never times out
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "view_wall", "feeds", "audit", "health", "account"}),
    "supervisor": frozenset({"view", "view_wall", "act", "approve", "health", "account"}),
    "duty_officer": frozenset({"view", "view_wall", "act", "approve", "account"}),
    "district_leader": frozenset({"view", "approve", "account"}),
    "viewer": frozenset({"view", "view_wall", "account"}),
    DISPLAY: frozenset({"view_wall"}),
}
# Actions a district leader approves within their districts; every other alert action needs "act".
APPROVE_ACTIONS = frozenset({"close", "comment"})
PAGE_PERMISSION: dict[str, str] = {
    "wall": "view_wall", "duty": "view", "tablet": "view", "region": "view", "entity": "view",
    "feeds-admin": "feeds", "audit": "audit",
}  # fmt: skip
# Path prefixes and what they need; a path not listed needs "view" (Dash answers unknown pages with its 404).
ROUTES: tuple[tuple[str, str], ...] = (
    ("/wall", "view_wall"), ("/api/layers", "view_wall"), ("/api/wall", "view_wall"),
    ("/admin/feeds", "feeds"), ("/admin/audit", "audit"), ("/api/audit.csv", "audit"),
    ("/api/health", "health"), ("/account", "account"), ("/logout", "signed_in"),
    # The page skeleton and the callback endpoint: the callback itself is checked by what it belongs to.
    ("/_dash-layout", "signed_in"), ("/_dash-dependencies", "signed_in"), ("/_dash-update-component", "callback"),
)  # fmt: skip
PUBLIC: tuple[str, ...] = ("/login", "/healthz", "/assets/", "/_dash-component-suites/", "/_favicon.ico")
SESSION_COOKIE, DISPLAY_COOKIE, CSRF_COOKIE, LOGIN_CSRF_COOKIE = (
    "cityops_session", "cityops_display", "cityops_csrf", "cityops_login_csrf",
)  # fmt: skip
DEMO_ACCOUNTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin", "admin", ()), ("supervisor", "supervisor", ()), ("duty", "duty_officer", ()),
    ("leader", "district_leader", ("130606",)), ("viewer", "viewer", ()),
)  # fmt: skip
ROLE_LABELS: dict[str, str] = {
    "admin": N_("Administrator"), "supervisor": N_("Supervisor"), "duty_officer": N_("Duty officer"),
    "district_leader": N_("District leader"), "viewer": N_("Viewer"), DISPLAY: N_("Wall display"),
}  # fmt: skip
IDLE_HEADER = "X-CityOps-Idle-S"  # seconds since the page's user last pressed a key or touched it
DEMO_PASSWORD = "demo-{name}"  # documented in README.md and on the demo's sign-in page
DEMO_DISPLAY_TOKEN = "demo-wall"
_PAGES_CONTENT = "_pages_content.children"  # Dash pages' own router callback: checked by the path it renders


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    districts: tuple[str, ...] = ()
    csrf: str = ""
    language: str | None = None
    must_change: bool = False

    def can(self, permission: str) -> bool:
        return permission in ("signed_in", "callback") or permission in PERMISSIONS[self.role]

    def sees(self, district_id: str | None) -> bool:
        """Whether a district's data is this principal's to see (a district leader sees their districts only)."""
        return self.role != "district_leader" or district_id in self.districts

    @property
    def actor(self) -> str:
        return f"display:{self.name}" if self.role == DISPLAY else self.name


def current() -> Principal:
    """The principal of this request (Guard.check set it before any page or callback ran)."""
    return g.principal


def may_act(principal: Principal, action: str, district_id: str | None) -> bool:
    needed = "approve" if action in APPROVE_ACTIONS else "act"
    return principal.can(needed) and principal.sees(district_id)


def in_scope(principal: Principal, frame: pd.DataFrame, column: str = "district_id") -> pd.DataFrame:
    """The rows of `frame` this principal may see."""
    return frame if principal.role != "district_leader" else frame[frame[column].isin(principal.districts)]


def sees_region(principal: Principal, regions: RegionIndex, region_id: str) -> bool:
    return principal.sees(district_of(regions, region_id))


def refuse(target: str) -> NoReturn:
    """A callback asked for data outside the user's districts (the page never offers it, so someone forged the
    request): audited, and nothing is sent."""
    record("access", target, "refused", "outside the user's districts")
    raise PreventUpdate


def home(principal: Principal) -> str:
    return "/tablet" if principal.role == "district_leader" else "/duty" if principal.can("act") else "/wall"


def district_of(regions: RegionIndex, region_id: str) -> str | None:
    """The district a region lies in (itself if it is one); None for the city."""
    return next((r.id for r in regions.ancestors(region_id) if r.level == "district"), None)


def path_permission(path: str) -> str:
    for prefix, permission in ROUTES:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
            return permission
    return "view"


def record(action: str, target: str = "", outcome: str = "ok", detail: str = "") -> None:
    """An audit entry for this request's principal."""
    who = g.get("principal")
    guard: Guard = g.guard
    audit.record(guard.accounts, who.actor if who else "anonymous", action, target, outcome, detail,
                 role=who.role if who else "", address=request.remote_addr or "")  # fmt: skip


def bootstrap(accounts: Accounts, demo: bool) -> str | None:
    """Accounts for a fresh install. The demo gets its documented accounts and wall token; otherwise one admin with
    a one-time password, returned to be printed once (it must be changed at the first sign-in)."""
    if accounts.count():
        return None
    if demo:
        for name, role, districts in DEMO_ACCOUNTS:
            accounts.add(name, role, districts, password=DEMO_PASSWORD.format(name=name), must_change=False)
        accounts.add_display("demo wall", "demo", token=DEMO_DISPLAY_TOKEN)
        audit.record(accounts, "system", "user add", ", ".join(n for n, _, _ in DEMO_ACCOUNTS))
        return None
    password = accounts.add("admin", "admin")
    audit.record(accounts, "system", "user add", "admin", detail="first start: one-time password printed")
    return password


class Guard:
    def __init__(self, accounts: Accounts, settings):
        self.accounts = accounts
        self.settings = settings
        self.callback_pages: dict[str, str] = {}  # a callback's output key → the page that registered it
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

    def _principal(self) -> Principal | None:
        auth = self.settings.auth
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            found = self.accounts.session(token, auth.idle_minutes * 60, auth.session_hours * 3600,
                                          touch=_is_activity())  # fmt: skip
            if found is not None:
                user, csrf = found
                return Principal(user.name, user.role, user.districts, csrf, user.language, user.must_change)
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
        token = request.args.get("token") if path == "/wall" else None
        if token is not None:
            return self._open_display(token)
        principal = self._principal()
        g.principal = principal
        if principal is None:
            return self._unauthenticated(path)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not self._csrf_ok(principal):
            record("access", path, "refused", "missing or wrong CSRF token or origin")
            return _plain("refused: the request did not carry this session's CSRF token\n", 403)
        if path == "/":
            return redirect(home(principal) + (f"?{request.query_string.decode()}" if request.query_string else ""))
        if principal.must_change and not path.startswith(("/account/password", "/logout", "/_dash")):
            return redirect("/account/password")
        permission = path_permission(path)
        if permission == "callback":
            permission = self._callback_permission()
        pending = principal.must_change and permission not in ("signed_in", "account")
        if permission is None or not principal.can(permission) or pending:
            record("access", _describe_request(path), "refused", f"needs {permission or 'a known callback'}")
            if request.method == "GET" and principal.role != DISPLAY and not path.startswith(("/_dash", "/api/")):
                return self._forbidden_page(principal)
            return _plain("refused: not allowed for your role\n", 403)
        return None

    def _callback_permission(self) -> str | None:
        body = request.get_json(silent=True) or {}
        output = str(body.get("output", ""))
        page = self.callback_pages.get(output)
        if page is not None:
            return PAGE_PERMISSION[page]
        if _PAGES_CONTENT in output:  # rendering a page: it needs what the page's path needs
            pathname = _find_input(body.get("inputs"), "_pages_location", "pathname") or "/"
            return "signed_in" if pathname == "/" else path_permission(pathname)
        return None

    def _csrf_ok(self, principal: Principal) -> bool:
        origin = request.headers.get("Origin")
        if origin and origin != request.host_url.rstrip("/"):
            return False
        sent = request.headers.get("X-CSRFToken") or request.form.get("csrf_token") or ""
        return bool(principal.csrf) and hmac.compare_digest(sent, principal.csrf)

    def _open_display(self, token: str) -> Response:
        """/wall?token=…: keep the token in an HttpOnly cookie and show the wall without it in the address bar."""
        display = self.accounts.display(token)
        if display is None:
            audit.record(self.accounts, "anonymous", "display open", "", "refused", "unknown or revoked token",
                         address=request.remote_addr or "")  # fmt: skip
            return redirect("/login?reason=display")
        audit.record(self.accounts, f"display:{display.name}", "display open", display.name, role=DISPLAY,
                     address=request.remote_addr or "")  # fmt: skip
        query = {k: v for k, v in request.args.items() if k != "token"}
        response = redirect("/wall" + (f"?{urlencode(query)}" if query else ""))
        secure = request.is_secure
        response.set_cookie(DISPLAY_COOKIE, token, max_age=400 * 86400, httponly=True, samesite="Lax", secure=secure)
        response.set_cookie(CSRF_COOKIE, _display_csrf(token), max_age=400 * 86400, samesite="Strict", secure=secure)
        response.delete_cookie(SESSION_COOKIE)
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
        return _plain("sign in first\n", 401)

    def _forbidden_page(self, principal: Principal) -> Response:
        lang = page_language(None, self.settings.web.language)
        t = translator(lang)
        body = render_template_string(
            PAGE,
            title=t("Not allowed"),
            lang=lang,
            content=[("p", t("Your role ({role}) may not open this page.", role=t(ROLE_LABELS[principal.role])))],
            links=[(home(principal), t("Go to your start page"))],
        )
        return Response(body, status=403, mimetype="text/html")

    # -- headers -------------------------------------------------------------------------------------------------

    def headers(self, response: Response, app) -> Response:
        """The after_request hook: security headers on every response."""
        response.headers["Content-Security-Policy"] = self._policy(app)
        if not self.settings.web.frame_ancestors:
            response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.path.startswith(("/_dash-update-component", "/_dash-layout", "/api/", "/account", "/login")):
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

    # -- sign-in, sign-out, password -----------------------------------------------------------------------------

    def register(self, server: Flask) -> None:
        @server.get("/healthz")
        def alive():
            return _plain("ok\n", 200)

        @server.route("/login", methods=["GET", "POST"])
        def login():
            return self._login()

        @server.post("/logout")
        def logout():
            principal = current()
            token = request.cookies.get(SESSION_COOKIE)
            if token:
                self.accounts.close_session(token)
            record("sign out", principal.name)
            response = redirect("/login")
            for cookie in (SESSION_COOKIE, CSRF_COOKIE):
                response.delete_cookie(cookie)
            return response

        @server.route("/account/password", methods=["GET", "POST"])
        def change_password():
            return self._change_password()

    def _login(self) -> Response:
        lang = page_language(request.args.get("lang"), self.settings.web.language)
        t = translator(lang)
        message = {
            "expired": t("Your session ended after {minutes} minutes without activity. Please sign in again.",
                         minutes=f"{self.settings.auth.idle_minutes:g}"),
            "display": t("This wall's display link is not valid or was revoked. Ask an administrator for a new one."),
        }.get(request.args.get("reason", ""), "")  # fmt: skip
        next_path = _local_path(request.values.get("next", ""))
        if request.method == "POST":
            sent = request.form.get("csrf_token", "")
            cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
            if not cookie or not hmac.compare_digest(sent, cookie):
                message = t("The sign-in form had expired. Please try again.")
            else:
                response = self._sign_in(request.form.get("name", "").strip(), request.form.get("password", ""),
                                         next_path, t)  # fmt: skip
                if isinstance(response, Response):
                    return response
                message = response
        # One token per browser, kept while it signs in: a second tab (or the favicon's redirect here) must not
        # invalidate the form already shown.
        csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        demo = self.settings.auth.demo_accounts
        body = render_template_string(
            LOGIN_PAGE,
            lang=lang,
            title=t("Sign in"),
            city=t(
                "{city} City Operations Center",
                city=self.settings.city.name_zh if lang == "zh_CN" else self.settings.city.name_en,
            ),  # fmt: skip
            message=message,
            labels={"name": t("User name"), "password": t("Password"), "submit": t("Sign in")},
            csrf=csrf,
            next=next_path,
            demo=demo,
            demo_note=t("Demo mode: these accounts exist, each with the password demo-<name>:"),
            demo_accounts=[(name, t(ROLE_LABELS[role])) for name, role, _ in DEMO_ACCOUNTS] if demo else [],
            demo_wall=t("The wall display: /wall?token={token}", token=DEMO_DISPLAY_TOKEN),
            other=("English", "en") if lang == "zh_CN" else ("中文", "zh_CN"),
        )
        response = Response(body, status=401 if message and request.method == "POST" else 200, mimetype="text/html")
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure)
        return response

    def _sign_in(self, name: str, password: str, next_path: str, t) -> Response | str:
        auth = self.settings.auth
        result = self.accounts.sign_in(name, password, auth.lock_after, auth.lock_minutes * 60)
        address = request.remote_addr or ""
        if result.outcome != "ok":
            detail = {"wrong": "wrong name or password", "locked": "lock account", "wait": "too soon after a failure",
                      "disabled": "account disabled"}[result.outcome]  # fmt: skip
            audit.record(self.accounts, name or "(empty)", "sign in", name, "refused", detail, address=address)
            if result.locked_now:
                detail = f"{auth.lock_after} failed sign-ins; locked for {auth.lock_minutes:g} minutes"
                audit.record(self.accounts, "system", "lock account", name, "ok", detail, address=address)
            if result.outcome == "locked":
                until = datetime.fromtimestamp(result.until, ZoneInfo(self.settings.city.timezone))
                return t("Too many failed sign-ins: this account is locked until {time}. An administrator can "
                         "unlock it by resetting the password.", time=f"{until:%H:%M}")  # fmt: skip
            if result.outcome == "wait":
                return t("Too many failed sign-ins. Wait {seconds} s and try again.",
                         seconds=max(1, round(result.until - datetime.now().timestamp())))  # fmt: skip
            return t("Wrong user name or password.")
        user = result.user
        token, csrf = self.accounts.open_session(user.name, address)
        audit.record(self.accounts, user.name, "sign in", user.name, role=user.role, address=address)
        principal = Principal(user.name, user.role, user.districts)
        target = "/account/password" if user.must_change else next_path or home(principal)
        response = redirect(target)
        secure = request.is_secure
        max_age = int(auth.session_hours * 3600)
        response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="Lax", secure=secure)
        response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, samesite="Strict", secure=secure)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        response.delete_cookie(DISPLAY_COOKIE)
        return response

    def _change_password(self) -> Response:
        principal = current()
        lang = page_language(request.args.get("lang"), self.settings.web.language)
        t = translator(lang)
        message = t("This password was given to you once: choose your own to go on.") if principal.must_change else ""
        if request.method == "POST":
            new = request.form.get("new", "")
            try:
                if new != request.form.get("repeat", ""):
                    raise AccountError("the two new passwords differ", "repeat")
                self.accounts.change_password(principal.name, request.form.get("current", ""), new)
            except AccountError as exc:
                message = {
                    "short": t("A password needs at least {n} characters.", n=MIN_PASSWORD),
                    "name": t("The password may not be your user name."),
                    "same": t("The new password must differ from the current one."),
                    "current": t("The current password is not right."),
                    "repeat": t("The two new passwords differ."),
                }[exc.code]
                record("password change", principal.name, "refused", str(exc))
            else:
                record("password change", principal.name)
                return redirect(home(principal))
        body = render_template_string(
            PAGE,
            title=t("Change your password"),
            lang=lang,
            content=[("p", message)] if message else [],
            form={
                "fields": [
                    ("current", t("Current password")),
                    ("new", t("New password (10 characters or more)")),
                    ("repeat", t("The new password again")),
                ],  # fmt: skip
                "submit": t("Change the password"),
                "csrf": principal.csrf,
            },
            links=[],
        )
        return Response(body, status=200 if request.method == "GET" else 400, mimetype="text/html")


def _is_activity() -> bool:
    """Whether this request follows the person's own doing, so that it keeps the session open. A page opened is;
    the page's own requests say how long ago its user last pressed a key or touched the screen
    (assets/cityops_auth.js), since a refresh on an interval would keep an unattended session open for ever."""
    idle = request.headers.get(IDLE_HEADER)
    if idle is None:
        return request.method == "GET" and not request.path.startswith(("/_dash", "/api/"))
    try:
        return float(idle) < 60
    except ValueError:
        return False


def _display_csrf(token: str) -> str:
    return digest("csrf:" + token)[:43]


def _find_input(inputs, component_id: str, prop: str):
    for item in inputs or []:
        if isinstance(item, list):
            found = _find_input(item, component_id, prop)
            if found is not None:
                return found
        elif isinstance(item, dict) and item.get("id") == component_id and item.get("property") == prop:
            return item.get("value")
    return None


def _describe_request(path: str) -> str:
    if path == "/_dash-update-component":
        return f"callback {(request.get_json(silent=True) or {}).get('output', '?')}"
    return path


def _local_path(value: str) -> str:
    """`next=` only ever leads within this site."""
    return value if value.startswith("/") and not value.startswith(("//", "/\\")) else ""


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _tile_origin(tile_url: str) -> str:
    parts = urlsplit(tile_url.replace("{s}.", "*."))
    return f"{parts.scheme}://{parts.netloc}"


# Plain pages served before Dash (no session yet) or outside it. Jinja escapes every value.
_HEAD = """<!doctype html><html lang="{{ 'zh-CN' if lang == 'zh_CN' else 'en' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<link rel="stylesheet" href="/assets/cityops.css"></head><body class="signin-body"><main class="signin">"""
LOGIN_PAGE = (
    _HEAD
    + """<h1>{{ city }}</h1><h2>{{ title }}</h2>
{% if message %}<p class="signin-message" role="alert">{{ message }}</p>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label>{{ labels.name }}<input name="name" autocomplete="username" autofocus required></label>
<label>{{ labels.password }}<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="btn">{{ labels.submit }}</button></form>
{% if demo %}<section class="signin-demo"><p>{{ demo_note }}</p><ul>
{% for name, role in demo_accounts %}<li><code>{{ name }}</code> — {{ role }}</li>{% endfor %}</ul>
<p>{{ demo_wall }}</p></section>{% endif %}
<p><a href="/login?lang={{ other[1] }}&amp;next={{ next|urlencode }}">{{ other[0] }}</a></p></main></body></html>"""
)
PAGE = (
    _HEAD
    + """<h1>{{ title }}</h1>{% for tag, text in content %}<p class="signin-message">{{ text }}</p>{% endfor %}
{% if form %}<form method="post"><input type="hidden" name="csrf_token" value="{{ form.csrf }}">
{% for name, label in form.fields %}<label>{{ label }}<input name="{{ name }}" type="password" required></label>
{% endfor %}<button type="submit" class="btn">{{ form.submit }}</button></form>{% endif %}
{% for href, text in links %}<p><a href="{{ href }}">{{ text }}</a></p>{% endfor %}</main></body></html>"""
)
