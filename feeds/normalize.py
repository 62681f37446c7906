"""From decoded records to stored ones: missing and unit rules of the feed, coordinates to WGS84, regions."""

from __future__ import annotations

import json

import shapely

from layers.crs import Converter, each_vertex, identity
from layers.regions import RegionIndex
from store.records import Decoded

GEOCODE_TOLERANCE = 0.0005  # degrees (~50 m): how closely a warning named by region code follows the region


def normalize(
    decoded: Decoded,
    to_wgs84: Converter,
    regions: RegionIndex,
    sentinels: frozenset[float] = frozenset(),
    units: dict[str, tuple[str, float, float]] | None = None,
    metrics: dict[str, str] | None = None,
) -> Decoded:
    """Sentinel values become missing, units the stored unit (value × factor + offset), metric names the city's
    (so one rule covers a quantity whichever system measured it), places WGS84."""
    if sentinels or units or metrics:
        for o in decoded.observations:
            if metrics:
                o.metric = metrics.get(o.metric, o.metric)
            if o.value is not None and o.value in sentinels:
                o.value, o.quality = None, "missing"
            if units and o.unit in units:
                unit, factor, offset = units[o.unit]
                o.unit = unit
                if o.value is not None:
                    o.value = o.value * factor + offset
    for record in (*decoded.entities, *decoded.events):
        if record.lon is not None:
            record.lon, record.lat = to_wgs84(record.lon, record.lat)
    areas = {}  # each warning's area as a shape, read once
    for i, event in enumerate(decoded.events):
        if event.area is not None:
            areas[i] = shapely.geometry.shape(json.loads(event.area))
            if to_wgs84 is not identity:
                areas[i] = each_vertex(areas[i], to_wgs84)
                event.area = json.dumps(shapely.geometry.mapping(areas[i]))
        elif event.details.get("infos"):
            _area_from_geocodes(event, regions)
    placed = [r for r in (*decoded.entities, *decoded.events) if r.lon is not None]
    if not placed:
        return decoded
    found = regions.locate_many([r.lon for r in placed], [r.lat for r in placed])
    for i, record in enumerate(placed):
        record.district_id = found["district"][i]
        record.town_id = found["town"][i]
        record.grid_id = found["grid"][i]
    for i, shape in areas.items():  # a warning's region is the one that holds its whole area, not its centre's
        held = regions.covering(shape)
        event = decoded.events[i]
        event.district_id, event.town_id, event.grid_id = held["district"], held["town"], held["grid"]
    return decoded


def _area_from_geocodes(event, regions: RegionIndex) -> None:
    """A warning that names its areas only by code (China's warnings give 行政区划代码, 6 or 12 digits) covers the
    city's regions of those codes, when the city's region ids are those codes."""
    found = []
    for info in event.details["infos"]:
        for area in info.get("areas", ()):
            for code in (g["value"].strip() for g in area.get("geocodes", ())):
                candidates = [code]
                if len(code) == 12 and code.isdigit():  # county 130602000000, town 130602001000
                    candidates += [code[:9]] if code[9:] == "000" else []
                    candidates += [code[:6]] if code[6:] == "000000" else []
                region = next((r for c in candidates if (r := regions.get(c)) is not None), None)
                if region is not None:
                    found.append(region.geometry)
    if found:
        # Regions are drawn in detail; a warning's outline needs ~50 m, not a megabyte copied into every incident.
        area = shapely.union_all(found).simplify(GEOCODE_TOLERANCE, preserve_topology=True)
        centre = area.point_on_surface()
        event.area, event.lon, event.lat = json.dumps(shapely.geometry.mapping(area)), centre.x, centre.y
