"""The Dash application object: the pages, the sign-in, the map layers, the news, CAP export and the health report,
on one Flask server behind one guard."""

from __future__ import annotations

import gzip
from functools import partial
from pathlib import Path

import dash
from dash import Dash, dcc, html
from flask import Response, g, redirect, request

from access import policy
from access.policy import permission_allowed
from alerts.chain import Chain
from alerts.org import Organisation
from alerts.rules import Sop
from alerts.time_limits import TimeLimits
from dashboard import cap_export, guard, handover_page, health, inbox, layers_api, news, report_pages
from dashboard.context import AppContext
from dashboard.i18n import LANGUAGE_COOKIE, LANGUAGES, page_language, translator
from dashboard.labels import ROLE_LABELS
from dashboard.pages import (
    audit_log,
    duty,
    entity,
    feeds_admin,
    figures,
    history,
    region,
    scorecards,
    tablet,
    wall,
)
from dashboard.plain_pages import plain_text
from dashboard.settings import DashboardSettings
from dashboard.signin import SignIn
from dashboard.snapshot import Snapshots
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from store.accounts import Accounts
from store.attachments import AttachmentFiles, beside
from store.database import Store
from store.leadership import Leadership
from store.records import ENDED_STATES
from store.writer import Writer
from supervision.facts import Facts
from supervision.reports import reports_folder

# The CSS and the scripts the pages and the maps call (dash-leaflet's functions), shipped inside the package.
ASSETS = Path(__file__).resolve().parent / "assets"


