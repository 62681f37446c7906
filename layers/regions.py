"""The region hierarchy (city → district → town/street → grid) and point-in-region lookup.

Regions come from one GeoJSON or shapefile per deployment, in any CRS: each feature has `id`, `level`, `name_zh`,
`name_en` and `parent`. Lookups use one shapely STRtree per level, so assigning a batch of points is vectorised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

LEVELS: tuple[str, ...] = ("city", "district", "town", "grid")


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
        self._trees = {
            level: shapely.STRtree([r.geometry for r in items]) for level, items in self._by_level.items() if items
        }

    @classmethod
    def from_file(cls, path: str | Path) -> RegionIndex:
        frame = gpd.read_file(path)
        missing = {"id", "level", "name_zh"} - set(frame.columns)
        if missing:
            raise ValueError(f"{path}: region features need the properties {sorted(missing)}")
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)
        regions = []
        for row in frame.itertuples(index=False):
            parent = getattr(row, "parent", None)
            name_en = getattr(row, "name_en", None) or row.name_zh
            regions.append(
                Region(
                    id=str(row.id),
                    level=str(row.level),
                    name_zh=str(row.name_zh),
                    name_en=str(name_en),
                    parent=str(parent) if parent else None,
                    geometry=shapely.make_valid(row.geometry),
                )
            )
        return cls(regions)

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, region_id: str) -> Region | None:
        return self._by_id.get(region_id)

    def level(self, level: str) -> list[Region]:
        return list(self._by_level.get(level, []))

    def parts(self, region: Region | None) -> list[Region]:
        """The regions one level down that lie in `region` (None: the whole city, so its districts)."""
        if region is None:
            return self.level(LEVELS[1])
        below = LEVELS.index(region.level) + 1
        if below == len(LEVELS):
            return []
        return [r for r in self._by_level[LEVELS[below]] if r.parent == region.id]

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
        for level in LEVELS:
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
