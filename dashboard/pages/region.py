"""/region/<id>: one district, town/street or grid (or `city`) — its parts, its open alerts, its devices.

Each part and each device is a link one level down; the breadcrumbs lead back up. The page follows the data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from access import policy
from alerts.levels import STATUS_CODE, summarize
from dashboard import guard
from dashboard.alert_list import alert_list
from dashboard.charts import year_chart
from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import device_name
from dashboard.minimap import minimap
from dashboard.navigation import CITY, breadcrumbs, entity_href, path_id, region_href, tablet_href
from layers.regions import RegionIndex
from store import queries

YEAR_CHARTS = 4  # the metrics most read in the region
LEVEL_NAMES = {"district": N_("Districts and counties"), "town": N_("Towns and streets"),
               "community": N_("Communities and villages"), "grid": N_("Grid cells")}  # fmt: skip


def layout(context: AppContext, region_id: str | None = None, lang: str | None = None, **_query) -> html.Div:
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    region_id = path_id(region_id) or CITY
    region = context.regions.get(region_id)
    if region is not None and region.level == "city":
        region_id, region = CITY, None
    if region_id != CITY and region is None:
        return html.Div(className="drill", children=[
            breadcrumbs(context.regions, None, lang, t("Not found")),
            html.P(t("There is no region {id}.", id=region_id), className="drill-empty"),
        ])  # fmt: skip
    if not policy.sees_region(guard.current(), region_id):
        return html.Div(className="drill", children=[
            html.P(t("This place is outside your districts."), className="drill-empty"),
            html.A(t("Your districts"), href=tablet_href(None, lang), className="btn"),
        ])  # fmt: skip
    city = context.settings.city
    title = (city.name_zh if lang == "zh_CN" else city.name_en) if region is None else region.name(lang)
    other = "en" if lang == "zh_CN" else "zh_CN"
    return html.Div(
        className="drill",
        children=[
            dcc.Store(id="region-key", data={"id": region_id, "lang": lang}),
            dcc.Store(id="region-seen"),
            # Its devices are a query of this tab's own, not the shared snapshot: on the slower tick.
            dcc.Interval(id="region-tick", interval=context.settings.web.query_refresh_ms),
            html.Header(
                className="drill-header",
                children=[
                    breadcrumbs(context.regions, None if region is None else region_id, lang),
                    html.Nav(
                        className="drill-links",
                        children=[
                            html.A(t("Video wall"), href=f"/wall?lang={lang}"),
                            html.A(t("Duty desk"), href=f"/duty?lang={lang}"),
                            html.A("English" if lang == "zh_CN" else "中文", href=region_href(region_id, other)),
                        ],
                    ),
                ],
            ),  # fmt: skip
            html.H1(title),
            html.Div(className="drill-map", children=minimap("region-map", context.regions, framed, lang))
            if (framed := region or next(iter(context.regions.level("city")), None))
            else None,
            html.Div(id="region-body", className="drill-body"),
            _last_year(context, region, t) if region is not None else None,
        ],
    )


def _last_year(context: AppContext, region, t) -> html.Section:
    """The region's devices over the last 12 months, a day at a time, from the daily summaries (drawn once: days
    change slowly)."""
    city = context.settings.city
    since = (datetime.now(ZoneInfo(city.timezone)) - timedelta(days=365)).date()
    days = queries.region_daily(context.store, *context.regions.stored(region), since, city.timezone)
    busiest = days.groupby("metric")["readings"].sum().nlargest(YEAR_CHARTS).index
    charts = [dcc.Graph(figure=year_chart(metric, days[days["metric"] == metric], t), config={"displayModeBar": False})
              for metric in sorted(busiest)]  # fmt: skip
    return html.Section(className="drill-year", children=[
        html.H2(t("The last 12 months, by day")),
        html.Div(charts, className="drill-year-charts") if charts else html.P(t("No reading in the last 12 months.")),
    ])  # fmt: skip


def register_callbacks(context: AppContext) -> None:
    store, regions, snapshots = context.store, context.regions, context.snapshots
    tz = context.settings.city.timezone

    @callback(
        Output("region-body", "children"),
        Output("region-map-parts", "hideout"),
        Output("region-map-alerts", "data"),
        Output("region-seen", "data"),
        Input("region-tick", "n_intervals"),
        State("region-key", "data"),
        State("region-seen", "data"),
    )
    def body(_n, key, seen):
        if not key or seen == snapshots.current_key():
            raise PreventUpdate
        snap = snapshots.get()
        lang, t = key["lang"], translator(key["lang"])
        if not policy.sees_region(guard.current(), key["id"]):
            guard.refuse(f"region {key['id']}")
        region = regions.get(key["id"])
        sections = []
        statuses = region_statuses(regions, snap)
        children = sorted(regions.parts(region), key=lambda r: r.id)
        if children:
            parts = [html.Li(html.A(r.name(lang), href=region_href(r.id, lang)),
                             className=_part_class(statuses.get(r.id))) for r in children]  # fmt: skip
            sections.append(html.Section([html.H2(t(LEVEL_NAMES[children[0].level])),
                                          html.Ul(parts, className="drill-parts")]))  # fmt: skip
        alerts = snap.alerts
        if region is not None and region.level != "city":
            level, ids = regions.stored(region)
            alerts = alerts[alerts[f"{level}_id"].isin(ids)]
        alerts = policy.in_scope(guard.current(), alerts)
        sections.append(html.Section([html.H2(t("Open alerts")), alert_list(alerts, lang, tz) if len(alerts)
                                      else html.P(t("No open alert."))]))  # fmt: skip
        if region is not None:
            devices = queries.entities_in(store, *regions.stored(region))
            sections.append(html.Section([html.H2(t("Devices")), html.Ul(className="drill-devices", children=[
                html.Li(html.A(f"{device_name(d.name, d.name_en, lang)} · {d.kind}", href=entity_href(d.id, lang)))
                for d in devices.itertuples(index=False)
            ]) if len(devices) else html.P(t("No device here."))]))  # fmt: skip
        # The map: parts coloured by status, the open alerts placed in this region.
        codes = {region_id: STATUS_CODE[s] for region_id, s in statuses.items()}
        status = policy.regions_in_scope(guard.current(), regions, codes)
        return sections, {"status": status}, snap.alert_markers(alerts["id"]), snap.key


def _part_class(status: str | None) -> str:
    return "part" if status is None else f"part part-{STATUS_CODE[status]}"


def region_statuses(regions: RegionIndex, snap) -> dict[str, str]:
    """Each region's status; a community's (not a stored level) that of the devices in its grids."""
    statuses = dict(snap.region_status)
    if "community" in regions.levels and len(snap.states):
        community_of = {g.id: g.parent for g in regions.level("grid")}
        owners = snap.states["grid_id"].map(community_of)
        for community, group in snap.states.groupby(owners):
            statuses[community] = summarize(group["status"])
    return statuses
