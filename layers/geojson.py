"""GeoJSON of the region layers, as every map draws them: the wall's base map (served by URL) and the small maps of
the views build their features here, so a region looks the same everywhere."""

from __future__ import annotations

import shapely

from layers.regions import Region, RegionIndex

PRECISION = 1e-5  # degrees: about a metre, finer than a screen shows and a fifth of full precision's bytes


def region_feature(region: Region, lang: str) -> dict:
    """One region's outline with its id, level and name (also its tooltip) in `lang`."""
    name = region.name(lang)
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(shapely.set_precision(region.geometry, PRECISION)),
        "properties": {"id": region.id, "level": region.level, "name": name, "tooltip": name},
    }


def region_collection(regions: RegionIndex, level: str, lang: str) -> dict:
    """Every region of one level, as a FeatureCollection."""
    return feature_collection(region_feature(r, lang) for r in regions.level(level))


def feature_collection(features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def bounds(region: Region) -> list[list[float]]:
    """The region's box as Leaflet takes it: [[south, west], [north, east]]."""
    minx, miny, maxx, maxy = region.geometry.bounds
    return [[miny, minx], [maxy, maxx]]
