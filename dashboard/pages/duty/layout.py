"""The desk's page: its header, the filters (kept in the URL), the queue and the detail's places, the action dialog
and the keyboard help. What fills them comes from the callbacks (dashboard/pages/duty/callbacks.py)."""

from __future__ import annotations

from dash import dcc, html

from access.policy import permission_allowed
from dashboard import guard
from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import ACTION_LABELS, ALERT_STATE_LABELS, DOMAIN_LABELS, SEVERITY_LABELS
from dashboard.navigation import record_id
from dashboard.pages.duty.actions import ACTION_KEYS, MAX_SNOOZE_MINUTES, SILENCE_SCOPES
from dashboard.timeline import unit_name
from store.records import DOMAINS, OPEN_STATES, SEVERITIES

SHORTCUTS = [
    ("↓ / j", N_("Next alert")), ("↑ / k", N_("Previous alert")), ("Space", N_("Mark for bulk acknowledge")),
    ("Shift+A", N_("Acknowledge the marked alerts")), *((k, ACTION_LABELS[a]) for a, k in ACTION_KEYS.items()),
    ("Enter", N_("Confirm the dialog")), ("Esc", N_("Close the dialog or this help")),
    ("PgDn / PgUp", N_("Next or previous page of the queue")), ("/", N_("Go to the filters")),
    ("m", N_("Sound on / off")), ("?", N_("Show or hide this help")),
]  # fmt: skip
BEHIND_AFTER_MS = 5_000  # the least time without an answer before the queue says it is behind


def layout(
    context: AppContext,
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
    selected = record_id(alert)
    principal = guard.current()
    # The units of the principal's own districts and the city's; the dialog offers them only to whoever may dispatch.
    units = [{"label": unit_name(u, lang), "value": u.id} for u in settings.units
             if u.district is None or permission_allowed(principal, "view", u.district)]  # fmt: skip
    districts = [{"label": r.name(lang), "value": r.id} for r in context.regions.level("district")
                 if permission_allowed(principal, "view", r.id)]  # fmt: skip
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
        **{
            "data-muted-label": t("Sound off"),
            "data-unmuted-label": t("Sound on"),
            "data-no-action-label": t("“{key}”: no such action for the chosen alert now (? lists the keys)."),
            # No answer for this long and the queue says it is behind, from when (assets/cityops_duty.js).
            "data-behind-after-ms": str(max(3 * settings.web.refresh_ms, BEHIND_AFTER_MS)),
            "data-behind-text": t("The queue is behind: it shows the alerts as they stood at {time}."),
            "data-tz": settings.city.timezone,
        },
        children=[
            dcc.Store(id="duty-lang", data=lang),
            dcc.Store(id="duty-seen"),
            dcc.Store(id="duty-selected", data=selected),
            dcc.Store(id="duty-checked", data=[]),
            dcc.Store(id="duty-expanded", data=[]),  # the incidents whose rows list their alerts
            dcc.Store(id="duty-silences-seen"),
            dcc.Store(id="duty-detail-seen"),
            dcc.Store(id="duty-detail-poke"),  # the queue's data the detail was last asked to follow
            dcc.Store(id="duty-detail-busy", data=False),
            dcc.Store(id="duty-page", data=0),
            dcc.Store(id="duty-as-of"),  # when the queue last answered
            dcc.Store(id="duty-dialog-action"),
            dcc.Store(id="duty-marked"),
            dcc.Interval(id="duty-tick", interval=settings.web.refresh_ms),
            dcc.Interval(id="duty-chart-tick", interval=settings.web.query_refresh_ms),
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
                    *(
                        [html.A(t("History"), href=f"/history?state=closed&lang={lang}", className="duty-history")]
                        if permission_allowed(principal, "supervise")
                        else []
                    ),
                ],
            ),
            html.Div(
                className="duty-filters",
                children=[
                    *filters,
                    _by_hand(t, districts, principal, settings.limits.text_chars),
                    html.Details(id="duty-silences", className="duty-silences"),
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
                        children=[
                            html.P(id="duty-behind", className="duty-behind", role="alert"),
                            html.Div(id="duty-queue", role="listbox", **{"aria-label": t("Open alerts")}),
                            html.Div(
                                className="duty-pager",
                                children=[
                                    html.Button(t("Previous page") + " (PgUp)", id="duty-page-prev", disabled=True),
                                    html.Span(id="duty-page-where"),
                                    html.Button(t("Next page") + " (PgDn)", id="duty-page-next", disabled=True),
                                ],
                            ),
                        ],
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
            _dialog(t, units if permission_allowed(principal, "dispatch") else [], settings.limits.text_chars),
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


def _by_hand(t, districts: list[dict], principal, note_chars: int) -> html.Details | None:
    """A phone call's incident: what, where, how bad (alerts/by_hand.py); for whoever may act somewhere."""
    if not permission_allowed(principal, "act"):
        return None
    pick = lambda component_id, label, options: html.Label(  # noqa: E731
        [label, dcc.Dropdown(id=component_id, options=options, clearable=False)]
    )
    return html.Details(
        className="duty-new",
        children=[
            html.Summary(t("Open an incident (phone call)")),
            pick("duty-new-domain", t("Domain"), [{"label": t(DOMAIN_LABELS.get(d, d)), "value": d} for d in DOMAINS]),
            pick("duty-new-region", t("District"), districts),
            pick(
                "duty-new-severity", t("Severity"), [{"label": t(SEVERITY_LABELS[s]), "value": s} for s in SEVERITIES]
            ),  # fmt: skip
            html.Label([t("What happens"), dcc.Input(id="duty-new-title", type="text", maxLength=200)]),
            html.Label([t("Details"), dcc.Textarea(id="duty-new-description", maxLength=note_chars)]),
            html.Button(t("Open the incident"), id="duty-new-open", n_clicks=0),
        ],
    )


def _dialog(t, units: list[dict], note_chars: int) -> html.Div:
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
                html.Div(
                    id="duty-dialog-scope",
                    style={"display": "none"},
                    children=[
                        html.H3(t("Which alerts")),
                        dcc.RadioItems(
                            id="duty-scope",
                            value="rule",
                            className="unit-list",
                            options=[{"label": t(label), "value": key} for key, label in SILENCE_SCOPES.items()],
                        ),
                    ],  # fmt: skip
                ),
                html.Label(
                    id="duty-dialog-minutes",
                    children=[
                        t("Minutes"),
                        dcc.Input(id="duty-minutes", type="number", min=1, max=MAX_SNOOZE_MINUTES, value=30),
                    ],  # fmt: skip
                ),
                html.Label(
                    [
                        t("Note"),
                        dcc.Input(
                            id="duty-note",
                            type="text",
                            debounce=False,
                            autoComplete="off",
                            maxLength=note_chars,
                        ),
                    ]
                ),
                html.Div(id="duty-dialog-message", className="duty-message", role="alert"),
                html.Div(
                    className="dialog-buttons",
                    children=[
                        html.Button(t("Confirm") + " (Enter)", id="duty-confirm", n_clicks=0),
                        html.Button(t("Close") + " (Esc)", id="duty-dialog-close", n_clicks=0),
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
