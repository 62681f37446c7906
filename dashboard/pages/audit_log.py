"""/admin/audit: the audit log for administrators — search by text, outcome and period, and export what is found
as CSV (the export is itself audited)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from dash import Input, Output, State, callback, dcc, html
from flask import Flask, Response, request

from dashboard import guard
from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import ACTION_LABELS, ROLE_LABELS
from dashboard.timefmt import local_time
from store import audit

PERIODS: dict[str, tuple[str, float | None]] = {
    "1d": (N_("Last 24 hours"), 86_400),
    "7d": (N_("Last 7 days"), 7 * 86_400),
    "30d": (N_("Last 30 days"), 30 * 86_400),
    "all": (N_("All"), None),
}
OUTCOME_LABELS = {"ok": N_("Done"), "refused": N_("Refused"), "failed": N_("Failed")}
# The log keeps actions as stable English names (what search and the export match); the page says them in the
# reader's language.
ACTION_NAMES = {
    "sign in": N_("Sign in"), "sign out": N_("Sign out"), "lock account": N_("Account locked"),
    "password change": N_("Password change"), "access": N_("Access"), "display open": N_("Wall display opened"),
    "display add": N_("Display link added"), "display revoke": N_("Display link revoked"),
    "user add": N_("User added"), "user set-role": N_("Role changed"), "user set-districts": N_("Districts changed"),
    "user disable": N_("User disabled"), "user enable": N_("User enabled"), "user reset-password": N_("Password reset"),
    "rules reload": N_("Rules reloaded"), "dead letter replay": N_("Dead letter replayed"),
    "alert export": N_("Alert exported as CAP"), "audit export": N_("Audit log exported"),
    "backup": N_("Backup made"), "restore": N_("Backup restored"), "org reload": N_("Organisation reloaded"),
    "task dispatch": N_("Task given"), "task sign": N_("Task signed for"), "task on_site": N_("On site"),
    "task feedback": N_("Task feedback"), "task report": N_("Task reported done"),
    "task verify": N_("Task verified"), "task return": N_("Task returned"),
}  # fmt: skip
SHOWN = 500  # rows on the page; the export has them all


def layout(context: AppContext, lang: str | None = None, q: str | None = None, outcome: str | None = None,
           period: str | None = None, **_query) -> html.Div:  # fmt: skip
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    return html.Div(
        className="admin audit-page",
        children=[
            dcc.Store(id="audit-lang", data=lang),
            html.Header(className="admin-header", children=[html.H1(t("Audit log"))]),
            html.Div(
                className="audit-filters",
                children=[
                    html.Label(
                        [
                            t("Search"),
                            dcc.Input(
                                id="audit-q",
                                type="search",
                                value=q or "",
                                debounce=True,
                                placeholder=t("user, action, alert …"),
                            ),
                        ]
                    ),  # fmt: skip
                    html.Label(
                        [
                            t("Outcome"),
                            dcc.Dropdown(
                                id="audit-outcome",
                                value=outcome if outcome in OUTCOME_LABELS else None,
                                options=[{"label": t(label), "value": v} for v, label in OUTCOME_LABELS.items()],
                                placeholder=t("All"),
                            ),
                        ]
                    ),  # fmt: skip
                    html.Label(
                        [
                            t("Period"),
                            dcc.Dropdown(
                                id="audit-period",
                                value=period if period in PERIODS else "7d",
                                clearable=False,
                                options=[{"label": t(label), "value": v} for v, (label, _) in PERIODS.items()],
                            ),
                        ]
                    ),  # fmt: skip
                    html.A(t("Export as CSV"), id="audit-export", className="btn", href="/api/audit.csv"),
                ],
            ),
            html.P(id="audit-count", role="status"),
            html.Div(id="audit-table"),
        ],
    )


def _filters(q: str | None, outcome: str | None, period: str | None) -> dict:
    seconds = PERIODS.get(period or "7d", PERIODS["7d"])[1]
    return {
        "text": (q or "")[:200],
        "outcome": outcome if outcome in OUTCOME_LABELS else "",
        "since": None if seconds is None else time.time() - seconds,
    }


def register_callbacks(context: AppContext) -> None:
    tz = context.settings.city.timezone

    @callback(
        Output("audit-table", "children"),
        Output("audit-count", "children"),
        Output("audit-export", "href"),
        Input("audit-q", "value"),
        Input("audit-outcome", "value"),
        Input("audit-period", "value"),
        State("audit-lang", "data"),
    )
    def search(q, outcome, period, lang):
        t = translator(lang)
        entries = audit.search(context.accounts, limit=SHOWN + 1, **_filters(q, outcome, period))
        query = {k: v for k, v in (("q", q), ("outcome", outcome), ("period", period)) if v}
        href = "/api/audit.csv" + (f"?{urlencode(query)}" if query else "")
        header = html.Tr([html.Th(t(h)) for h in (N_("Time"), N_("Who"), N_("Role"), N_("Action"), N_("Target"),
                                                  N_("Outcome"), N_("Detail"), N_("Address"))])  # fmt: skip
        rows = [
            html.Tr(
                className=f"audit-{e.outcome}",
                children=[
                    html.Td(local_time(e.when, tz, "%Y-%m-%d %H:%M:%S")),
                    html.Td(e.actor),
                    html.Td(t(ROLE_LABELS[e.role]) if e.role in ROLE_LABELS else e.role),
                    html.Td(_action_name(e.action, t)),
                    html.Td(e.target),
                    html.Td(t(OUTCOME_LABELS[e.outcome])),
                    html.Td(e.detail),
                    html.Td(e.address),
                ],
            )  # fmt: skip
            for e in entries[:SHOWN]
        ]
        count = (t("The newest {n} entries are shown; the export has them all.", n=SHOWN) if len(entries) > SHOWN
                 else t("{n} entries", n=len(entries)))  # fmt: skip
        return html.Table([html.Thead(header), html.Tbody(rows)], className="audit-table"), count, href


def _action_name(action: str, t) -> str:
    if action in ACTION_NAMES:
        return t(ACTION_NAMES[action])
    verb = action.removeprefix("alert ")
    if verb in ACTION_LABELS:
        return t("Alert: {action}", action=t(ACTION_LABELS[verb]))
    return action


def register_export(server: Flask, accounts) -> None:
    @server.get("/api/audit.csv")
    def export():
        args = request.args
        entries = audit.search(accounts, limit=None, **_filters(args.get("q"), args.get("outcome"), args.get("period")))
        guard.record("audit export", "", detail=f"{len(entries)} entries; filter {dict(args)}")
        response = Response(audit.to_csv(entries), mimetype="text/csv")
        response.headers["Content-Disposition"] = 'attachment; filename="cityops-audit.csv"'
        return response
