"""What `cityops regions check` finds in a city's regions: each level's count, and where the levels do not fit
together (gaps inside a parent that its children leave, siblings that overlap, children reaching outside their
parent, children with no parent at all), with a preview image to look at.

Areas are measured in an equal-area projection centred on the city, so a finding reads in km².
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from layers.crs import projected, transformer
from layers.regions import Region, RegionIndex

GAP_SHARE = 0.005  # of a parent's area: less is the rounding of two files drawn apart
OUTSIDE_SHARE = 0.01  # of a child's area
OVERLAP_KM2 = 0.01


@dataclass
class LevelReport:
    level: str
    count: int
    parents_with_children: int = 0
    parents_without: list[str] = field(default_factory=list)
    gaps: list[tuple[str, float, float]] = field(default_factory=list)  # parent, km², share of it
    overlaps: list[tuple[str, str, float]] = field(default_factory=list)  # two siblings, km²
    outside: list[tuple[str, str | None, float]] = field(default_factory=list)  # child, its parent, share outside

    @property
    def problems(self) -> int:
        return len(self.gaps) + len(self.overlaps) + len(self.outside)


def check(regions: RegionIndex) -> list[LevelReport]:
    """One report per level, from the city down."""
    area = _area_km2(regions)
    reports = []
    above: list[Region] = []
    for level in regions.levels:
        found = regions.level(level)
        report = LevelReport(level, len(found))
        if above:
            _check_against_parents(report, above, found, area)
        _check_siblings(report, found, area)
        reports.append(report)
        above = found
    return reports


def _check_against_parents(report: LevelReport, above: list[Region], found: list[Region], area) -> None:
    by_parent: dict[str, list[Region]] = {}
    parents = {r.id: r for r in above}
    for child in found:
        parent = parents.get(child.parent) if child.parent else None
        if parent is None:
            report.outside.append((child.id, None, 1.0))
            continue
        by_parent.setdefault(parent.id, []).append(child)
        beyond = child.geometry.difference(parent.geometry)
        share = area(beyond) / max(area(child.geometry), 1e-12)
        if share > OUTSIDE_SHARE:
            report.outside.append((child.id, parent.id, share))
    report.parents_with_children = len(by_parent)
    report.parents_without = [p.id for p in above if p.id not in by_parent]
    for parent_id, children in by_parent.items():
        parent = parents[parent_id]
        missing = parent.geometry.difference(shapely.union_all([c.geometry for c in children]))
        km2, whole = area(missing), area(parent.geometry)
        if whole > 0 and km2 / whole > GAP_SHARE:
            report.gaps.append((parent_id, km2, km2 / whole))


def _check_siblings(report: LevelReport, found: list[Region], area) -> None:
    tree = shapely.STRtree([r.geometry for r in found])
    left, right = tree.query([r.geometry for r in found], predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            km2 = area(found[i].geometry.intersection(found[j].geometry))
            if km2 > OVERLAP_KM2:
                report.overlaps.append((found[i].id, found[j].id, km2))


def _area_km2(regions: RegionIndex):
    """A function giving a WGS84 shape's area in km², in a Lambert equal-area projection centred on the city."""
    city = regions.level("city") or regions.level("district")
    centre = shapely.union_all([r.geometry for r in city]).centroid
    laea = f"+proj=laea +lat_0={centre.y:.4f} +lon_0={centre.x:.4f} +datum=WGS84 +units=m"

    to_laea = transformer("EPSG:4326", laea)

    def area(shape: BaseGeometry) -> float:
        return 0.0 if shape.is_empty else projected(shape, to_laea).area / 1e6

    return area


def preview(regions: RegionIndex, reports: list[LevelReport], path: Path) -> None:
    """A PNG of every level's outlines, the finer ones thinner, and what the check found in red."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file is written
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 12), dpi=100)
    widths = {level: 2.4 / (n + 1) for n, level in enumerate(regions.levels)}
    colours = {"city": "#111111", "district": "#1f4e9c", "town": "#3d8c40", "community": "#b07d12", "grid": "#999999"}
    for level in regions.levels:
        shapes = [r.geometry for r in regions.level(level)]
        gpd.GeoSeries(shapes, crs=4326).boundary.plot(ax=ax, linewidth=widths[level], color=colours[level],
                                                       label=f"{level} ({len(shapes)})")  # fmt: skip
    marked = []
    for report in reports:
        for parent_id, _, _ in report.gaps:
            parent = regions.get(parent_id)
            children = [r.geometry for r in regions.level(report.level) if r.parent == parent_id]
            marked.append(parent.geometry.difference(shapely.union_all(children)))
        marked += [regions.get(a).geometry.intersection(regions.get(b).geometry) for a, b, _ in report.overlaps]
        for child_id, parent_id, _ in report.outside:
            child = regions.get(child_id).geometry
            marked.append(child.difference(regions.get(parent_id).geometry) if parent_id else child)
    if marked:
        gpd.GeoSeries(marked, crs=4326).plot(ax=ax, color="#d62728", alpha=0.7)
    latitude = shapely.union_all([r.geometry for r in regions.level("district")]).centroid.y
    ax.set_aspect(1 / math.cos(math.radians(latitude)))  # a degree of longitude is shorter than one of latitude
    ax.legend(loc="lower left")
    ax.set_axis_off()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
