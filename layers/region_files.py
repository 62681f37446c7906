"""A city's regions, read level by level from the files it keeps (`[[city.levels]]`): each in its own format
(GeoJSON, shapefile, GeoPackage), its own CRS and its own property names.

A district file exported from a Chinese map provider is GCJ-02 and calls its properties `adcode` and `name`; a
surveying office's town file is a shapefile in a CGCS2000 Gauss–Krüger zone; a grid file may name no parents at
all. Each level says what it is, and the regions come out in WGS84 with ids, names and parents. A parent a file
does not name is the region one level up that holds most of the child. A bad file stops start-up with the file,
the feature and what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import shapely
from pydantic import BaseModel, ConfigDict, field_validator

from layers.crs import Crs
from layers.geofiles import GeoFileError, declared_crs, file_crs, in_wgs84, properties, read_frame, text
from layers.regions import LEVELS, Region, RegionIndex

POLYGONAL = ("Polygon", "MultiPolygon")


class RegionLevel(BaseModel):
    """One level of the city's regions and the file that draws it."""

    model_config = ConfigDict(extra="forbid")

    level: str
    file: Path
    crs: Crs | None = None  # wgs84, gcj02, bd09 or EPSG:<n>; unset: the file's own, else WGS84
    layer: str | None = None  # the layer of a GeoPackage holding several
    encoding: str | None = None  # of a shapefile's text when it has no .cpg saying it (e.g. "utf-8", "gbk")
    id: str = "id"  # the property holding each region's id (e.g. adcode)
    name_zh: str = "name_zh"
    name_en: str | None = "name_en"  # unset or empty: the Chinese name
    parent: str | None = "parent"  # unset, or absent from a feature: found by where the region lies

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"level {value!r} is not one of {', '.join(LEVELS)}")
        return value


def check_levels(levels: list[RegionLevel]) -> list[RegionLevel]:
    """The levels in their order from the city down, each once, the district among them."""
    names = [lv.level for lv in levels]
    if len(set(names)) != len(names):
        raise ValueError(f"a level is given twice: {', '.join(names)}")
    if names != sorted(names, key=LEVELS.index):
        raise ValueError(f"levels go from the largest to the smallest ({' → '.join(LEVELS)}), not {', '.join(names)}")
    if "district" not in names:
        raise ValueError("the district level is needed: it is what every view and every account is scoped by")
    return levels


def load_regions(levels: list[RegionLevel], city_id: str, name_zh: str, name_en: str) -> RegionIndex:
    """Every level's regions, the city as one region above them (its own level, or the union of the districts)."""
    regions: list[Region] = []
    above: list[Region] = []
    for spec in levels:
        found = read_level(spec)
        if spec.level == "city":
            if len(found) != 1:
                raise GeoFileError(f"{spec.file}: the city level holds one region, this file {len(found)}")
        elif not above:  # the top level under a city not drawn by a file of its own
            whole = shapely.union_all([r.geometry for r in found])
            above = [Region(city_id, "city", name_zh, name_en, None, whole)]
            regions += above
        if above:
            found = with_parents(spec, found, above)
        regions += found
        above = found
    return RegionIndex(regions)


def read_level(spec: RegionLevel) -> list[Region]:
    """The regions of one file, in WGS84, with their parents as the file names them (None where it does not)."""
    frame = _read(spec)
    crs = declared_crs(spec.file, spec.crs, frame.crs)
    if frame.empty:
        raise GeoFileError(f"{spec.file}: it holds no features")
    needed = [p for p in (spec.id, spec.name_zh) if p not in frame.columns]
    if needed:
        missing = " or ".join(repr(p) for p in needed)
        raise GeoFileError(f"{spec.file}: no property {missing} in its features ({properties(frame)}); say which "
                           f"holds it in [[city.levels]] (id = …, name_zh = …)")  # fmt: skip
    regions, seen = [], {}
    # Records keep every property's own name (named tuples would rename `name:zh`, `ref:adcode`, `class`).
    for number, values in enumerate(frame.to_dict("records"), start=1):
        region_id = text(values.get(spec.id))
        where = f"{spec.file}: feature {number}" + (f" (id {region_id})" if region_id else "")
        if not region_id:
            raise GeoFileError(f"{where}: its {spec.id!r} is empty")
        if region_id in seen:
            raise GeoFileError(f"{where}: the id {region_id} is also feature {seen[region_id]}'s")
        seen[region_id] = number
        name_zh = text(values.get(spec.name_zh))
        if not name_zh:
            raise GeoFileError(f"{where}: its {spec.name_zh!r} (the name) is empty")
        geometry = values.get("geometry")
        if geometry is None or geometry.is_empty:
            raise GeoFileError(f"{where}: it has no geometry")
        if geometry.geom_type not in POLYGONAL:
            raise GeoFileError(f"{where}: a region is an area, not a {geometry.geom_type}")
        geometry = in_wgs84(geometry, crs, where)
        name_en = text(values.get(spec.name_en)) if spec.name_en else ""
        parent = _parent(values.get(spec.parent)) if spec.parent else ""
        regions.append(Region(region_id, spec.level, name_zh, name_en or name_zh, parent or None, geometry))
    return regions


def with_parents(spec: RegionLevel, regions: list[Region], above: list[Region]) -> list[Region]:
    """The regions with each parent checked against the level above, and found there where the file named none:
    the region holding the largest part of the child (None when none touches it)."""
    by_id = {r.id: r for r in above}
    tree = shapely.STRtree([r.geometry for r in above])
    placed = []
    for region in regions:
        parent = region.parent
        if parent is not None and parent not in by_id:
            known = ", ".join(sorted(by_id)[:8]) + (" …" if len(by_id) > 8 else "")
            raise GeoFileError(
                f"{spec.file}: region {region.id} names the parent {parent}, which is no {above[0].level} "
                f"(the level above; its ids: {known})"
            )
        if parent is None:
            hits = tree.query(region.geometry, predicate="intersects")
            overlap = {above[int(i)].id: above[int(i)].geometry.intersection(region.geometry).area for i in hits}
            parent = max(overlap, key=overlap.__getitem__) if overlap and max(overlap.values()) > 0 else None
        placed.append(Region(region.id, region.level, region.name_zh, region.name_en, parent, region.geometry))
    return placed


def crs_of(spec: RegionLevel) -> str:
    """The CRS a level's coordinates are read in (the file's own, read from its header)."""
    return declared_crs(spec.file, spec.crs, file_crs(spec.file, spec.layer) if spec.crs is None else None)


def _parent(value) -> str:
    """A parent's id; a map provider's export (DataV) writes the parent as an object, {"adcode": 130600}."""
    if isinstance(value, dict):
        value = next((value[k] for k in ("adcode", "id", "code") if value.get(k) is not None), None)
    return text(value)


def _read(spec: RegionLevel):
    return read_frame(spec.file, layer=spec.layer, encoding=spec.encoding)
