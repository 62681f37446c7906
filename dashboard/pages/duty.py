"""/duty: the duty officer's console — the queue of open alerts against their time limits, one alert's detail, and
every action, all reachable from the keyboard.

The queue is ordered overdue first, then by severity and the nearest time limit; each row counts down to its limit in
the browser (assets/cityops_duty.js), so the server sends the queue only when the data changes. Selection and the
bulk-acknowledge marks live in the browser and survive every refresh; the selection and the filters are kept in the
URL, so a link opens the same picture. Every action goes through alerts.actions.act, which checks it against the
access policy and the lifecycle table; a refusal is said in the officer's language.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dash_leaflet as dl
import pandas as pd
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from access import policy
from alerts.actions import act, checked_steps
from alerts.lifecycle import NOTE_REQUIRED, OPEN_STATES, TransitionError, allowed_actions
from dashboard import guard
from dashboard.charts import history_chart
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import ACTION_LABELS, ALERT_STATE_LABELS, DOMAIN_LABELS, SEVERITY_LABELS
from dashboard.minimap import minimap
from dashboard.navigation import entity_href, region_href
from dashboard.snapshot import alert_feature
from dashboard.timefmt import local_time
from store import alerts as alert_store
from store import queries
from store.records import DOMAINS, severity_rank

# The keys of the console (assets/cityops_duty.js reads them from the buttons' data-key).
ACTION_KEYS = {"acknowledge": "a", "dispatch": "d", "start": "s", "resolve": "r", "close": "v", "reopen": "o",
               "return": "b", "cancel": "x", "snooze": "z", "escalate": "e", "comment": "c"}  # fmt: skip
SHORTCUTS = [
    ("↓ / j", N_("Next alert")), ("↑ / k", N_("Previous alert")), ("Space", N_("Mark for bulk acknowledge")),
    ("Shift+A", N_("Acknowledge the marked alerts")), *((k, ACTION_LABELS[a]) for a, k in ACTION_KEYS.items()),
    ("Enter", N_("Confirm the dialog")), ("Esc", N_("Close the dialog or this help")),
    ("/", N_("Go to the filters")), ("m", N_("Sound on / off")), ("?", N_("Show or hide this help")),
]  # fmt: skip
STAGE_LABELS = {"acknowledge": N_("Acknowledge within"), "dispatch": N_("Dispatch within"),
                "resolve": N_("Resolve within")}  # fmt: skip
REFUSALS = {
    "missing": N_("There is no such alert."),
    "unknown": N_("That action is not known."),
    "needs_note": N_("{action} needs a note saying why."),
    "needs_unit": N_("{action} needs the unit to send it to."),
    "needs_time": N_("{action} needs a time to snooze for."),
    "needs_step": N_("{action} needs the checklist step."),
    "snooze_new": N_("A new alert cannot be snoozed: acknowledge it first."),
    "not_allowed": N_("An alert that is {state} cannot be given “{action}”."),
    "forbidden": N_("Your role or districts do not allow “{action}” on this alert."),
}
# Actions that ask for something first (a unit, a time or a note) open the dialog; the others are done at once.
DIALOG_ACTIONS = frozenset({"dispatch", "snooze"} | NOTE_REQUIRED)
CHART_REFRESH_MS = 5000  # as the entity page's chart
ALARMING = ("red", "orange")  # a new alert of these sounds and flashes until acknowledged


def layout(
    context,
    lang: str | None = None,
    alert: str | None = None,
    domain: str | None = None,
    district: str | None = None,
    status: str | None = None,
    unit: str | None = None,
    **_query,
) -> html.Div:
    settings = context.settings
    lang = page_language(lang, settings.web.language)
    t = translator(lang)
    other = "en" if lang == "zh_CN" else "zh_CN"
    selected = int(alert) if alert and alert.isdigit() else None
    units = [{"label": _unit_name(u, lang), "value": u.id} for u in settings.units]
    principal = guard.current()
    districts = [{"label": r.name(lang), "value": r.id} for r in context.regions.level("district")
                 if principal.sees(r.id)]  # fmt: skip
    filters = [
        _filter(
            "duty-filter-domain",
            t("Domain"),
            [{"label": t(DOMAIN_LABELS.get(d, d)), "value": d} for d in DOMAINS],
            domain,
        ),  # fmt: skip
        _filter("duty-filter-district", t("District"), districts, district),
        _filter(
            "duty-filter-status",
            t("Status"),
            [{"label": t(ALERT_STATE_LABELS[s]), "value": s} for s in ALERT_STATE_LABELS if s in OPEN_STATES],
            status,
        ),  # fmt: skip
        _filter("duty-filter-unit", t("Unit"), units, unit),
    ]
    return html.Div(
        className="duty",
        **{"data-muted-label": t("Sound off"), "data-unmuted-label": t("Sound on")},
        children=[
            dcc.Store(id="duty-lang", data=lang),
            dcc.Store(id="duty-seen"),
            dcc.Store(id="duty-selected", data=selected),
            dcc.Store(id="duty-checked", data=[]),
            dcc.Store(id="duty-detail-seen"),
            dcc.Store(id="duty-dialog-action"),
            dcc.Store(id="duty-marked"),
            dcc.Interval(id="duty-tick", interval=settings.web.refresh_ms),
            dcc.Interval(id="duty-chart-tick", interval=CHART_REFRESH_MS),
            html.Header(
                className="duty-header",
                children=[
                    html.H1(t("Duty desk")),
                    html.Div(id="duty-counts", className="duty-counts", role="status"),
                    html.Button(
                        id="duty-mute",
                        className="duty-mute",
                        title=t("Sound on / off") + " (m)",
                        children=t("Sound on"),
                    ),  # fmt: skip
                    html.Button("?", id="duty-help-open", className="duty-help-open", title=t("Keyboard shortcuts")),
                    html.A("English" if lang == "zh_CN" else "中文", href=f"/duty?lang={other}", className="duty-lang"),
                    html.A(t("Video wall"), href=f"/wall?lang={lang}"),
                ],
            ),
            html.Div(
                className="duty-filters",
                children=[
                    *filters,
                    html.Button(
                        id="duty-bulk",
                        className="duty-bulk",
                        n_clicks=0,
                        disabled=True,
                        children=t("Acknowledge marked") + " (Shift+A)",
                    ),  # fmt: skip
                ],
            ),
            html.Main(
                className="duty-main",
                children=[
                    html.Section(
                        className="duty-queue",
                        children=html.Div(id="duty-queue", role="listbox", **{"aria-label": t("Open alerts")}),
                    ),
                    html.Section(
                        className="duty-detail",
                        children=[
                            html.Div(id="duty-summary"),
                            html.Div(id="duty-actions", className="duty-actions"),
                            html.Div(id="duty-message", className="duty-message", role="status"),
                            html.Div(
                                className="duty-panes",
                                children=[
                                    html.Div(
                                        className="duty-pane",
                                        children=[
                                            html.Div(id="duty-sop", className="duty-sop"),
                                            html.H3(t("Timeline")),
                                            html.Ol(id="duty-timeline", className="duty-timeline"),
                                        ],
                                    ),
                                    html.Div(
                                        className="duty-pane",
                                        children=[
                                            html.Div(id="duty-chart"),
                                            html.Div(id="duty-map", className="duty-map"),
                                        ],
                                    ),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
            _dialog(t, units),
            _help(t),
        ],
    )


def _filter(component_id: str, label: str, options: list[dict], value: str | None) -> html.Label:
    known = {o["value"] for o in options}
    return html.Label(
        className="duty-filter",
        children=[
            html.Span(label),
            dcc.Dropdown(
                id=component_id,
                options=options,
                value=value if value in known else None,
                placeholder=label,
                clearable=True,
            ),  # fmt: skip
        ],
    )


def _dialog(t, units: list[dict]) -> html.Div:
    return html.Div(
        id="duty-dialog",
        className="duty-dialog hidden",
        role="dialog",
        **{"aria-modal": "true", "aria-labelledby": "duty-dialog-title"},
        children=html.Div(
            className="dialog-box",
            children=[
                html.H2(id="duty-dialog-title"),
                html.Div(
                    id="duty-dialog-unit",
                    children=[html.H3(t("Unit")), dcc.RadioItems(id="duty-unit", options=units, className="unit-list")],
                ),
                html.Label(
                    id="duty-dialog-minutes",
                    children=[
                        t("Snooze minutes"),
                        dcc.Input(id="duty-minutes", type="number", min=1, max=1440, value=30),
                    ],  # fmt: skip
                ),
                html.Label([t("Note"), dcc.Input(id="duty-note", type="text", debounce=False, autoComplete="off")]),
                html.Div(id="duty-dialog-message", className="duty-message", role="alert"),
                html.Div(
                    className="dialog-buttons",
                    children=[
                        html.Button(t("Confirm") + " (Enter)", id="duty-confirm", n_clicks=0),
                        html.Button(t("Cancel") + " (Esc)", id="duty-dialog-close", n_clicks=0),
                    ],
                ),
            ],
        ),
    )


def _help(t) -> html.Div:
    return html.Div(
        id="duty-help",
        className="duty-help hidden",
        role="dialog",
        **{"aria-label": t("Keyboard shortcuts")},
        children=html.Div(
            className="dialog-box",
            children=[
                html.H2(t("Keyboard shortcuts")),
                html.Table(
                    html.Tbody([html.Tr([html.Td(html.Kbd(key)), html.Td(t(what))]) for key, what in SHORTCUTS])
                ),  # fmt: skip
                html.Button(t("Close") + " (Esc)", id="duty-help-close", n_clicks=0),
            ],
        ),
    )


def refusal(exc: TransitionError, t) -> str:
    """A refused action, said in the officer's language."""
    template = REFUSALS.get(exc.code, REFUSALS["not_allowed"])
    return t(template, action=t(ACTION_LABELS.get(exc.action, exc.action)) if exc.action else "",
             state=t(ALERT_STATE_LABELS[exc.state]) if exc.state in ALERT_STATE_LABELS else exc.state)  # fmt: skip


