"""Map layers served by URL, never inlined in the layout: region polygons and each domain's points.

Each response carries an ETag (the browser revalidates instead of downloading again) and is gzipped when the
browser accepts it; points are trimmed to 5 decimals and the properties a tooltip needs.
"""

from __future__ import annotations

import gzip
import hashlib

import orjson
import shapely
from flask import Flask, Response, abort, request

from dashboard.i18n import normalize_language
from dashboard.snapshot import WALL_DOMAINS, Snapshots
from layers.regions import LEVELS, RegionIndex


def _respond(body: bytes, etag: str, max_age: int) -> Response:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = Response(gzip.compress(body, compresslevel=5), mimetype="application/geo+json")
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(body, mimetype="application/geo+json")
        response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={max_age}, must-revalidate"
    return response


def region_collection(regions: RegionIndex, level: str, lang: str) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.set_precision(r.geometry, 1e-5)),
                "properties": {"id": r.id, "level": r.level, "name": r.name(lang), "tooltip": r.name(lang)},
            }
            for r in regions.level(level)
        ],
    }


def register(server: Flask, regions: RegionIndex, snapshots: Snapshots) -> None:
    region_bodies: dict[tuple[str, str], tuple[bytes, str]] = {}

    @server.get("/api/layers/regions/<level>.geojson")
    def region_layer(level: str):
        if level not in LEVELS:
            abort(404)
        lang = normalize_language(request.args.get("lang"))
        if (level, lang) not in region_bodies:
            body = orjson.dumps(region_collection(regions, level, lang))
            region_bodies[(level, lang)] = (body, hashlib.blake2b(body, digest_size=8).hexdigest())
        body, etag = region_bodies[(level, lang)]
        return _respond(body, etag, max_age=3600)

    @server.get("/api/layers/alerts.geojson")
    def alert_layer():
        layer = snapshots.get().alert_layer
        body = orjson.dumps({"type": "FeatureCollection", "features": layer.features})
        return _respond(body, layer.key, max_age=0)

    @server.get("/api/layers/points/<domain>.geojson")
    def point_layer(domain: str):
        if domain not in WALL_DOMAINS:
            abort(404)
        layer = snapshots.get().layers[domain]
        body = orjson.dumps({"type": "FeatureCollection", "features": layer.features})
        return _respond(body, layer.key, max_age=0)
