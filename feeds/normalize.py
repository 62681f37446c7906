"""From decoded records to stored ones: missing and unit rules of the feed, coordinates to WGS84, regions."""

from __future__ import annotations

from layers.crs import Converter
from layers.regions import RegionIndex
from store.records import Decoded


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
    placed = [r for r in (*decoded.entities, *decoded.events) if r.lon is not None]
    if not placed:
        return decoded
    for record in placed:
        record.lon, record.lat = to_wgs84(record.lon, record.lat)
    found = regions.locate_many([r.lon for r in placed], [r.lat for r in placed])
    for i, record in enumerate(placed):
        record.district_id = found["district"][i]
        record.town_id = found["town"][i]
        record.grid_id = found["grid"][i]
    return decoded