def ordered(alerts: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Overdue first, then severity, then the nearest time limit, then the newest; snoozed alerts after the rest.
    `alerts` are the snapshot's (with due and overdue); a `snoozed` column is added."""
    if alerts.empty:
        return alerts.assign(snoozed=[])
    out = alerts.assign(
        snoozed=[not pd.isna(s) and s > now for s in alerts["snoozed_until"]],
        rank=alerts["severity"].map(severity_rank),
        due_sort=[d.timestamp() if d is not None else float("inf") for d in alerts["due"]],
        created_sort=[-pd.Timestamp(c).timestamp() for c in alerts["created_at"]],
    )
    keys = ["snoozed", "overdue", "rank", "due_sort", "created_sort"]
    out = out.sort_values(keys, ascending=[True, False, True, True, True])
    return out.drop(columns=["rank", "due_sort", "created_sort"])


def register_callbacks(context) -> None:
    store, snapshots, regions = context.store, context.snapshots, context.regions
    tz = context.settings.city.timezone
    units = {u.id: u for u in context.settings.units}

    @callback(
        Output("duty-queue", "children"),
        Output("duty-counts", "children"),
        Output("duty-seen", "data"),
        Input("duty-tick", "n_intervals"),
        Input("duty-filter-domain", "value"),
        Input("duty-filter-district", "value"),
        Input("duty-filter-status", "value"),
        Input("duty-filter-unit", "value"),
        State("duty-seen", "data"),
        State("duty-lang", "data"),
    )
    def queue(_n, domain, district, status, unit_id, seen, lang):
        if ctx.triggered_id == "duty-tick" and seen == snapshots.current_key():
            raise PreventUpdate
        snap = snapshots.get(current=ctx.triggered_id != "duty-tick")  # after an action or a filter: as it is now
        t = translator(lang)
        now = datetime.now(UTC)
        alerts = policy.in_scope(guard.current(), snap.alerts)
        if domain:
            alerts = alerts[alerts["domain"] == domain]
        if district:
            alerts = alerts[alerts["district_id"] == district]
        if status:
            alerts = alerts[alerts["state"] == status]
        if unit_id in units:
            alerts = alerts[(alerts["unit_id"] == unit_id)
                            | (alerts["unit_id"].isna() & (alerts["unit_type"] == units[unit_id].type))]  # fmt: skip
        alerts = ordered(alerts, now)
        rows = [_queue_row(a, t, lang, tz) for a in alerts.itertuples(index=False)]
        if not rows:
            rows = [html.P(t("No open alert matches.") if (domain or district or status or unit_id)
                           else t("No open alerts"), className="queue-empty")]  # fmt: skip
        counts = [
            html.Span(t("{n} open", n=len(alerts)), className="count"),
            html.Span(
                t("{n} overdue", n=int(alerts["overdue"].sum())),
                className="count count-overdue" if alerts["overdue"].any() else "count",
            ),  # fmt: skip
            html.Span(t("{n} new", n=int((alerts["state"] == "new").sum())), className="count"),
        ]
        return rows, counts, snap.key

    def _queue_row(a, t, lang: str, tz: str) -> html.Div:
        region = regions.get(a.district_id) if isinstance(a.district_id, str) else None
        alarm = a.state == "new" and a.severity in ALARMING
        severity, state = SEVERITY_LABELS[a.severity], ALERT_STATE_LABELS[a.state]
        classes = ["q-row", f"sev-{a.severity}", f"state-{a.state}"]
        classes += ["overdue"] * a.overdue + ["alarm"] * alarm + ["snoozed"] * a.snoozed
        if a.snoozed:
            clock = html.Span(t("Snoozed until {time}", time=local_time(a.snoozed_until, tz, "%H:%M")),
                              className="q-due")  # fmt: skip
        elif a.due is not None:
            clock = html.Span(className="q-due", **{"data-due": a.due.isoformat(),
                                                    "data-label": t(STAGE_LABELS[a.stage]),
                                                    "data-late": t("Overdue by")})  # fmt: skip
        else:
            clock = html.Span(t("Overdue") if a.overdue else "", className="q-due")
        return html.Div(
            className=" ".join(classes),
            role="option",
            **{"data-id": str(int(a.id)), "aria-selected": "false"},
            children=[
                html.Span(className="q-mark", **{"aria-hidden": "true"}),
                html.Span(t(severity), className="q-sev"),
                html.Span(a.title_zh if lang == "zh_CN" else a.title_en, className="q-title"),
                html.Span(region.name(lang) if region else "", className="q-region"),
                html.Span(t(state), className="q-state"),
                html.Span(local_time(a.created_at, tz, "%H:%M"), className="q-time"),
                clock,
            ],
        )

    # Marks the selected and checked rows, keeps the selection in view and in the URL: in the browser, at once.
    clientside_callback(
        "function (selected, checked, _rows) { return window.cityops.duty.mark(selected, checked); }",
        Output("duty-marked", "data"),
        Input("duty-selected", "data"),
        Input("duty-checked", "data"),
        Input("duty-queue", "children"),
    )
    clientside_callback(
        """function (domain, district, status, unit) {
            return window.cityops.duty.filters({domain: domain, district: district, status: status, unit: unit});
        }""",
        Output("duty-marked", "data", allow_duplicate=True),
        Input("duty-filter-domain", "value"),
        Input("duty-filter-district", "value"),
        Input("duty-filter-status", "value"),
        Input("duty-filter-unit", "value"),
        prevent_initial_call=True,
    )

    @callback(
        Output("duty-summary", "children"),
        Output("duty-actions", "children"),
        Output("duty-sop", "children"),
        Output("duty-timeline", "children"),
        Output("duty-detail-seen", "data"),
        Input("duty-selected", "data"),
        Input("duty-seen", "data"),
        Input("duty-message", "children"),
        State("duty-detail-seen", "data"),
        State("duty-lang", "data"),
    )
    def detail(alert_id, _seen, _message, detail_seen, lang):
        t = translator(lang)
        if alert_id is None:
            return html.P(t("Choose an alert from the queue."), className="detail-empty"), [], [], [], None
        cur = store.cursor()
        alert = _visible(int(alert_id))
        if alert is None:
            return html.P(t("There is no such alert."), className="detail-empty"), [], [], [], None
        # Every timeline entry updates the alert's updated_at: the timeline is read only when that moved.
        signature = f"{alert_id}|{lang}|{alert['updated_at']}"
        if signature == detail_seen:
            raise PreventUpdate
        timeline = alert_store.timeline(cur, int(alert_id))
        return (
            _summary(alert, t, lang),
            _action_buttons(alert, t),
            _checklist(alert, timeline, t, lang),
            [_timeline_entry(e, t, lang) for e in timeline],
            signature,
        )

    def _summary(alert: dict, t, lang: str) -> html.Div:
        unit = units.get(alert["unit_id"]) if alert["unit_id"] else None
        suggested = None if unit else units.get(_suggested_unit(alert))
        region = regions.get(alert["district_id"]) if alert["district_id"] else None
        subject = queries.entity(store, alert["subject_id"])
        severity, state = SEVERITY_LABELS[alert["severity"]], ALERT_STATE_LABELS[alert["state"]]
        return html.Div(
            className=f"summary sev-{alert['severity']}",
            children=[
                html.H2(
                    [
                        html.Span(t(severity), className="q-sev"),
                        " ",
                        alert["title_zh"] if lang == "zh_CN" else alert["title_en"],
                    ]
                ),  # fmt: skip
                html.P(alert["message_zh"] if lang == "zh_CN" else alert["message_en"]),
                html.Dl(
                    [
                        html.Dt(t("State")),
                        html.Dd(t(state)),
                        html.Dt(t("Condition")),
                        html.Dd(t("Still holds") if alert["condition"] == "active" else t("Cleared")),
                        html.Dt(t("Unit")),
                        html.Dd(
                            _unit_name(unit, lang)
                            if unit
                            else t(
                                "not yet dispatched; suggested: {unit}",
                                unit=_unit_name(suggested, lang) if suggested else alert["unit_type"],
                            )
                        ),
                        html.Dt(t("Raised")),
                        html.Dd(local_time(alert["created_at"], tz)),
                        html.Dt(t("Where")),
                        html.Dd(html.A(region.name(lang), href=region_href(region.id, lang)) if region else "—"),
                        html.Dt(t("Device")),
                        html.Dd(html.A(subject["name"], href=entity_href(subject["id"], lang)) if subject else "—"),
                    ]
                ),  # fmt: skip
                html.A(t("Export as CAP"), href=f"/api/alerts/{alert['id']}.cap", className="cap-link"),
            ],
        )

    def _visible(alert_id: int) -> dict | None:
        """The alert, if it is there and in the user's districts (another district's is as good as absent)."""
        alert = alert_store.get(store.cursor(), alert_id)
        return alert if alert is not None and guard.current().sees(alert["district_id"]) else None

    def _action_buttons(alert: dict, t) -> list:
        principal = guard.current()
        return [
            html.Button(
                [t(ACTION_LABELS[a]), html.Kbd(ACTION_KEYS[a])],
                id={"type": "duty-act", "action": a},
                n_clicks=0,
                className=f"act act-{a}",
                **{"data-key": ACTION_KEYS[a], "data-action": a},
            )
            for a in allowed_actions(alert["state"])
            if a in ACTION_KEYS and policy.permission_allowed(principal, a, alert["district_id"])
        ]

    def _checklist(alert: dict, timeline: list[dict], t, lang: str) -> list:
        sop = context.sops.get(alert["sop"]) if alert["sop"] else None
        if sop is None:
            return []
        done = checked_steps(timeline)
        read_only = not policy.permission_allowed(guard.current(), "check", alert["district_id"])
        options = [
            {"label": step.zh_CN if lang == "zh_CN" else step.en, "value": i, "disabled": read_only}
            for i, step in enumerate(sop.steps)
        ]
        return [
            html.H3(
                [
                    t("Procedure"),
                    ": ",
                    sop.title.zh_CN if lang == "zh_CN" else sop.title.en,
                    html.Span(t("{done} of {n} done", done=len(done), n=len(sop.steps)), className="sop-count"),
                ]
            ),  # fmt: skip
            dcc.Checklist(
                id="duty-sop-steps",
                options=options,
                value=sorted(done),
                className="sop-steps",
                inputClassName="sop-box",
            ),  # fmt: skip
            dcc.Store(id="duty-sop-done", data=sorted(done)),
        ]

    def _timeline_entry(entry: dict, t, lang: str) -> html.Li:
        details = entry["details"]
        what = t(ACTION_LABELS.get(entry["action"], entry["action"]))
        extra = ""
        if entry["action"] == "dispatch" and details.get("unit_id") in units:
            extra = _unit_name(units[details["unit_id"]], lang)
        elif entry["action"] == "check" and isinstance(details.get("step"), int):
            extra = t("step {n} done", n=details["step"] + 1) if details.get("done", True) \
                else t("step {n} undone", n=details["step"] + 1)  # fmt: skip
        elif entry["action"] in ("fire", "refire") and details.get("value") is not None:
            extra = f"{details['value']:g}" if isinstance(details["value"], int | float) else str(details["value"])
        return html.Li(
            className=f"tl-{entry['action']}",
            children=[
                html.Span(local_time(entry["ts"], tz, "%m-%d %H:%M:%S"), className="event-time"),
                html.B(what),
                html.Span(extra, className="tl-extra"),
                html.Span(entry["actor"], className="actor"),
                html.Span(entry["note"], className="note"),  # people's text: rendered as text by React
            ],
        )

    @callback(
        Output("duty-chart", "children"),
        Input("duty-selected", "data"),
        Input("duty-chart-tick", "n_intervals"),
        State("duty-lang", "data"),
    )
    def trigger_chart(alert_id, _n, lang):
        """The values that raised the alert, from an hour before until now; redrawn every CHART_REFRESH_MS, not
        on every commit (it is this tab's own query)."""
        t = translator(lang)
        cur = store.cursor()
        alert = _visible(int(alert_id)) if alert_id is not None else None
        subject = queries.entity(store, alert["subject_id"]) if alert else None
        if subject is None:
            return []
        timeline = alert_store.timeline(cur, int(alert_id))
        now = datetime.now(UTC)
        since = min(pd.Timestamp(alert["first_fired_at"]).to_pydatetime(), now) - timedelta(hours=1)
        history = queries.history(store, subject["id"], since)
        if history.empty:
            return [html.P(t("No reading in this window."))]
        fired = next((e for e in timeline if e["action"] == "fire"), None)
        wanted = fired["details"].get("metrics") if fired else None
        metrics = [m for m in (wanted or []) if m in set(history["metric"])] or sorted(set(history["metric"]))[:1]
        shading = queries.alerts_of(store, subject["id"], since)
        return [
            dcc.Graph(figure=history_chart(m, history[history["metric"] == m], subject["attributes"], shading,
                                           (since, now), tz, t, height=200),
                      config={"displayModeBar": False}, className="duty-graph")
            for m in metrics[:2]
        ]  # fmt: skip

    @callback(
        Output("duty-map", "children"),
        Input("duty-selected", "data"),
        State("duty-lang", "data"),
    )
    def place(alert_id, lang):
        # Only when the selection changes: the map keeps its view while the detail refreshes.
        alert = _visible(int(alert_id)) if alert_id is not None else None
        if alert is None or alert["lon"] is None:
            return []
        region = regions.get(alert["district_id"]) if alert["district_id"] else None
        region = region or next(iter(regions.level("city")), None)
        if region is None:
            return []
        snap = snapshots.get()
        still_open = snap.alerts[snap.alerts["id"] == alert["id"]]
        overdue = bool(still_open["overdue"].iloc[0]) if len(still_open) else bool(alert["overdue_stages"])
        marker = alert_feature({**alert, "overdue": overdue})
        return minimap("duty-minimap", regions, region, lang, part_status=snap.region_codes(), alerts=[marker],
                       extra=[dl.CircleMarker(center=[alert["lat"], alert["lon"]], radius=22, color="#ffffff",
                                              weight=1, fill=False, dashArray="3 4")])  # fmt: skip

    @callback(
        Output("duty-dialog", "className"),
        Output("duty-dialog-title", "children"),
        Output("duty-dialog-unit", "style"),
        Output("duty-dialog-minutes", "style"),
        Output("duty-unit", "value"),
        Output("duty-note", "value"),
        Output("duty-dialog-message", "children"),
        Output("duty-dialog-action", "data"),
        Output("duty-message", "children"),
        Input({"type": "duty-act", "action": ALL}, "n_clicks"),
        State("duty-selected", "data"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def pressed(clicks, alert_id, lang):
        if not ctx.triggered_id or not any(clicks) or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # the buttons were drawn, not pressed
        t = translator(lang)
        action = ctx.triggered_id["action"]
        if alert_id is None:
            raise PreventUpdate
        if action in DIALOG_ACTIONS:
            alert = alert_store.get(store.cursor(), int(alert_id))
            suggested = _suggested_unit(alert) if alert else None
            return ("duty-dialog", t(ACTION_LABELS[action]),
                    {} if action == "dispatch" else {"display": "none"},
                    {} if action == "snooze" else {"display": "none"},
                    suggested, "", "", action, no_update)  # fmt: skip
        return ("duty-dialog hidden", no_update, no_update, no_update, no_update, no_update, "", None,
                _apply(int(alert_id), action, "", None, None, t))  # fmt: skip

    def _suggested_unit(alert: dict) -> str | None:
        """The unit dispatched before, else the rule's kind of unit in the alert's district, else anywhere."""
        if alert["unit_id"] in units:
            return alert["unit_id"]
        of_type = [u for u in units.values() if u.type == alert["unit_type"]]
        local = [u for u in of_type if u.district and u.district == alert["district_id"]]
        best = local or of_type
        return best[0].id if best else None

    @callback(
        Output("duty-dialog", "className", allow_duplicate=True),
        Output("duty-dialog-message", "children", allow_duplicate=True),
        Output("duty-message", "children", allow_duplicate=True),
        Input("duty-confirm", "n_clicks"),
        Input("duty-note", "n_submit"),
        State("duty-dialog-action", "data"),
        State("duty-selected", "data"),
        State("duty-unit", "value"),
        State("duty-minutes", "value"),
        State("duty-note", "value"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def confirm(_clicks, _submits, action, alert_id, unit_id, minutes, note, lang):
        if not action or alert_id is None:
            raise PreventUpdate
        t = translator(lang)
        try:
            _act(int(alert_id), action, note or "", unit_id, minutes)
        except TransitionError as exc:
            return no_update, refusal(exc, t), no_update  # the dialog stays open with what is missing
        except ValueError:
            return no_update, t("Snooze minutes must be a number."), no_update
        return "duty-dialog hidden", "", t("Done: {action}", action=t(ACTION_LABELS[action]))

    def _act(alert_id: int, action: str, note: str = "", unit_id: str | None = None, minutes=None, **step) -> None:
        """Every action of the duty desk, through the one door (alerts.actions.act)."""
        act(
            store,
            guard.current(),
            alert_id,
            action,
            now=datetime.now(UTC),
            audit=guard.trail(),
            note=note,
            unit_id=unit_id,
            snooze_for=timedelta(minutes=float(minutes)) if action == "snooze" and minutes else None,
            **step,
        )

    def _apply(alert_id: int, action: str, note: str, unit_id, minutes, t) -> str:
        try:
            _act(alert_id, action, note, unit_id, minutes)
        except TransitionError as exc:
            return t("Not done: {reason}", reason=refusal(exc, t))
        return t("Done: {action}", action=t(ACTION_LABELS[action]))

    @callback(
        Output("duty-message", "children", allow_duplicate=True),
        Input("duty-sop-steps", "value"),
        State("duty-sop-done", "data"),
        State("duty-selected", "data"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def tick_step(value, done, alert_id, lang):
        changed = set(value or []) ^ set(done or [])
        if alert_id is None or len(changed) != 1:
            raise PreventUpdate
        t = translator(lang)
        step = changed.pop()
        try:
            _act(int(alert_id), "check", step=int(step), done=step in (value or []))
        except TransitionError as exc:
            return t("Not done: {reason}", reason=refusal(exc, t))
        return t("Checklist step {n} recorded.", n=int(step) + 1)

    @callback(
        Output("duty-message", "children", allow_duplicate=True),
        Output("duty-checked", "data"),
        Input("duty-bulk", "n_clicks"),
        State("duty-checked", "data"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def bulk_acknowledge(_clicks, checked, lang):
        t = translator(lang)
        if not checked:
            return t("Mark alerts with Space first."), no_update
        done, refused = 0, []
        for alert_id in checked:
            try:
                _act(int(alert_id), "acknowledge", "", None, None)
                done += 1
            except TransitionError as exc:
                refused.append(f"#{alert_id}: {refusal(exc, t)}")
        message = t("Acknowledged {n}.", n=done)
        return (message + (" " + t("Not done: {reason}", reason="; ".join(refused)) if refused else "")), []

    clientside_callback(
        "function (className) { return window.cityops.duty.focusDialog(className); }",
        Output("duty-marked", "data", allow_duplicate=True),
        Input("duty-dialog", "className"),
        prevent_initial_call=True,
    )
    clientside_callback(
        "function (checked) { return !(checked && checked.length); }",
        Output("duty-bulk", "disabled"),
        Input("duty-checked", "data"),
    )


def _unit_name(unit, lang: str) -> str:
    return unit.name_zh if lang == "zh_CN" else unit.name_en
