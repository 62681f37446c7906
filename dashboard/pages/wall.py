"""/wall: the command center's video wall — one dark screen, no scrolling, live.

The layout is sent once; afterwards a refresh compares the snapshot key the tab has seen with the current one and
returns nothing when they match. It runs when the server says a new snapshot is there (dashboard/news.py, through
the store wall-news), and on a tick, the fallback when the news cannot be had. When they differ it sends statuses
through `hideout` (restyle only) and a point layer's URL only when that layer's features changed, and of the rest
only what differs from what the wall shows (wall-drawn holds a digest of each part): under a steady stream a new
snapshot comes several times a second, and redrawing what had not changed kept the wall's browser busy. While a
refresh is on its way the tick is off, so that a slow answer is never overtaken by a newer request (which would
discard it), and the news waits for it to be drawn (both in assets/cityops_wall.js).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import dash_leaflet as dl
import pandas as pd
import shapely
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.context import AppContext
from dashboard.i18n import page_language, translator
from dashboard.labels import ALERT_STATE_LABELS, DOMAIN_LABELS, FEED_STATE_LABELS, SEVERITY_LABELS
from dashboard.minimap import reference_layer
from dashboard.snapshot import WALL_DOMAINS, Snapshot
from dashboard.timefmt import local_time
from layers.cells import CELL_PX, CLUSTER_MAX_ZOOM, View
from layers.geojson import bounds
from store import queries
from store.records import SEVERITIES

MAP_FUNCTIONS = "cityops.map"
OFFLINE_AFTER_MS = 5_000  # the least time without an answer before the wall says it has lost the server
INCIDENTS_LISTED = 5  # the worst open incidents the wall lists (two lines each); the rest are counted
FEEDS_NAMED = 6  # the feeds the strip names, those in trouble first; the rest are counted


def _fn(name: str) -> dict:
    return {"variable": f"{MAP_FUNCTIONS}.{name}"}


def layout(context: AppContext, lang: str | None = None, **_query) -> html.Div:
    settings = context.settings
    lang = page_language(lang, settings.web.language)
    t = translator(lang)
    other = "en" if lang == "zh_CN" else "zh_CN"
    city = settings.city.name_zh if lang == "zh_CN" else settings.city.name_en
    lon, lat = settings.city.center
    # dash-leaflet's viewport tracking needs a center even when bounds decide the view.
    view = {"center": [lat, lon], "zoom": settings.city.zoom}
    city_region = context.regions.level("city")
    if city_region:
        view["bounds"] = bounds(city_region[0])
    # What the wall rotates through: the whole city, then each district (name and frame).
    tour = [{"id": "city", "name": city, "bounds": view.get("bounds")}] + [
        {"id": r.id, "name": r.name(lang), "bounds": bounds(r)} for r in context.regions.level("district")
    ]
    rotate_s = settings.web.wall_rotate_s
    # Too many devices to send whole and cluster in the browser: the server gathers them into cells for this
    # wall's view. The choice is made when the wall loads (an open wall works either way if the city grows), from
    # the store, since the latest snapshot may be from before the city's devices were described.
    devices = queries.count(context.store, "entities")
    cell_domains = list(WALL_DOMAINS) if devices > settings.web.server_cells_above else []
    base_layers = []
    if settings.web.tile_url:
        base_layers.append(dl.TileLayer(url=settings.web.tile_url))
    # The devices of each domain: drawn from `device_zoom` in; at the city view the wall shows the districts'
    # status, the incidents and the alerts, and a domain's devices only when its layer is turned on.
    device_layers = [
        dl.GeoJSON(id=f"wall-points-{domain}", pointToLayer=_fn("cellToLayer"), hideout={"domain": domain})
        if domain in cell_domains
        else dl.GeoJSON(
            id=f"wall-points-{domain}",
            cluster=True,
            zoomToBoundsOnClick=True,
            superClusterOptions={"radius": CELL_PX, "maxZoom": CLUSTER_MAX_ZOOM},
            pointToLayer=_fn("pointToLayer"),
            clusterToLayer=_fn("clusterToLayer"),
            hideout={"status": "", "domain": domain},
        )
        for domain in WALL_DOMAINS
    ]
    layer_names = {t(DOMAIN_LABELS[domain]): domain for domain in WALL_DOMAINS}
    overlays = [dl.Overlay(dl.LayerGroup(), name=name, checked=False) for name in layer_names]
    # The city's reference layers (shelters, hospitals …), off until turned on; fetched once, then revalidated.
    overlays += [dl.Overlay(reference_layer(layer, f"/api/layers/reference/{layer.id}.geojson?lang={lang}"),
                            name=layer.name(lang), checked=False) for layer in context.reference]  # fmt: skip
    return html.Div(
        className="wall",
        # assets/cityops_wall.js waits for news while a wall with this mark is on screen, and says so, big, when
        # the server has not answered for this long: a dead wall must not look live.
        **({"data-news": "on"} if settings.web.wall_news else {}),
        **{
            "data-offline-after-ms": str(max(3 * settings.web.refresh_ms, OFFLINE_AFTER_MS)),
            "data-offline-text": t("No connection to CityOps: what you see is from {time}"),
        },  # fmt: skip
        children=[
            dcc.Store(id="wall-lang", data=lang),
            dcc.Store(id="wall-seen", data=None),
            dcc.Store(id="wall-layer-keys", data={}),
            dcc.Store(id="wall-drawn", data={}),  # each part's digest, as the wall shows it
            dcc.Store(id="wall-cell-domains", data=cell_domains),
            dcc.Store(id="wall-device-layers", data={"names": layer_names, "zoom": settings.web.device_zoom}),
            dcc.Interval(id="wall-tick", interval=settings.web.refresh_ms),
            dcc.Store(id="wall-news"),  # the latest snapshot key, set by assets/cityops_wall.js (data-news)
            dcc.Store(id="wall-tour", data=tour),
            dcc.Store(id="wall-pin"),
            # Where the tour is, the incident it is held on, since when, when the last hold ended, the incidents it
            # has held on already.
            dcc.Store(
                id="wall-view",
                data={
                    "i": 0,
                    "pinned": None,
                    "since": 0,
                    "released": 0,
                    "held": [],
                    "hold_ms": settings.web.wall_pin_s * 1000,
                },
            ),  # fmt: skip
            dcc.Interval(id="wall-rotate", interval=max(rotate_s, 1) * 1000, disabled=rotate_s == 0),
            html.Header(
                className="wall-header",
                children=[
                    html.H1(t("{city} City Operations Center", city=city)),
                    html.Div(id="wall-silences", className="wall-silences"),
                    html.Div(id="wall-clock", className="wall-clock", **{"data-tz": settings.city.timezone}),
                    html.A(
                        t("中文") if other == "zh_CN" else t("English"),
                        href=f"/wall?lang={other}",
                        className="wall-lang",
                    ),
                ],
            ),
            html.Main(
                id="wall-main",
                className="wall-main overview",
                children=[
                    html.Aside(html.Div(id="wall-figures", className="wall-figures"), className="wall-left"),
                    html.Div(
                        className="wall-stage",
                        children=[
                            html.Div(id="wall-spotlight", className="wall-spotlight", children=city, role="status"),
                            html.Div(id="wall-alarm", className="wall-alarm", role="alert"),
                            html.Div(id="wall-offline", className="wall-offline-banner", role="alert"),
                            dl.Map(
                                id="wall-map",
                                className="wall-map",
                                **view,
                                zoomSnap=0.25,
                                zoomControl=False,
                                attributionControl=False,
                                children=[
                                    *base_layers,
                                    dl.GeoJSON(
                                        id="wall-districts",
                                        url=f"/api/layers/regions/district.geojson?lang={lang}",
                                        style=_fn("regionStyle"),
                                        onEachFeature=_fn("districtEachFeature"),
                                        hideout={"status": {}},
                                    ),
                                    *device_layers,
                                    dl.LayersControl(overlays, id="wall-layers", collapsed=False, position="topright"),
                                    dl.GeoJSON(
                                        id="wall-incidents",
                                        style=_fn("incidentStyle"),
                                        onEachFeature=_fn("incidentEachFeature"),
                                        hideout={"lang": lang},
                                    ),
                                    dl.GeoJSON(
                                        id="wall-alerts", pointToLayer=_fn("alertToLayer"), hideout={"lang": lang}
                                    ),  # fmt: skip
                                ],
                            ),
                            _legend(t),
                        ],
                    ),
                    html.Aside(
                        className="wall-side",
                        children=[
                            html.H2(id="wall-incidents-heading", className="wall-section"),
                            html.Ol(id="wall-incident-list", className="wall-alert-list"),
                            html.H2(t("Latest events"), className="wall-section"),
                            html.Ol(id="wall-ticker", className="wall-ticker"),
                        ],
                    ),
                ],
            ),
            html.Footer(id="wall-feeds", className="wall-feeds"),
        ],
    )


def register_callbacks(context: AppContext) -> None:
    snapshots = context.snapshots
    tz = context.settings.city.timezone
    regions = context.regions
    districts_of_city = regions.level("district")
    outputs = [
        Output("wall-seen", "data"),
        Output("wall-layer-keys", "data"),
        Output("wall-drawn", "data"),
        Output("wall-districts", "hideout"),
    ]
    outputs += [Output(f"wall-points-{d}", "url") for d in WALL_DOMAINS]
    outputs += [Output(f"wall-points-{d}", "hideout") for d in WALL_DOMAINS]
    outputs += [
        Output("wall-figures", "children"),
        Output("wall-ticker", "children"),
        Output("wall-feeds", "children"),
    ]
    outputs += [
        Output("wall-incidents", "url"),
        Output("wall-alerts", "url"),
        Output("wall-silences", "children"),
        Output("wall-incidents-heading", "children"),
        Output("wall-incident-list", "children"),
        Output("wall-pin", "data"),
    ]

    @callback(
        *outputs,
        Input("wall-tick", "n_intervals"),
        Input("wall-news", "data"),
        Input("wall-map", "zoom"),
        Input("wall-map", "bounds"),
        State("wall-seen", "data"),
        State("wall-layer-keys", "data"),
        State("wall-drawn", "data"),
        State("wall-lang", "data"),
        State("wall-pin", "data"),
        State("wall-cell-domains", "data"),
    )
    def refresh(_n, _news, zoom, map_bounds, seen, layer_keys, drawn, lang, pinned, cell_domains):
        cell_domains = cell_domains or []
        moved = bool(ctx.triggered_prop_ids) and all(p.startswith("wall-map.") for p in ctx.triggered_prop_ids)
        if moved and not cell_domains:
            raise PreventUpdate  # the browser clusters every layer itself
        if not moved and seen == snapshots.current_key():
            raise PreventUpdate  # nothing new: no query, nothing on the wire
        snap = snapshots.get()
        t = translator(lang)
        layer_keys, drawn = dict(layer_keys or {}), dict(drawn or {})
        urls, hideouts = [], []
        view = View.of_map(zoom, map_bounds)
        for domain in WALL_DOMAINS:
            layer = snap.layers[domain]
            if domain in cell_domains:  # the cells of this view, fetched again when they or the view change
                key, hideout = (f"k={layer.drawn_key}&{view.query()}" if view else None), no_update
            else:  # the features, fetched again when they change; statuses restyle them through hideout
                key = f"k={layer.key}"
                hideout = _unless_drawn(drawn, f"status-{domain}", {"status": layer.status, "domain": domain},
                                        layer.drawn_key)  # fmt: skip
            if key is None or layer_keys.get(domain) == key:
                urls.append(no_update)
            else:
                layer_keys[domain] = key
                urls.append(f"/api/layers/points/{domain}.geojson?{key}")
            hideouts.append(hideout)
        if moved:  # only the cells follow the view; the rest waits for the next tick
            followed = (no_update, layer_keys, drawn, no_update, *urls, *hideouts)
            return (*followed, *[no_update] * (len(outputs) - len(followed)))
        incident_url, alert_url = no_update, no_update
        if layer_keys.get("incidents") != snap.incident_layer.key:
            layer_keys["incidents"] = snap.incident_layer.key
            incident_url = f"/api/layers/incidents.geojson?k={snap.incident_layer.key}"
        if layer_keys.get("alerts") != snap.alert_layer.key:
            layer_keys["alerts"] = snap.alert_layer.key
            alert_url = f"/api/layers/alerts.geojson?k={snap.alert_layer.key}"
        codes = snap.region_codes()
        districts = {"status": {r.id: codes[r.id] for r in districts_of_city if r.id in codes}}
        parts = {
            "districts": districts,
            "figures": _figures(snap, t),
            "ticker": _ticker(snap, t, tz, regions, lang),
            "feeds": _feeds(snap, t),
            "silences": _status_line(snap, t),
            "incidents-heading": _incidents_heading(snap, t),
            "incidents": _incident_list(snap, t, regions, lang),
        }
        sent = {name: _unless_drawn(drawn, name, part) for name, part in parts.items()}
        return (
            snap.key,
            layer_keys,
            drawn,
            sent["districts"],
            *urls,
            *hideouts,
            sent["figures"],
            sent["ticker"],
            sent["feeds"],
            incident_url,
            alert_url,
            sent["silences"],
            sent["incidents-heading"],
            sent["incidents"],
            no_update if (pin := _pin(snap, t, regions, lang)) == pinned else pin,
        )

    clientside_callback(
        "function (zoom, on, layers) { return window.cityops.map.devices(zoom, on, layers.names, layers.zoom); }",
        Output("wall-main", "className"),
        Input("wall-map", "zoom"),
        Input("wall-layers", "overlays"),
        State("wall-device-layers", "data"),
    )

    # Rotation and pinning move the map in the browser (dash-leaflet's viewport), so they cost no server call. The
    # tick ends a hold on time when the tour does not rotate.
    clientside_callback(
        "function (n, pin, tick, tour, view) { return window.cityops.map.tour(pin, tour, view, Date.now()); }",
        Output("wall-map", "viewport"),
        Output("wall-spotlight", "children"),
        Output("wall-spotlight", "className"),
        Output("wall-view", "data"),
        Output("wall-alarm", "children"),
        Input("wall-rotate", "n_intervals"),
        Input("wall-pin", "data"),
        Input("wall-tick", "n_intervals"),
        State("wall-tour", "data"),
        State("wall-view", "data"),
        prevent_initial_call=True,
    )

    clientside_callback(
        """
        function (n) {
            const el = document.getElementById("wall-clock");
            const tz = el ? el.dataset.tz : undefined;
            return new Intl.DateTimeFormat("zh-CN", {timeZone: tz, year: "numeric", month: "2-digit",
                day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false})
                .format(new Date());
        }
        """,
        Output("wall-clock", "children"),
        Input("wall-tick", "n_intervals"),
    )


def _unless_drawn(drawn: dict, name: str, part, digest: str | None = None):
    """`part`, or no_update when the wall already shows it; `drawn` (each part's digest) is brought up to date.
    `digest`: one the caller has (a layer's drawn_key); by default one of the part's text."""
    digest = digest or hashlib.blake2b(repr(part).encode(), digest_size=8).hexdigest()
    if drawn.get(name) == digest:
        return no_update
    drawn[name] = digest
    return part


def _number(value, digits: int = 0, scale: float = 1.0) -> str | None:
    if value is None or pd.isna(value):
        return None
    return f"{value * scale:,.{digits}f}"


def _figure(label: str, value: str | None, unit: str, t) -> html.Div:
    if value is None:
        return html.Div(
            className="figure figure-nodata",
            children=[
                html.Div(label, className="figure-label"),
                html.Div(t("no data"), className="figure-value"),
            ],
        )
    return html.Div(
        className="figure",
        children=[
            html.Div(label, className="figure-label"),
            html.Div([value, html.Small(unit)], className="figure-value"),
        ],
    )


def _figures(snap: Snapshot, t) -> list:
    f = snap.figures
    counts = {d: snap.layers[d].counts for d in WALL_DOMAINS}
    today = snap.events_today
    cards = {
        "traffic": [
            _figure(t("Average speed"), _number(f["avg_speed"], 1), "km/h", t),
            _figure(t("Congested segments"), _number(f["congested_share"], 0, 100), "%", t),
        ],
        "flood": [
            _figure(
                t("Gauges over warning level"),
                None if not f["gauges_reporting"] else f"{f['gauges_over_warning']}/{f['gauges_reporting']}",
                "",
                t,
            ),
            _figure(t("Heaviest rain, 1 h"), _number(f["max_rain"], 1), "mm", t),
        ],
        "fire": [
            _figure(t("Fire alarms"), _number(f["fire_alarms"]), "", t),
            _figure(t("Fire events today"), str(today.get("fire", 0)), "", t),
        ],
        "security": [
            _figure(t("Cameras online"), _number(f["cameras_online_share"], 1, 100), "%", t),
            _figure(t("Security events today"), str(today.get("security", 0)), "", t),
        ],
    }
    out = []
    for domain in WALL_DOMAINS:
        c = counts[domain]
        alarming = sum(c.get(s, 0) for s in SEVERITIES)
        silent = c.get("nodata", 0) + c.get("offline", 0)
        out.append(
            html.Section(
                className=f"domain domain-{domain}",
                children=[
                    html.Div(
                        className="domain-head",
                        children=[
                            html.H2(t(DOMAIN_LABELS[domain])),
                            html.Span(t("{n} devices", n=sum(c.values())), className="count"),
                            html.Span(
                                t("{n} warning", n=alarming), className="count count-warn" if alarming else "count"
                            ),  # fmt: skip
                            html.Span(
                                t("{n} no data", n=silent), className="count count-nodata" if silent else "count"
                            ),  # fmt: skip
                        ],
                    ),
                    html.Div(className="domain-figures", children=cards[domain]),
                ],
            )
        )
    return out


def _ticker(snap: Snapshot, t, tz: str, regions, lang: str) -> list:
    items = []
    for row in snap.events.itertuples(index=False):
        when = local_time(row.ts, tz, "%H:%M:%S")
        region = regions.get(row.district_id) if row.district_id else None
        severity = row.severity if isinstance(row.severity, str) else None
        items.append(
            html.Li(
                className=f"event sev-{severity or 'none'}",
                children=[
                    html.Span(when, className="event-time"),
                    html.Span(t(SEVERITY_LABELS[severity]) if severity else "", className="event-sev"),
                    html.Span(region.name(lang) if region else t("outside the city"), className="event-region"),
                    html.Span(_event_title(row, t), className="event-title"),  # rendered as text by React
                ],
            )
        )
    if not items:
        items.append(html.Li(t("No events yet"), className="event event-empty"))
    return items


def _event_title(event, t) -> str:
    """An event's title as the feed wrote it; a warning's cancel in the reader's words, naming the warning."""
    if event.type != "cap_cancel":
        return event.title
    return t("Warning lifted: {title}", title=event.cancels) if isinstance(event.cancels, str) else t("Warning lifted")


def _feeds(snap: Snapshot, t, shown: int = FEEDS_NAMED) -> list:
    """The feeds at a glance: how many are fine, then the others by name, what is wrong and since when. A feed that
    is fine is a dot; the strip never runs off the screen (the rest are counted)."""
    now = datetime.now(UTC)
    feeds = snap.feeds.assign(fine=snap.feeds["state"] == "ok").sort_values(["fine", "feed_id"], kind="stable")
    fine = int(feeds["fine"].sum())
    chips = [html.Span(t("Feeds: {ok} of {n} OK", ok=fine, n=len(feeds)), className="feeds-label")]
    for row in feeds.head(shown).itertuples(index=False):
        if row.fine:
            chips.append(html.Span(row.feed_id, className="feed feed-ok", title=row.reason))
            continue
        if pd.isna(row.last_message_at):
            age = t("never")
        else:
            age = t("{s} s ago", s=int((now - pd.Timestamp(row.last_message_at).to_pydatetime()).total_seconds()))
        chips.append(
            html.Span(
                className=f"feed feed-{row.state}",
                title=row.reason,
                children=[html.B(row.feed_id), " ", t(FEED_STATE_LABELS.get(row.state, row.state)), " · ", age],
            )
        )
    if len(feeds) > shown:
        chips.append(html.Span(t("and {n} more", n=len(feeds) - shown), className="feeds-more"))
    return chips


def _status_line(snap: Snapshot, t) -> list:
    """Under the title: silences in force, and today's directives from the top ("24/24 signed · 19/24 replied")."""
    sent, signed, replied = snap.directives_today
    parts = [t("Silences in force: {n}", n=len(snap.silences)) if snap.silences else "",
             t("Directives today: {signed}/{n} signed · {replied}/{n} replied", n=sent, signed=signed,
               replied=replied) if sent else ""]  # fmt: skip
    return [html.Span(p, className="wall-status") for p in parts if p]


def _incidents_heading(snap: Snapshot, t) -> list:
    counts = snap.incident_layer.counts
    chips = [
        html.Span(f"{t(SEVERITY_LABELS[s])} {counts.get(s, 0)}", className=f"sev-chip sev-{s}") for s in SEVERITIES
    ]
    return [t("Open incidents"), " ", *chips]


def _pin(snap: Snapshot, t, regions, lang: str) -> dict | None:
    """The newest red incident nobody has acknowledged, and how many are waiting: the tour holds on a new one for
    web.wall_pin_s, once, and a banner names it until someone acknowledges it (cityops_map.js's tour)."""
    waiting = snap.incidents[(snap.incidents["severity"] == "red") & (snap.incidents["state"] == "new")]
    if waiting.empty:
        return None
    incident = waiting.sort_values("opened_at").iloc[-1]
    region = _region(incident, regions)
    frame = bounds(region) if region and region.level != "city" else None
    if frame is None and isinstance(incident["area"], str):
        west, south, east, north = shapely.geometry.shape(json.loads(incident["area"])).bounds
        frame = [[south - 0.02, west - 0.02], [north + 0.02, east + 0.02]]
    title = incident["title_zh"] if lang == "zh_CN" else incident["title_en"]
    if len(waiting) == 1:
        text = t("Red incident awaiting acknowledgement: {title}", title=title)
    else:
        text = t("{n} red incidents awaiting acknowledgement, the newest: {title}", n=len(waiting), title=title)
    return {"id": int(incident["id"]), "text": text, "where": region.name(lang) if region else "", "bounds": frame}


def _region(incident, regions):
    """The region an incident covers (its district's for a town's or a grid's it lies in), or None."""
    region_id = incident["region_id"] if isinstance(incident["region_id"], str) else None
    if region_id == "city":
        return None
    return regions.get(region_id) if region_id else None


def _incident_list(snap: Snapshot, t, regions, lang: str, limit: int = INCIDENTS_LISTED) -> list:
    """The worst open incidents, each on two lines (severity and what; where, how many alerts, state, overdue), and
    how many more there are: the heading counts them all."""
    items = []
    for row in snap.incidents.head(limit).itertuples(index=False):
        region = _region(row._asdict(), regions)
        late = bool(row.overdue)
        items.append(
            html.Li(
                className=f"alert-row incident-row sev-{row.severity}" + (" overdue" if late else ""),
                children=[
                    html.Span(t(SEVERITY_LABELS[row.severity]), className="event-sev"),
                    html.Span(row.title_zh if lang == "zh_CN" else row.title_en, className="event-title"),
                    html.Span(
                        [
                            region.name(lang) if region else t("City"),
                            " · ",
                            t("1 alert") if row.members == 1 else t("{n} alerts", n=int(row.members)),
                            " · ",
                            t(ALERT_STATE_LABELS[row.state]),
                        ],
                        className="incident-meta",
                    ),
                    html.Span(t("Overdue"), className="overdue-badge") if late else None,
                ],
            )
        )
    if len(snap.incidents) > limit:
        items.append(html.Li(t("and {n} more", n=len(snap.incidents) - limit), className="event event-more"))
    if not items:
        items.append(html.Li(t("No open incidents"), className="event event-empty"))
    return items


def _legend(t) -> html.Div:
    """What the map's colours mean, in the map's corner: the statuses, no data, and an incident's area."""
    swatch = lambda cls, label: html.Div([html.Span(className=f"swatch {cls}"), label], className="legend-item")  # noqa: E731
    return html.Div(
        className="wall-legend",
        children=[
            *(swatch(f"swatch-{s}", t(SEVERITY_LABELS[s])) for s in SEVERITIES),
            swatch("swatch-ok", t("OK")),
            swatch("swatch-nodata", t("No data")),
            swatch("swatch-incident", t("Incident area")),
        ],
    )
