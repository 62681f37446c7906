"""Boundaries computed from named centres, for a city whose official polygons we may not ship.

Voronoi cells of the centres, clipped to a hull around them: each real place gets the area nearest to it. It is an
approximation and says so in every feature (`approximate: true`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPoint
from shapely.geometry.base import BaseGeometry


def voronoi_cells(centres: Sequence[tuple[float, float]], clip: BaseGeometry) -> list[BaseGeometry]:
    """One cell per centre, in the order given, clipped to `clip`."""
    points = MultiPoint(list(centres))
    cells = shapely.voronoi_polygons(points, extend_to=clip.envelope.buffer(1.0))
    by_centre: list[BaseGeometry | None] = [None] * len(centres)
    for cell in cells.geoms:
        for i, (x, y) in enumerate(centres):
            if by_centre[i] is None and cell.contains(shapely.Point(x, y)):
                by_centre[i] = cell.intersection(clip)
                break
    if any(c is None for c in by_centre):
        raise ValueError("two centres coincide; each region needs its own centre")
    return by_centre  # type: ignore[return-value]


def hull(centres: Sequence[tuple[float, float]], margin: float) -> BaseGeometry:
    return MultiPoint(list(centres)).convex_hull.buffer(margin, quad_segs=8)


def seeds_inside(area: BaseGeometry, count: int, seed: int) -> list[tuple[float, float]]:
    """`count` well-spread points inside `area` (best of several random candidates, reproducible by seed)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.bounds
    chosen: list[tuple[float, float]] = []
    while len(chosen) < count:
        candidates = []
        while len(candidates) < 12:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if area.contains(shapely.Point(x, y)):
                candidates.append((x, y))
        if not chosen:
            chosen.append(candidates[0])
            continue
        existing = np.array(chosen)
        best = max(candidates, key=lambda c: np.min(np.hypot(existing[:, 0] - c[0], existing[:, 1] - c[1])))
        chosen.append(best)
    return chosen


def square_grid(area: BaseGeometry, cell_deg: float) -> list[BaseGeometry]:
    """Square cells of `cell_deg` degrees that together cover `area` exactly: cells clipped to it, and a sliver at
    its edge (under a fifth of a cell) joined to the neighbour it shares the longest border with."""
    minx, miny, maxx, maxy = area.bounds
    pieces = []
    for row in range(int(np.ceil((maxy - miny) / cell_deg))):
        for col in range(int(np.ceil((maxx - minx) / cell_deg))):
            x0, y0 = minx + col * cell_deg, miny + row * cell_deg
            piece = shapely.box(x0, y0, x0 + cell_deg, y0 + cell_deg).intersection(area)
            if piece.area > 0:
                pieces.append(piece)
    cells = [p for p in pieces if p.area >= 0.2 * cell_deg * cell_deg] or [area]
    for sliver in (p for p in pieces if p.area < 0.2 * cell_deg * cell_deg):
        shared = [c.boundary.intersection(sliver.boundary).length for c in cells]
        best = int(np.argmax(shared)) if max(shared) > 0 else int(np.argmin([c.distance(sliver) for c in cells]))
        cells[best] = cells[best].union(sliver)
    return cells
