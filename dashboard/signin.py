"""Signing in and out, and changing one's password: the plain pages before Dash, the demo's accounts, and the
accounts a fresh install starts with."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, redirect, request

from access.policy import Principal
from dashboard.guard import CSRF_COOKIE, DISPLAY_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, current, home, record
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import ROLE_LABELS
from dashboard.plain_pages import LOGIN_PAGE, PAGE, render
from dashboard.settings import DashboardSettings
from store import audit
from store.accounts import DEVICE_TOKENS, MIN_PASSWORD, NAME_MAX, PASSWORD_MAX, AccountError, Accounts

# The browsers a user signed in with: a guesser's failures at the name do not slow these down.
DEVICE_COOKIE = "cityops_device"
DEVICE_DAYS = 365
DEMO_ACCOUNTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin", "admin", ()), ("supervisor", "supervisor", ()), ("duty", "duty_officer", ()),
    ("leader", "district_leader", ("130606",)), ("viewer", "viewer", ()),
)  # fmt: skip
# A few of the demo organisation's people (cityops/demo/org.yaml), one at each level of its chain.
DEMO_CHAIN: tuple[tuple[str, str], ...] = (
    ("duty-130606", N_("Lianchi District Centre, duty officer")),
    ("duty-130606009", N_("Yonghua Subdistrict Centre, duty officer")),
    ("grid-130606009-g01", N_("Grid worker, on a phone")),
    ("duty-fire-130629", N_("Rongcheng County Fire Brigade")),
)
DEMO_PASSWORD = "demo-{name}"  # documented in README.md and on the demo's sign-in page
DEMO_DISPLAY_TOKEN = "demo-wall"


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


class SignIn:
    def __init__(self, accounts: Accounts, settings: DashboardSettings):
        self.accounts = accounts
        self.settings = settings

    def register(self, server: Flask) -> None:
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
            response.headers["Clear-Site-Data"] = '"cache"'  # the map layers the browser kept for this session
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
        response = render(
            LOGIN_PAGE,
            401 if message and request.method == "POST" else 200,
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
            demo_accounts=[(name, t(ROLE_LABELS[role])) for name, role, _ in DEMO_ACCOUNTS]
            + [(name, t(label)) for name, label in DEMO_CHAIN]
            if demo
            else [],
            demo_wall=t("The wall display: /wall?token={token}", token=DEMO_DISPLAY_TOKEN),
            other=("English", "en") if lang == "zh_CN" else ("中文", "zh_CN"),
        )
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure)
        return response

    def _sign_in(self, name: str, password: str, next_path: str, t) -> Response | str:
        address = request.remote_addr or ""
        devices = request.cookies.get(DEVICE_COOKIE, "").split(".")
        result = self.accounts.sign_in(name, password, address, devices, self.settings.auth.slowdown())
        if result.outcome != "ok":
            detail = {"wrong": "wrong name or password", "wait": "too many failures: waiting",
                      "disabled": "account disabled"}[result.outcome]  # fmt: skip
            shown = name if len(name) <= NAME_MAX else name[:NAME_MAX] + "…"  # what anyone typed, kept short
            audit.record(self.accounts, shown or "(empty)", "sign in", shown, "refused", detail, address=address)
            if result.outcome == "wait":
                seconds = max(1, round(result.until - time.time()))
                if seconds <= 120:
                    return t("Too many failed sign-ins. Wait {seconds} s and try again.", seconds=seconds)
                until = datetime.fromtimestamp(result.until, ZoneInfo(self.settings.city.timezone))
                return t("Too many failed sign-ins. Try again after {time}.", time=f"{until:%H:%M}")
            return t("Wrong user name or password.")
        user = result.user
        audit.record(self.accounts, user.name, "sign in", user.name, role=user.role, address=address)
        principal = Principal(user.name, user.role, user.districts, by_task=user.by_task)
        target = "/account/password" if user.must_change else next_path or home(principal)
        response = self._new_session(redirect(target), user.name)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        response.delete_cookie(DISPLAY_COOKIE)
        if not self.accounts.known_device(user.name, devices):
            kept = [self.accounts.trust_device(user.name), *(d for d in devices if d)][:DEVICE_TOKENS]
            response.set_cookie(DEVICE_COOKIE, ".".join(kept), max_age=DEVICE_DAYS * 86_400, httponly=True,
                                samesite="Strict", secure=request.is_secure)  # fmt: skip
        return response

    def _new_session(self, response: Response, name: str) -> Response:
        """A session of its own for this browser, in its cookies."""
        token, csrf = self.accounts.open_session(name, request.remote_addr or "")
        secure = request.is_secure
        max_age = int(self.settings.auth.session_hours * 3600)
        response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="Lax", secure=secure)
        response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, samesite="Strict", secure=secure)
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
                    "long": t("A password has at most {n} characters.", n=PASSWORD_MAX),
                    "name": t("The password may not be your user name."),
                    "same": t("The new password must differ from the current one."),
                    "current": t("The current password is not right."),
                    "repeat": t("The two new passwords differ."),
                }[exc.code]
                record("password change", principal.name, "refused", str(exc))
            else:
                record("password change", principal.name)
                # Whoever held the old password may hold a session made with it: every session of the user ends,
                # this one too, and this browser goes on in a new one.
                self.accounts.close_sessions(principal.name)
                return self._new_session(redirect(home(principal)), principal.name)
        return render(
            PAGE,
            200 if request.method == "GET" else 400,
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


def _local_path(value: str) -> str:
    """`next=` only ever leads within this site. A browser drops tabs and line breaks from a URL and reads a
    backslash as a slash, so a slash, a tab and /host would lead to //host: a path with any of them is not taken."""
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return ""
    return value if value.startswith("/") and not value.startswith("//") else ""
