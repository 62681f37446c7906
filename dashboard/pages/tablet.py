"""/tablet: a district leader's district at a glance — each domain's state, open alerts by status with the overdue
ones counted, today's trend, and a map of the district. Touch first: every target is at least 44 px, nothing needs
hover, and the page reflows from 768 px portrait to 1366 px landscape.

The district comes from `?district=`; without one the page offers the user's districts to choose from (a leader of
one district goes straight to it). A district leader sees their own districts only. A tapped alert opens here
(`&alert=`), its state and timeline on the tablet's terms, not the keyboard desk's.
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
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import ALERT_STATE_LABELS, DOMAIN_LABELS, SEVERITY_LABELS
from dashboard.minimap import minimap, reference_overlays
from dashboard.navigation import region_href, tablet_href, visible_alert
from dashboard.snapshot import WALL_DOMAINS
from dashboard.timefmt import local_time
from dashboard.timeline import timeline_entry
from store import alerts as alert_store
from store.records import SEVERITIES

# A domain's state in a word: its worst status.
STATE_WORDS = {"red": N_("Red warning"), "orange": N_("Orange warning"), "yellow": N_("Yellow warning"),
               "blue": N_("Blue warning"), "offline": N_("Offline"), "nodata": N_("No data"),
               "ok": N_("OK")}  # fmt: skip
DOMAIN_COLOURS = {"traffic": "#8ab4f8", "flood": "#3e8ef7", "fire": "#e5484d", "security": "#c084fc"}


def layout(context: AppContext, lang: str | None = None, district: str | None = None, alert: str | None = None,
           **_query) -> html.Div:  # fmt: skip
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
    if alert is not None:
        return _alert_view(context, region, alert, lang)
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
            _alerts_by_status(alerts, t, lang, tz, district),
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
    most = int(when.value_counts().max()) if len(when) else 0
    fig.update_layout(
        barmode="stack", template="plotly_dark", paper_bgcolor="#121923", plot_bgcolor="#0b0f14", height=220,
        margin={"l": 44, "r": 10, "t": 10, "b": 30}, legend={"orientation": "h", "y": -0.25},
        xaxis={"tickformat": "%H:%M"},
        yaxis={"rangemode": "tozero", "dtick": integer_step(most), "tickformat": ",d"},
    )  # fmt: skip
    return [
        html.H2(t("Alerts raised today, by hour")),
        dcc.Graph(
            figure=fig,
            config={"displayModeBar": False, "staticPlot": True, "responsive": True},
            style={"height": "220px"},
        ),
    ]


def integer_step(most: int, ticks: int = 5) -> int:
    """A step for an axis of counts up to `most`: 1, 2 or 5 times a power of ten, at most `ticks` steps. Every
    integer labelled made a white bar of a storm's hundreds."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if most <= factor * magnitude * ticks:
                return factor * magnitude
        magnitude *= 10


def _domain_card(domain: str, devices: pd.DataFrame, alerts: pd.DataFrame, t) -> html.Div:
    """A domain's state in the district, in a word and a colour (the worst of its devices' statuses and its open
    alerts' severities), then its open alerts and devices counted."""
    counts = devices["status"].value_counts()
    warning = int(sum(counts.get(s, 0) for s in SEVERITIES))
    silent = int(counts.get("nodata", 0) + counts.get("offline", 0))
    worst = summarize([*devices["status"], *alerts["severity"]]) if len(devices) or len(alerts) else "nodata"
    return html.Div(
        className=f"tablet-card card-{STATUS_CODE[worst]}",
        children=[
            html.H2(t(DOMAIN_LABELS[domain])),
            html.Div(t(STATE_WORDS[worst]), className="card-big"),
            html.Div(
                className="card-small",
                children=[
                    html.Span(t("{n} open", n=len(alerts))),
                    html.Span(t("{n} devices", n=len(devices))),
                    html.Span(t("{n} warning", n=warning)),
                    html.Span(t("{n} no data", n=silent), className="count-nodata" if silent else None),
                ],
            ),  # fmt: skip
        ],
    )


def _alerts_by_status(alerts: pd.DataFrame, t, lang: str, tz: str, district: str) -> list:
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
        alert_list(alerts.head(8), lang, tz, link=lambda a: f"{tablet_href(district, lang)}&alert={int(a.id)}"),
    ]


def _alert_view(context: AppContext, district, alert_id: str, lang: str) -> html.Div:
    """A tapped alert on the tablet: what, where, its state and time limit, and its timeline; back to the district
    with one tap. Another district's alert is as good as absent."""
    t = translator(lang)
    back = html.A(t("Back to {district}", district=district.name(lang)), href=tablet_href(district.id, lang),
                  className="btn")  # fmt: skip
    alert = visible_alert(context.store, guard.current(), alert_id)
    if alert is None:
        return html.Div(className="tablet", children=[html.Header(className="tablet-header", children=[
            html.H1(t("There is no such alert.")), back])])  # fmt: skip
    tz = context.settings.city.timezone
    units = {u.id: u for u in context.settings.units}
    region = context.regions.get(alert["district_id"]) if alert["district_id"] else None
    facts = [
        (t("Severity"), t(SEVERITY_LABELS[alert["severity"]])),
        (t("Status"), t(ALERT_STATE_LABELS[alert["state"]])),
        (t("Where"), region.name(lang) if region else t("City")),
        (t("Raised"), local_time(alert["created_at"], tz)),
        (t("What"), alert["message_zh"] if lang == "zh_CN" else alert["message_en"]),
    ]
    entries = alert_store.timeline(context.store.cursor(), alert["id"])
    return html.Div(
        className="tablet tablet-alert",
        children=[
            html.Header(className="tablet-header", children=[
                html.H1(alert["title_zh"] if lang == "zh_CN" else alert["title_en"],
                        className=f"sev-{alert['severity']}"),
                back,
            ]),
            html.Dl([part for label, value in facts for part in (html.Dt(label), html.Dd(value))],
                    className="tablet-facts"),
            html.H2(t("Timeline")),
            html.Ol([timeline_entry(e, units, t, lang, tz) for e in entries], className="duty-timeline"),
        ],
    )  # fmt: skip
