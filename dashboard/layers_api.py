"""Map layers served by URL, never inlined in the layout: region polygons and each domain's points.

Each response carries an ETag (the browser revalidates instead of downloading again) and is gzipped when the
browser accepts it; points are trimmed to 5 decimals and the properties a tooltip needs. A layer is serialised and
compressed once per version, not once per request: at city scale that is the slow part. The cells of the views
walls asked for lately are gathered by the snapshot thread with each new snapshot, before the walls hear of it: the
four layers a refresh names are then asked for together and only sent (gathered on demand they waited for each
other; BENCHMARKS.md has the figures).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict

import orjson
from flask import Flask, Response, abort, request

from alerts.levels import status_codes, summarize_codes
from dashboard.i18n import normalize_language
from dashboard.snapshot import WALL_DOMAINS, PointLayer, Snapshot, Snapshots
from layers.cells import View, gather
from layers.geojson import region_collection
from layers.reference import ReferenceLayers
from layers.regions import LEVELS, RegionIndex

RECENT_VIEW_S = 30.0  # a view asked for within this long is prepared with each snapshot …
PREPARED_VIEWS = 8  # … the latest this many of them
CELL_BODIES = 128  # kept: the prepared views' of two snapshots, and some more


class Body:
    """A layer's body, serialised and compressed once per version of the layer, whoever asks for it."""

    def __init__(self, document: dict, etag: str):
        self.raw = orjson.dumps(document)
        self.gzipped = gzip.compress(self.raw, compresslevel=5)
        self.etag = etag


def _respond(body: Body, max_age: int) -> Response:
    etag = body.etag
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = Response(body.gzipped, mimetype="application/geo+json")
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(body.raw, mimetype="application/geo+json")
        response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={max_age}, must-revalidate"
    return response


def register(server: Flask, regions: RegionIndex, snapshots: Snapshots, reference: ReferenceLayers) -> None:
    static_bodies: dict[tuple[str, str], Body] = {}  # the regions and reference layers, by (layer, language)
    latest: dict[str, Body] = {}  # each point layer and the alerts, at their latest key
    views: OrderedDict[str, Body] = OrderedDict()  # the cells of views walls asked for, by layer and view
    asked: OrderedDict[str, tuple[View, float]] = OrderedDict()  # by View.query(): the view, when last asked
    gathered = {"prepared": 0, "on_demand": 0}  # cell bodies made, and by whom: for /api/health
    lock = threading.Lock()  # for the three above: request threads and the snapshot thread use them
    server.extensions["cityops_cells"] = gathered

    def layer_body(name: str, layer: PointLayer) -> Body:
        body = latest.get(name)
        if body is None or body.etag != layer.key:  # a race makes the same body twice at worst
            body = latest[name] = Body({"type": "FeatureCollection", "features": layer.features}, layer.key)
        return body

    @server.get("/api/layers/regions/<level>.geojson")
    def region_layer(level: str):
        if level not in LEVELS:
            abort(404)
        lang = normalize_language(request.args.get("lang"))
        if (level, lang) not in static_bodies:
            document = region_collection(regions, level, lang)
            etag = hashlib.blake2b(orjson.dumps(document), digest_size=8).hexdigest()
            static_bodies[(level, lang)] = Body(document, etag)
        return _respond(static_bodies[(level, lang)], max_age=3600)

    @server.get("/api/layers/reference/<layer_id>.geojson")
    def reference_layer(layer_id: str):
        layer = reference.get(layer_id)
        if layer is None:
            abort(404)
        lang = normalize_language(request.args.get("lang"))
        key = (f"reference/{layer_id}", lang)
        if key not in static_bodies:
            document = layer.feature_collection(lang)
            static_bodies[key] = Body(document, hashlib.blake2b(orjson.dumps(document), digest_size=8).hexdigest())
        return _respond(static_bodies[key], max_age=3600)

    @server.get("/api/layers/alerts.geojson")
    def alert_layer():
        return _respond(layer_body("alerts", snapshots.get().alert_layer), max_age=0)

    @server.get("/api/layers/incidents.geojson")
    def incident_layer():
        return _respond(layer_body("incidents", snapshots.get().incident_layer), max_age=0)

    def cells_body(layer: PointLayer, view: View, by: str = "on_demand") -> Body:
        etag = layer.drawn_key + hashlib.blake2b(view.query().encode(), digest_size=6).hexdigest()
        with lock:
            body = views.get(etag)
        if body is None:  # two threads may gather the same cells at worst
            codes = status_codes(layer.status, len(layer.lon))
            features = gather(layer.lon, layer.lat, codes, view, layer.features, summarize_codes)
            body = Body({"type": "FeatureCollection", "features": features}, etag)
            with lock:
                gathered[by] += 1
                views[etag] = body
                while len(views) > CELL_BODIES:
                    views.popitem(last=False)
        return body

    def remember(view: View) -> None:
        """A wall asked for this view: its cells are prepared with the next snapshots (RECENT_VIEW_S)."""
        query = view.query()
        with lock:
            asked[query] = (view, time.monotonic())
            asked.move_to_end(query)
            while len(asked) > 4 * PREPARED_VIEWS:
                asked.popitem(last=False)

    def prepare_cells(snapshot: Snapshot) -> None:
        now = time.monotonic()
        with lock:
            recent = [view for view, at in asked.values() if now - at < RECENT_VIEW_S][-PREPARED_VIEWS:]
        for view in recent:
            for domain in WALL_DOMAINS:
                cells_body(snapshot.layers[domain], view, by="prepared")

    snapshots.preparers.append(prepare_cells)

    @server.get("/api/layers/points/<domain>.geojson")
    def point_layer(domain: str):
        """The whole layer; or, given a view (`z`, `bbox`), its points gathered into cells (layers/cells.py)."""
        if domain not in WALL_DOMAINS:
            abort(404)
        layer = snapshots.get().layers[domain]
        if "z" in request.args or "bbox" in request.args:
            try:
                view = View.parse(request.args.get("z"), request.args.get("bbox"))
            except ValueError as exc:
                abort(Response(f"{exc}\n", status=400, mimetype="text/plain"))
            remember(view)
            return _respond(cells_body(layer, view), max_age=0)
        return _respond(layer_body(domain, layer), max_age=0)
