"""The Dash application object: pages, map-layer routes and the health endpoint, on one Flask server."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import dash
import orjson
from dash import Dash, html
from flask import Response, redirect, request

from alerts.cap import to_cap
from alerts.rules import Sop
from alerts.time_limits import TimeLimits
from cityops import PROJECT_ROOT
from dashboard import layers_api
from dashboard.i18n import LANGUAGE_COOKIE, LANGUAGES, translator
from dashboard.pages import duty, entity, feeds_admin, region, tablet, wall
from dashboard.snapshot import Snapshots
from layers.regions import RegionIndex
from store import alerts as alert_store
from store import queries
from store.database import Store
from store.writer import Writer


@dataclass
class AppContext:
    """What the pages need, handed over by the composition root (cityops.runtime)."""

    settings: object
    store: Store
    regions: RegionIndex
    snapshots: Snapshots
    sops: dict[str, Sop]


def create_app(
    settings,
    store: Store,
    regions: RegionIndex,
    writer: Writer | None = None,
    time_limits: TimeLimits | None = None,
    sops: dict[str, Sop] | None = None,
) -> Dash:
    """`time_limits` gives the duty desk its countdowns; `sops` (the rule file's, updated in place when the rules
    are reloaded) its checklists."""
    snapshots = Snapshots(
        store,
        stale_after_s={feed.id: feed.stale_after_s for feed in settings.feeds},
        timezone=settings.city.timezone,
        time_limits=time_limits,
    )
    context = AppContext(settings, store, regions, snapshots, {} if sops is None else sops)
    t = translator(settings.web.language)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(PROJECT_ROOT / "assets"),
        title=t("{city} City Operations Center", city=settings.city.name_zh),
        suppress_callback_exceptions=True,
        update_title=None,  # no "Updating..." flicker in the tab title on every tick
    )
    dash.register_page(
        "wall",
        path="/wall",
        layout=partial(wall.layout, context),
        title=t("{city} City Operations Center", city=settings.city.name_zh),
    )
    wall.register_callbacks(context)
    dash.register_page("duty", path="/duty", layout=partial(duty.layout, context), title=t("Duty desk"))
    duty.register_callbacks(context)
    dash.register_page("tablet", path="/tablet", layout=partial(tablet.layout, context), title=t("District"))
    tablet.register_callbacks(context)
    dash.register_page("feeds-admin", path="/admin/feeds", layout=partial(feeds_admin.layout, context),
                       title=t("Feeds and dead letters"))  # fmt: skip
    feeds_admin.register_callbacks(context, writer)
    dash.register_page("region", path_template="/region/<region_id>", layout=partial(region.layout, context),
                       title=t("Drill-down"))  # fmt: skip
    region.register_callbacks(context)
    dash.register_page("entity", path_template="/entity/<entity_id>", layout=partial(entity.layout, context),
                       title=t("Drill-down"))  # fmt: skip
    entity.register_callbacks(context)
    app.layout = html.Div([dash.page_container])
    layers_api.register(app.server, regions, snapshots)

    @app.server.before_request
    def home_is_the_wall():
        if request.path == "/":
            return redirect("/wall" + (f"?{request.query_string.decode()}" if request.query_string else ""))
        return None

    @app.server.after_request
    def remember_language(response: Response) -> Response:
        lang = request.args.get("lang") if request.method == "GET" else None
        if lang in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != lang:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Lax")
        return response

    @app.server.get("/alert/<int:alert_id>")
    def alert_link(alert_id: int):
        # An alert's own URL: its detail and timeline on the duty desk.
        lang = request.args.get("lang")
        return redirect(f"/duty?alert={alert_id}" + (f"&lang={lang}" if lang in ("zh_CN", "en") else ""))

    @app.server.get("/api/alerts/<int:alert_id>.cap")
    def alert_cap(alert_id: int):
        alert = alert_store.get(store.cursor(), alert_id)
        if alert is None:
            return Response("no such alert\n", status=404, mimetype="text/plain")
        district = regions.get(alert["district_id"]) if alert["district_id"] else None
        body = to_cap(
            alert,
            sender=f"cityops.{settings.city.name_en.lower()}",
            timezone=settings.city.timezone,
            district_name=(district.name_zh, district.name_en) if district else None,
            district_shape=district.geometry if district else None,
        )
        return Response(body, mimetype="application/cap+xml")

    @app.server.get("/api/health")
    def health():
        feeds = queries.feed_status(store)
        body = {
            "data_version": store.data_version,
            "entities": queries.count(store, "entities"),
            "observations": queries.count(store, "observations"),
            "events": queries.count(store, "events"),
            "dead_letters": queries.count(store, "dead_letters"),
            "writer": None
            if writer is None
            else {"queued": writer.queue.qsize(), "capacity": writer.queue.maxsize, "last_error": writer.last_error},
            "feeds": [
                {
                    "id": r.feed_id,
                    "state": r.state,
                    "reason": r.reason,
                    "messages": int(r.messages),
                    "errors": int(r.errors),
                }
                for r in feeds.itertuples(index=False)
            ],
        }
        return Response(orjson.dumps(body), mimetype="application/json")

    return app
