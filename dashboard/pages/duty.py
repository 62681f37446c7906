"""/duty: the duty officer's desk — the queue of open alerts, one alert's detail and timeline, and its actions.

Every action goes through alerts.actions.act, which checks it against the lifecycle table; a refused action is
shown as a message. The queue refreshes when the data version changes and keeps the officer's selection.
The full console (keyboard shortcuts, countdowns, filters, sound) is issue 5's; this page makes every action
reachable now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from alerts.actions import act
from alerts.lifecycle import TransitionError, allowed_actions
from dashboard.i18n import N_, normalize_language, translator
from dashboard.pages.wall import SEVERITY_LABELS, STATE_NAMES
from dashboard.timefmt import local_time
from store import alerts as alert_store

ACTION_LABELS = {
    "acknowledge": N_("Acknowledge"), "dispatch": N_("Dispatch"), "start": N_("Start work"),
    "resolve": N_("Resolve"), "close": N_("Verify and close"), "reopen": N_("Reopen"), "return": N_("Return"),
    "cancel": N_("Cancel"), "snooze": N_("Snooze"), "escalate": N_("Escalate"), "comment": N_("Comment"),
    "fire": N_("Raised by rule"), "refire": N_("Condition again"), "clear": N_("Condition cleared"),
    "overdue": N_("Time limit passed"),
}  # fmt: skip
ACTOR = "duty desk"  # until accounts exist (issue 6), actions are recorded as the duty desk's


def layout(context, lang: str | None = None, alert: str | None = None, **_query) -> html.Div:
    lang = normalize_language(lang, context.settings.web.language)
    t = translator(lang)
    selected = int(alert) if alert and alert.isdigit() else None
    return html.Div(
        className="duty",
        children=[
            dcc.Store(id="duty-lang", data=lang),
            dcc.Store(id="duty-seen"),
            dcc.Interval(id="duty-tick", interval=2000),
            html.Header(
                className="duty-header",
                children=[html.H1(t("Duty desk")), html.A(t("Video wall"), href=f"/wall?lang={lang}")],
            ),
            html.Main(
                className="duty-main",
                children=[
                    html.Section(
                        className="duty-queue",
                        children=[
                            html.H2(t("Open alerts")),
                            dcc.RadioItems(id="duty-alerts", options=[], value=selected, className="duty-list"),
                        ],
                    ),
                    html.Section(
                        className="duty-detail",
                        children=[
                            html.Div(id="duty-summary"),
                            html.Div(
                                className="duty-form",
                                children=[
                                    dcc.Dropdown(id="duty-action", placeholder=t("Action"), clearable=False),
                                    dcc.Dropdown(
                                        id="duty-unit",
                                        placeholder=t("Unit (for dispatch)"),
                                        options=[
                                            {"label": u.name_zh if lang == "zh_CN" else u.name_en, "value": u.id}
                                            for u in context.settings.units
                                        ],
                                    ),
                                    dcc.Input(id="duty-note", placeholder=t("Note"), type="text", debounce=False),
                                    dcc.Input(
                                        id="duty-snooze",
                                        placeholder=t("Snooze minutes"),
                                        type="number",
                                        min=1,
                                        max=1440,
                                    ),  # fmt: skip
                                    html.Button(t("Apply"), id="duty-apply", n_clicks=0),
                                ],
                            ),
                            html.Div(id="duty-message", className="duty-message", role="status"),
                            html.H3(t("Timeline")),
                            html.Ol(id="duty-timeline", className="duty-timeline"),
                        ],
                    ),
                ],
            ),
        ],
    )


def register_callbacks(context) -> None:
    store = context.store
    snapshots = context.snapshots
    tz = context.settings.city.timezone
    units = {u.id: u for u in context.settings.units}

    @callback(
        Output("duty-alerts", "options"),
        Output("duty-seen", "data"),
        Input("duty-tick", "n_intervals"),
        State("duty-seen", "data"),
        State("duty-lang", "data"),
    )
    def queue(_n, seen, lang):
        if seen == snapshots.current_key():
            raise PreventUpdate
        snap = snapshots.get()
        t = translator(lang)
        options = []
        for row in snap.alerts.itertuples(index=False):
            overdue = len(row.overdue_stages) > 0
            options.append(
                {
                    "value": int(row.id),
                    "label": html.Span(
                        className=f"queue-row sev-{row.severity}" + (" overdue" if overdue else ""),
                        children=[
                            html.Span(t(SEVERITY_LABELS[row.severity]), className="event-sev"),
                            html.Span(row.title_zh if lang == "zh_CN" else row.title_en, className="event-title"),
                            html.Span(t(STATE_NAMES[row.state]), className="alert-state"),
                            html.Span(t("Overdue"), className="overdue-badge") if overdue else None,
                        ],
                    ),
                }
            )
        return options, snap.key

    @callback(
        Output("duty-summary", "children"),
        Output("duty-timeline", "children"),
        Output("duty-action", "options"),
        Input("duty-alerts", "value"),
        Input("duty-seen", "data"),
        State("duty-lang", "data"),
    )
    def detail(alert_id, _seen, lang):
        t = translator(lang)
        if alert_id is None:
            return html.P(t("Choose an alert from the queue.")), [], []
        cur = store.cursor()
        alert = alert_store.get(cur, int(alert_id))
        if alert is None:
            return html.P(t("There is no such alert.")), [], []
        unit = units.get(alert["unit_id"]) if alert["unit_id"] else None
        severity, state = SEVERITY_LABELS[alert["severity"]], STATE_NAMES[alert["state"]]
        summary = html.Div(
            className=f"summary sev-{alert['severity']}",
            children=[
                html.H2(alert["title_zh"] if lang == "zh_CN" else alert["title_en"]),
                html.P(alert["message_zh"] if lang == "zh_CN" else alert["message_en"]),
                html.Dl(
                    [
                        html.Dt(t("Severity")),
                        html.Dd(t(severity)),
                        html.Dt(t("State")),
                        html.Dd(t(state)),
                        html.Dt(t("Condition")),
                        html.Dd(t("Still holds") if alert["condition"] == "active" else t("Cleared")),
                        html.Dt(t("Unit")),
                        html.Dd((unit.name_zh if lang == "zh_CN" else unit.name_en) if unit else alert["unit_type"]),
                        html.Dt(t("Raised")),
                        html.Dd(local_time(alert["created_at"], tz)),
                    ]
                ),  # fmt: skip
                html.A(t("Export as CAP"), href=f"/api/alerts/{alert['id']}.cap", className="cap-link"),
            ],
        )
        entries = [
            html.Li(
                [
                    html.Span(local_time(e["ts"], tz), className="event-time"),
                    html.B(t(ACTION_LABELS.get(e["action"], e["action"]))),
                    html.Span(e["actor"], className="actor"),
                    html.Span(e["note"], className="note"),
                ]
            )
            for e in alert_store.timeline(cur, int(alert_id))
        ]
        actions = [{"label": t(ACTION_LABELS[a]), "value": a} for a in allowed_actions(alert["state"])]
        return summary, entries, actions

    @callback(
        Output("duty-message", "children"),
        Output("duty-note", "value"),
        Input("duty-apply", "n_clicks"),
        State("duty-alerts", "value"),
        State("duty-action", "value"),
        State("duty-unit", "value"),
        State("duty-note", "value"),
        State("duty-snooze", "value"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def apply(_clicks, alert_id, action, unit_id, note, snooze_minutes, lang):
        t = translator(lang)
        if alert_id is None or not action:
            return t("Choose an alert and an action."), no_update
        try:
            act(
                store,
                int(alert_id),
                action,
                actor=ACTOR,
                now=datetime.now(UTC),
                note=note or "",
                unit_id=unit_id,
                snooze_for=timedelta(minutes=float(snooze_minutes)) if snooze_minutes else None,
            )
        except TransitionError as exc:
            return t("Not done: {reason}", reason=str(exc)), no_update
        return t("Done: {action}", action=t(ACTION_LABELS[action])), ""
