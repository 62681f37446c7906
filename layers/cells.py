"""A point layer gathered into screen cells on the server, for layers too large to send whole.

The wall's map clusters in the browser (supercluster), which needs every point: beyond web.server_cells_above
points that is megabytes to fetch and seconds to index. Such a layer is instead asked for by zoom and view: the
server gathers its points into cells of CELL_PX screen pixels at that zoom (Web Mercator, as Leaflet draws it) and
sends only the cells in and around the view, each at the mean position of its points with their count and their
summary status (by the caller's rule: alerts.levels.summarize_codes for the wall). What the browser receives is
bounded by the screen, not by the city: a 1920×1080 view padded by half a screen is at most 48 × 27 cells. A point
alone in its cell, and every point once the map is zoomed in past CLUSTER_MAX_ZOOM, is sent as itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

CELL_PX = 80  # the browser's cluster radius on the wall (superClusterOptions.radius)
CLUSTER_MAX_ZOOM = 15  # closer than this, points are drawn as themselves, as the browser's clusters do …
POINTS_IN_VIEW = 5_000  # … unless the padded view holds more than this many
MAX_ZOOM = 19
# Status codes of the points of each cell (one byte a point), the cell of each, the number of cells → each cell's
# summary code.
Summarize = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


class View:
    """What the map shows: its zoom and its bounds (west, south, east, north, in degrees)."""

    def __init__(self, zoom: float, west: float, south: float, east: float, north: float):
        if not (0 <= zoom <= MAX_ZOOM) or not (-180 <= west < east <= 180) or not (-90 <= south < north <= 90):
            raise ValueError("zoom must be 0-19 and the bounds west < east, south < north, in degrees")
        self.zoom, self.west, self.south, self.east, self.north = zoom, west, south, east, north

    @classmethod
    def parse(cls, zoom: str | None, bbox: str | None) -> View:
        """From the query string: `z=9.25&bbox=west,south,east,north`; ValueError says what is wrong."""
        if zoom is None or bbox is None:
            raise ValueError("a layer this large is served by view: give z and bbox=west,south,east,north")
        parts = bbox.split(",")
        if len(parts) != 4:
            raise ValueError("bbox must be west,south,east,north")
        return cls(float(zoom), *(float(p) for p in parts))

    @classmethod
    def of_map(cls, zoom, bounds) -> View | None:
        """From dash-leaflet's `zoom` and `bounds` ([[south, west], [north, east]]); None before the map has said
        its view."""
        try:
            (south, west), (north, east) = bounds
            return cls(float(zoom), west, south, east, north)
        except (TypeError, ValueError):
            return None

    def query(self) -> str:
        """As the layer URL asks for it (parse reads it back), rounded so that the same view asks the same."""
        return f"z={self.zoom:g}&bbox={self.west:.4f},{self.south:.4f},{self.east:.4f},{self.north:.4f}"

    def padded(self) -> View:
        """Half a view more on every side, so that a small pan needs nothing new."""
        dx, dy = (self.east - self.west) / 2, (self.north - self.south) / 2
        return View(self.zoom, max(-180, self.west - dx), max(-90, self.south - dy), min(180, self.east + dx),
                    min(90, self.north + dy))  # fmt: skip


def world_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator position in world units (0-1 across the map), as Leaflet projects it."""
    lat = np.clip(lat, -85.05112878, 85.05112878)
    x = (lon + 180.0) / 360.0
    y = (1 - np.log(np.tan(np.radians(lat)) + 1 / np.cos(np.radians(lat))) / math.pi) / 2
    return x, y


def gather(lon: np.ndarray, lat: np.ndarray, codes: np.ndarray, view: View, points: list[dict],
           summarize: Summarize) -> list[dict]:  # fmt: skip
    """The features to draw for this view: cells (properties `n`, the count, and `s`, the summary status code) and
    points alone (their own feature from `points`, in the order of lon/lat, with their status code `s`). `codes`
    holds each point's status code as one ASCII byte."""
    area = view.padded()
    inside = np.flatnonzero((lon >= area.west) & (lon <= area.east) & (lat >= area.south) & (lat <= area.north))

    def point(i: int) -> dict:
        return {**points[i], "properties": {**points[i]["properties"], "s": chr(codes[i])}}

    if view.zoom > CLUSTER_MAX_ZOOM and len(inside) <= POINTS_IN_VIEW:
        return [point(i) for i in inside]
    x, y = world_xy(lon[inside], lat[inside])
    cells_across = 256 * 2**view.zoom / CELL_PX
    cell = np.floor(x * cells_across).astype(np.int64) * (1 << 32) + np.floor(y * cells_across).astype(np.int64)
    keys, first, which, count = np.unique(cell, return_index=True, return_inverse=True, return_counts=True)
    mean_lon = np.bincount(which, weights=lon[inside]) / count
    mean_lat = np.bincount(which, weights=lat[inside]) / count
    summary = summarize(codes[inside], which, len(keys))
    features = []
    for k in range(len(keys)):
        if count[k] == 1:  # a point alone is drawn as itself, to be clicked through
            features.append(point(int(inside[first[k]])))
            continue
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(float(mean_lon[k]), 5), round(float(mean_lat[k]), 5)]},
            "properties": {"n": int(count[k]), "s": chr(summary[k])},
        })  # fmt: skip
    return features
