"""/tablet: a district leader's district at a glance — key figures per domain, open alerts by status with the
overdue ones counted, today's trend, and a map of the district. Touch first: every target is at least 44 px, nothing
needs hover, and the page reflows from 768 px portrait to 1366 px landscape.

The district comes from `?district=`; without one the page offers the user's districts to choose from (a leader of
one district goes straight to it). A district leader sees their own districts only.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from access import policy
from access.policy import permission_allowed
from alerts.levels import STATUS_CODE, summarize
from dashboard import guard
from dashboard.alert_list import alert_list
from dashboard.context import AppContext
from dashboard.i18n import page_language, translator
from dashboard.labels import ALERT_STATE_LABELS, DOMAIN_LABELS
from dashboard.minimap import minimap, reference_overlays
from dashboard.navigation import region_href, tablet_href
from dashboard.snapshot import WALL_DOMAINS
from store.records import SEVERITIES

DOMAIN_COLOURS = {"traffic": "#8ab4f8", "flood": "#3e8ef7", "fire": "#e5484d", "security": "#c084fc"}


def layout(context: AppContext, lang: str | None = None, district: str | None = None, **_query) -> html.Div:
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    other = "en" if lang == "zh_CN" else "zh_CN"
    principal = guard.current()
    mine = [r for r in context.regions.level("district") if permission_allowed(principal, "view", r.id)]
    if district is None and len(mine) == 1:
        district = mine[0].id
    region = context.regions.get(district) if district and permission_allowed(principal, "view", district) else None
    if region is None or region.level != "district":
        return html.Div(
            className="tablet",
            children=[
                html.Header(className="tablet-header", children=[
                    html.H1(t("Choose your district")),
                    html.A("English" if lang == "zh_CN" else "中文", href=tablet_href(None, other), className="btn"),
                ]),
                html.P(t("There is no district {id}.", id=district), className="drill-empty") if district else None,
                html.Nav(className="tablet-chooser", children=[
                    html.A(r.name(lang), href=tablet_href(r.id, lang), className="btn")
                    for r in mine
                ]),
            ],
        )  # fmt: skip
    status = policy.regions_in_scope(principal, context.regions, context.snapshots.get().region_codes())
    return html.Div(
        className="tablet",
        children=[
            dcc.Store(id="tablet-key", data={"district": region.id, "lang": lang}),
            dcc.Store(id="tablet-seen"),
            # Everything here is the shared snapshot's: a tick costs nothing while it has not changed.
            dcc.Interval(id="tablet-tick", interval=context.settings.web.refresh_ms),
            html.Header(
                className="tablet-header",
                children=[
                    html.H1(region.name(lang)),
                    html.Nav(
                        className="tablet-links",
                        children=[
                            html.A(t("Other district"), href=tablet_href(None, lang), className="btn"),
                            html.A(t("Details"), href=region_href(region.id, lang), className="btn"),
                            html.A(t("Figures"), href=f"/figures?region={region.id}&lang={lang}", className="btn"),
                            html.A(
                                "English" if lang == "zh_CN" else "中文",
                                href=tablet_href(region.id, other),
                                className="btn",
                            ),
                        ],
                    ),
                ],
            ),  # fmt: skip
            html.Main(
                className="tablet-main",
                children=[
                    html.Section(id="tablet-figures", className="tablet-figures"),
                    html.Section(
                        className="tablet-map",
                        children=minimap(
                            "tablet-map",
                            context.regions,
                            region,
                            lang,
                            part_status=status,
                            interactive=True,
                            extra=reference_overlays(context.reference, region, lang),
                        ),
                    ),
                    html.Section(id="tablet-alerts", className="tablet-alerts"),
                    html.Section(id="tablet-trend", className="tablet-trend"),
                ],
            ),  # fmt: skip
        ],
    )


def register_callbacks(context: AppContext) -> None:
    snapshots = context.snapshots
    tz = context.settings.city.timezone

    @callback(
        Output("tablet-figures", "children"),
        Output("tablet-alerts", "children"),
        Output("tablet-trend", "children"),
        Output("tablet-map-parts", "hideout"),
        Output("tablet-map-alerts", "data"),
        Output("tablet-seen", "data"),
        Input("tablet-tick", "n_intervals"),
        State("tablet-key", "data"),
        State("tablet-seen", "data"),
    )
    def refresh(_n, key, seen):
        if not key or seen == snapshots.current_key():
            raise PreventUpdate
        snap = snapshots.get()
        lang, district = key["lang"], key["district"]
        if not permission_allowed(guard.current(), "view", district):
            guard.refuse(f"tablet {district}")
        t = translator(lang)
        devices = snap.states[snap.states["district_id"] == district]
        alerts = snap.alerts[snap.alerts["district_id"] == district]
        return (
            [_domain_card(d, devices[devices["domain"] == d], alerts[alerts["domain"] == d], t) for d in WALL_DOMAINS],
            _alerts_by_status(alerts, t, lang, tz),
            _trend(snap.raised_today[snap.raised_today["district_id"] == district], t, tz),
            {"status": policy.regions_in_scope(guard.current(), context.regions, snap.region_codes())},
            snap.alert_markers(alerts["id"]),
            snap.key,
        )


def _trend(raised: pd.DataFrame, t, tz: str) -> list:
    """Today's alerts (`raised`: domain, created_at) counted by hour and domain."""
    now = pd.Timestamp(datetime.now(UTC))
    midnight = now.tz_convert(tz).normalize()
    hours = pd.date_range(midnight, now.tz_convert(tz).floor("h"), freq="h")
    fig = go.Figure()
    when = pd.to_datetime(raised["created_at"], utc=True).dt.tz_convert(tz).dt.floor("h")
    for domain in WALL_DOMAINS:
        counts = when[raised["domain"] == domain].value_counts().reindex(hours, fill_value=0)
        fig.add_bar(x=hours, y=counts.values, name=t(DOMAIN_LABELS[domain]),
                    marker_color=DOMAIN_COLOURS[domain])  # fmt: skip
    fig.update_layout(
        barmode="stack", template="plotly_dark", paper_bgcolor="#121923", plot_bgcolor="#0b0f14", height=220,
        margin={"l": 36, "r": 10, "t": 10, "b": 30}, legend={"orientation": "h", "y": -0.25},
        xaxis={"tickformat": "%H:%M"}, yaxis={"rangemode": "tozero", "dtick": 1},
    )  # fmt: skip
    return [
        html.H2(t("Alerts raised today, by hour")),
        dcc.Graph(
            figure=fig,
            config={"displayModeBar": False, "staticPlot": True, "responsive": True},
            style={"height": "220px"},
        ),
    ]


