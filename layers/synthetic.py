"""Boundaries computed from named centres, for a city whose official polygons we may not ship.

Voronoi cells of the centres, clipped to a hull around them: each real place gets the area nearest to it. It is an
approximation and says so in every feature (`approximate: true`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon
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


def square_grid(area: BaseGeometry, cell_deg: float) -> list[tuple[int, int, Polygon]]:
    """Square cells of `cell_deg` degrees covering `area`, clipped to it, as (row, col, cell)."""
    minx, miny, maxx, maxy = area.bounds
    cells = []
    rows = int(np.ceil((maxy - miny) / cell_deg))
    cols = int(np.ceil((maxx - minx) / cell_deg))
    for row in range(rows):
        for col in range(cols):
            x0, y0 = minx + col * cell_deg, miny + row * cell_deg
            cell = shapely.box(x0, y0, x0 + cell_deg, y0 + cell_deg).intersection(area)
            if not cell.is_empty and cell.area > 0.2 * cell_deg * cell_deg:
                cells.append((row, col, cell))
    return cells