def create_app(
    settings: DashboardSettings,
    store: Store,
    regions: RegionIndex,
    accounts: Accounts,
    writer: Writer | None = None,
    time_limits: TimeLimits | None = None,
    sops: dict[str, Sop] | None = None,
    *,
    reference: ReferenceLayers | None = None,
    org: Organisation | None = None,
    chain: Chain | None = None,
    attachments: AttachmentFiles | None = None,
    facts: Facts | None = None,
    leadership: Leadership | None = None,
) -> Dash:
    """`time_limits` gives the duty desk its countdowns; `sops` (the rule file's, updated in place when the rules
    are reloaded) its checklists; `facts` the figures pages their incidents' figures (kept here from the store
    when not given). Every request passes the guard (dashboard/guard.py) first."""
    snapshots = Snapshots(
        store,
        stale_after_s={feed.id: feed.stale_after_s for feed in settings.feeds},
        timezone=settings.city.timezone,
        time_limits=time_limits,
    )
    snapshots.start()
    reference = reference if reference is not None else ReferenceLayers()
    if facts is None:
        facts = Facts(store, time_limits.calendar if time_limits is not None else None)
    context = AppContext(settings, store, regions, snapshots, {} if sops is None else sops, accounts, writer,
                         reference, org, chain, facts)  # fmt: skip
    request_guard = guard.Guard(accounts, settings, regions)
    t = translator(settings.web.language)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title=t("{city} City Operations Center", city=settings.city.name_zh),
        suppress_callback_exceptions=True,
        update_title=None,  # no "Updating..." flicker in the tab title on every tick
        csrf_token_name=guard.CSRF_COOKIE,  # the renderer sends this cookie's value as X-CSRFToken
        assets_ignore=r"cityops_inbox\.js",  # the inbox's own (a plain page), served but not put in Dash's pages
    )
    app.server.before_request_funcs.setdefault(None, []).insert(0, request_guard.check)  # before Dash's own hooks
    app.server.extensions["cityops_guard"] = request_guard
    request_guard.callback_map = app.callback_map
    app.server.extensions["cityops_snapshots"] = snapshots
    pages = (
        ("wall", {"path": "/wall"}, wall, t("{city} City Operations Center", city=settings.city.name_zh)),
        ("duty", {"path": "/duty"}, duty, t("Duty desk")),
        ("tablet", {"path": "/tablet"}, tablet, t("District")),
        ("feeds-admin", {"path": "/admin/feeds"}, feeds_admin, t("Feeds and dead letters")),
        ("audit", {"path": "/admin/audit"}, audit_log, t("Audit log")),
        ("history", {"path": "/history"}, history, t("History")),
        ("figures", {"path": "/figures"}, figures, t("Figures")),
        ("scorecards", {"path": "/scorecards"}, scorecards, t("Data quality")),
        ("region", {"path_template": "/region/<region_id>"}, region, t("Drill-down")),
        ("entity", {"path_template": "/entity/<entity_id>"}, entity, t("Drill-down")),
    )
    for name, where, page, title in pages:
        dash.register_page(name, **where, layout=partial(page.layout, context), title=title)
        with request_guard.page_callbacks(name):
            page.register_callbacks(context)
    unclaimed = request_guard.unclaimed_callbacks()
    if unclaimed:
        raise RuntimeError(f"callbacks registered outside a page, so without an access rule: {unclaimed}")
    app.layout = partial(_shell, settings)
    layers_api.register(app.server, regions, snapshots, reference)
    news.register(app.server, snapshots, settings.web.threads)
    SignIn(accounts, settings).register(app.server)

    @app.server.get("/healthz")
    def alive() -> Response:
        """For a load balancer: answers anyone."""
        return plain_text("ok\n", 200)

    app.server.after_request(partial(request_guard.headers, app=app))

    @app.server.after_request
    def remember_language(response: Response) -> Response:
        """`?lang=` is kept: as the user's setting, and in a cookie for a browser without an account (a wall)."""
        lang = request.args.get("lang") if request.method == "GET" else None
        if lang not in LANGUAGES:
            return response
        if request.cookies.get(LANGUAGE_COOKIE) != lang:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Lax")
        principal = g.get("principal")
        if principal is not None and principal.role != policy.DISPLAY and principal.language != lang:
            accounts.set_language(principal.name, lang)
        return response

    @app.server.after_request
    def compress_updates(response: Response) -> Response:
        """Callback answers gzipped: the wall's device statuses are one letter per device, large at city scale and
        very repetitive (the map layers are gzipped where they are served, layers_api)."""
        if (
            request.path == "/_dash-update-component"
            and response.status_code == 200
            and "gzip" in request.headers.get("Accept-Encoding", "")
            and "Content-Encoding" not in response.headers
            and response.content_length is not None
            and response.content_length > 1024
        ):
            response.set_data(gzip.compress(response.get_data(), compresslevel=5))
            response.headers["Content-Encoding"] = "gzip"
            response.vary.add("Accept-Encoding")
        return response

    @app.server.before_request
    def ended_go_to_history():
        """The duty desk holds what is open; asked for closed or cancelled work, it sends to the history."""
        if request.path == "/duty" and request.args.get("status") in ENDED_STATES:
            lang = request.args.get("lang")
            return redirect(f"/history?state={request.args['status']}" + (f"&lang={lang}" if lang in LANGUAGES else ""))
        return None

    @app.server.get("/alert/<int:alert_id>")
    def alert_link(alert_id: int):
        # An alert's own URL: its detail and timeline on the duty desk.
        lang = request.args.get("lang")
        return redirect(f"/duty?alert={alert_id}" + (f"&lang={lang}" if lang in ("zh_CN", "en") else ""))

    if chain is not None:
        files = attachments or AttachmentFiles(beside(store.path), 1024 * 1024, store)
        inbox.register(app.server, chain, regions, files, settings)
    health.register(app.server, store, writer, snapshots, leadership)
    cap_export.register(app.server, store, regions, settings.city)
    audit_log.register_export(app.server, accounts)
    history.register_exports(app.server, context)
    handover_page.register(app.server, store, settings.city.timezone, settings.web.language)
    report_pages.register(app.server, store, reports_folder(store.path), regions, org, settings.city.timezone,
                          settings.web.language)  # fmt: skip
    return app


def stop_app(app: Dash) -> None:
    """Stop what the app runs in the background (the snapshot thread), before the store it reads is closed."""
    app.server.extensions["cityops_snapshots"].stop()


def _shell(settings: DashboardSettings) -> html.Div:
    """Every page, with the signed-in user's name, links to what their role may open, and signing out."""
    principal = g.get("principal")
    if principal is None or principal.role == policy.DISPLAY:
        return html.Div([dash.page_container])
    t = translator(page_language(None, settings.web.language))
    links = [(t("Shift handover"), "/handover", "handover"), (t("Figures"), "/figures", "supervise"),
             (t("History"), "/history", "supervise"), (t("Reports"), "/reports", "supervise"),
             (t("Feeds"), "/admin/feeds", "feeds"), (t("Audit log"), "/admin/audit", "audit"),
             (t("Change password"), "/account/password", "account")]  # fmt: skip
    bar = html.Form(
        className="account-bar",
        method="post",
        action="/logout",
        children=[
            html.Span(f"{principal.name} · {t(ROLE_LABELS[principal.role])}", className="account-name"),
            *[
                html.A(label, href=href)
                for label, href, permission in links
                if permission_allowed(principal, permission)
            ],
            dcc.Input(type="hidden", name="csrf_token", value=principal.csrf),
            html.Button(t("Sign out"), type="submit", className="account-signout"),
        ],
    )
    return html.Div([dash.page_container, bar])