def _domain_card(domain: str, devices: pd.DataFrame, alerts: pd.DataFrame, t) -> html.Div:
    counts = devices["status"].value_counts()
    warning = int(sum(counts.get(s, 0) for s in SEVERITIES))
    silent = int(counts.get("nodata", 0) + counts.get("offline", 0))
    # The card's colour: the worst of its devices' statuses and its open alerts' severities.
    worst = summarize([*devices["status"], *alerts["severity"]])
    return html.Div(
        className=f"tablet-card card-{STATUS_CODE[worst]}",
        children=[
            html.H2(t(DOMAIN_LABELS[domain])),
            html.Div(
                className="card-big",
                children=t("{n} open", n=len(alerts)) if len(devices) or len(alerts) else t("no data"),
            ),  # fmt: skip
            html.Div(
                className="card-small",
                children=[
                    html.Span(t("{n} devices", n=len(devices))),
                    html.Span(t("{n} warning", n=warning)),
                    html.Span(t("{n} no data", n=silent), className="count-nodata" if silent else None),
                ],
            ),  # fmt: skip
        ],
    )


def _alerts_by_status(alerts: pd.DataFrame, t, lang: str, tz: str) -> list:
    rows = []
    for state, label in ALERT_STATE_LABELS.items():
        of_state = alerts[alerts["state"] == state]
        if of_state.empty:
            continue
        late = int(of_state["overdue"].sum())
        rows.append(html.Tr([
            html.Td(t(label)), html.Td(str(len(of_state)), className="num"),
            html.Td(t("{n} overdue", n=late) if late else "", className="num overdue-cell" if late else "num"),
        ]))  # fmt: skip
    incidents = alerts["incident_id"].nunique()  # the things to handle here; a city-wide one counts once
    out = [html.H2(t("Open alerts")), html.P(t("Incidents: {n}", n=incidents), className="tablet-incidents")]
    if not rows:
        return [*out, html.P(t("No open alert."), className="drill-empty")]
    return [
        *out,
        html.Table(className="tablet-states", children=html.Tbody(rows)),
        alert_list(alerts.head(8), lang, tz),
    ]
