"""The region hierarchy (city → district → town/street → community → grid) and point-in-region lookup.

A city has the levels it draws (`layers.region_files` reads them, a file per level): the district always, the
others as it keeps them. Lookups use one shapely STRtree per level, so assigning a batch of points is vectorised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# China's levels of government and of its grid management, largest first: 市, 区县, 乡镇街道, 社区村, 网格.
LEVELS: tuple[str, ...] = ("city", "district", "town", "community", "grid")
# The levels every record keeps its place at (district_id, town_id, grid_id): the two of 区镇两级 and the grid
# worker's. A community is known by the grids it holds.
STORED: tuple[str, ...] = ("district", "town", "grid")


@dataclass(frozen=True)
class Region:
    id: str
    level: str
    name_zh: str
    name_en: str
    parent: str | None
    geometry: BaseGeometry = field(repr=False, compare=False)

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


class RegionIndex:
    """All regions of a city, with a spatial index per level."""

    def __init__(self, regions: Iterable[Region]):
        self._by_id: dict[str, Region] = {}
        self._by_level: dict[str, list[Region]] = {level: [] for level in LEVELS}
        for region in regions:
            if region.level not in self._by_level:
                raise ValueError(f"region {region.id}: level {region.level!r} is not one of {LEVELS}")
            if region.id in self._by_id:
                raise ValueError(f"region id {region.id!r} appears twice")
            self._by_id[region.id] = region
            self._by_level[region.level].append(region)
        self.levels: tuple[str, ...] = tuple(level for level in LEVELS if self._by_level[level])
        self._children: dict[str | None, list[Region]] | None = None  # made when first asked (descendants)
        self._trees = {level: shapely.STRtree([r.geometry for r in self._by_level[level]]) for level in self.levels}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, region_id: str) -> Region | None:
        return self._by_id.get(region_id)

    def level(self, level: str) -> list[Region]:
        return list(self._by_level.get(level, []))

    def parts(self, region: Region | None) -> list[Region]:
        """The regions one level down that lie in `region` (None: the whole city, so its districts)."""
        if region is None:
            return self.level("district")
        below = self.levels.index(region.level) + 1
        if below == len(self.levels):
            return []
        return [r for r in self._by_level[self.levels[below]] if r.parent == region.id]

    def stored(self, region: Region) -> tuple[str, list[str]]:
        """Where the store keeps what lies in `region`: the level of the place column to look in and the ids to look
        for (a community: its grids; where grids leave it uncovered, `regions check` says so)."""
        if region.level in STORED:
            return region.level, [region.id]
        if region.level == "city":
            return "district", [d.id for d in self._by_level["district"]]
        return "grid", [g.id for g in self._by_level["grid"] if g.parent == region.id]

    def descendants(self, region_id: str) -> list[Region]:
        """Every region inside this one, at every level below it."""
        if self._children is None:
            self._children = {}
            for region in self._by_id.values():
                self._children.setdefault(region.parent, []).append(region)
        found, frontier = [], [region_id]
        while frontier:
            inside = [r for parent in frontier for r in self._children.get(parent, [])]
            found += inside
            frontier = [r.id for r in inside]
        return found

    def ancestors(self, region_id: str) -> list[Region]:
        """From the city down to (and including) the region: the breadcrumbs."""
        chain = []
        region = self._by_id.get(region_id)
        while region is not None:
            chain.append(region)
            region = self._by_id.get(region.parent) if region.parent else None
        return chain[::-1]

    def locate(self, lon: float, lat: float) -> dict[str, str | None]:
        """The id of the region at each level that contains the point (None where no region does)."""
        return {level: ids[0] for level, ids in self.locate_many([lon], [lat]).items()}

    def covering(self, area: BaseGeometry, share: float = 0.99) -> dict[str, str | None]:
        """The region at each level that holds `area` (at least `share` of its part in the city), None where it
        spreads over several: a warning over two districts belongs to neither, but to the city. A level found
        None leaves the levels below it None."""
        if area.area == 0:
            point = area.representative_point()
            return self.locate(point.x, point.y)
        city = self._by_level["city"]
        inside = area.intersection(city[0].geometry) if city else area
        found: dict[str, str | None] = dict.fromkeys(LEVELS)
        for level in self.levels:
            tree = self._trees.get(level)
            if tree is None or inside.is_empty:
                continue
            regions = self._by_level[level]
            holder = next((
                regions[int(i)].id for i in tree.query(inside, predicate="intersects")
                if regions[int(i)].geometry.area >= share * inside.area  # too small to hold it: no intersection
                and regions[int(i)].geometry.intersection(inside).area >= share * inside.area
            ), None)  # fmt: skip
            found[level] = holder
            if holder is None and level != "city":
                break
        return found

    def touches_city(self, place: BaseGeometry | None) -> bool:
        """Whether a place (None: unknown) lies at least partly in the city's districts."""
        tree = self._trees.get("district")
        return place is None or tree is None or len(tree.query(place, predicate="intersects")) > 0

    def locate_many(self, lons: Sequence[float], lats: Sequence[float]) -> dict[str, list[str | None]]:
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        result: dict[str, list[str | None]] = {}
        for level in LEVELS:
            found: list[str | None] = [None] * len(points)
            tree = self._trees.get(level)
            if tree is not None:
                point_idx, region_idx = tree.query(points, predicate="intersects")
                regions = self._by_level[level]
                # A point on a shared border intersects two regions; the first one found keeps it.
                for p, r in zip(point_idx.tolist(), region_idx.tolist(), strict=True):
                    if found[p] is None:
                        found[p] = regions[r].id
            result[level] = found
        return result
