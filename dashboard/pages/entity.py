"""/entity/<id>: one device — where it is (breadcrumbs), what it reads now, and its history with thresholds drawn and
the periods of its alerts shaded. `?hours=` chooses the window; the page follows new data while it is open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from access.policy import permission_allowed, place
from dashboard import guard
from dashboard.alert_list import alert_list
from dashboard.charts import history_chart
from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import device_name
from dashboard.navigation import breadcrumbs, entity_href, path_id
from dashboard.timefmt import local_time
from store import queries

WINDOWS = {6: N_("6 hours"), 24: N_("24 hours"), 168: N_("7 days"), 720: N_("30 days")}
MAX_CHARTS = 4


def layout(context: AppContext, entity_id: str | None = None, lang: str | None = None, hours: str | None = None, **_q):
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    entity_id = path_id(entity_id)
    window = int(hours) if hours and hours.isdigit() and int(hours) in WINDOWS else 24
    item = queries.entity(context.store, entity_id)
    if item is not None and not permission_allowed(guard.current(), "view", place(item)):
        item = None  # another district's device is as good as absent
    if item is None:
        return html.Div(className="drill", children=[
            breadcrumbs(context.regions, None, lang, t("Not found")),
            html.P(t("There is no device {id}.", id=entity_id), className="drill-empty"),
        ])  # fmt: skip
    region_id = item["grid_id"] or item["town_id"] or item["district_id"]
    name = device_name(item["name"], item["attributes"].get("name_en"), lang)
    return html.Div(
        className="drill",
        children=[
            dcc.Store(id="entity-key", data={"id": entity_id, "hours": window, "lang": lang}),
            dcc.Store(id="entity-seen"),
            # Its history is a query of this tab's own, not the shared snapshot: on the slower tick.
            dcc.Interval(id="entity-tick", interval=context.settings.web.query_refresh_ms),
            html.Header(
                className="drill-header",
                children=[
                    breadcrumbs(context.regions, region_id, lang, name),
                    html.Nav(
                        className="drill-links",
                        children=[
                            html.A(t("Video wall"), href=f"/wall?lang={lang}"),
                            html.A(t("Duty desk"), href=f"/duty?lang={lang}"),
                            html.A(
                                "English" if lang == "zh_CN" else "中文",
                                href=entity_href(entity_id, "en" if lang == "zh_CN" else "zh_CN") + f"&hours={window}",
                            ),
                        ],
                    ),
                ],
            ),  # fmt: skip
            html.H1(name),
            html.P(className="drill-meta", children=f"{item['kind']} · {item['domain']} · {item['feed_id']}"),
            html.Nav(
                className="drill-windows",
                children=[
                    html.A(
                        t(label),
                        href=entity_href(entity_id, lang) + f"&hours={h}",
                        className="window-on" if h == window else None,
                    )
                    for h, label in WINDOWS.items()
                ],
            ),  # fmt: skip
            html.Div(id="entity-body", className="drill-body"),
        ],
    )


def register_callbacks(context: AppContext) -> None:
    store = context.store
    tz = context.settings.city.timezone

    @callback(
        Output("entity-body", "children"),
        Output("entity-seen", "data"),
        Input("entity-tick", "n_intervals"),
        State("entity-key", "data"),
        State("entity-seen", "data"),
    )
    def body(_n, key, seen):
        if not key or seen == store.data_version:
            raise PreventUpdate
        version = store.data_version
        lang, t = key["lang"], translator(key["lang"])
        item = queries.entity(store, key["id"])
        if item is not None and not permission_allowed(guard.current(), "view", place(item)):
            guard.refuse(f"entity {key['id']}")
        if item is None:
            return html.P(t("There is no device {id}.", id=key["id"])), version
        now = datetime.now(UTC)
        since = now - timedelta(hours=key["hours"])
        latest = queries.latest_values(store, key["id"])
        history = queries.history(store, key["id"], since)
        alerts = queries.alerts_of(store, key["id"], since)
        charts = [
            dcc.Graph(figure=history_chart(metric, rows, item["attributes"], alerts, (since, now), tz, t),
                      config={"displaylogo": False}, className="drill-chart")
            for metric, rows in list(history.groupby("metric", sort=True))[:MAX_CHARTS]
        ]  # fmt: skip
        now_table = html.Table(className="admin-table", children=[
            html.Thead(html.Tr([html.Th(t("Metric")), html.Th(t("Value")), html.Th(t("Time"))])),
            html.Tbody([
                html.Tr([html.Td(r.metric), html.Td(_value(r.value, r.unit, t)), html.Td(local_time(r.ts, tz))])
                for r in latest.itertuples(index=False)
            ]),
        ])  # fmt: skip
        return [
            html.Section([html.H2(t("Now")), now_table]),
            html.Section(
                [
                    html.H2(t("Alerts")),
                    alert_list(alerts, lang, tz, "first_fired_at")
                    if len(alerts)
                    else html.P(t("No alert in this window.")),
                ]
            ),  # fmt: skip
            html.Section([html.H2(t("History")), *(charts or [html.P(t("No reading in this window."))])]),
        ], version


def _value(value, unit: str, t) -> str:
    return t("missing") if value is None or pd.isna(value) else f"{value:g} {unit}".strip()
