"""From decoded records to stored ones: coordinates to WGS84, and each place assigned to its regions."""

from __future__ import annotations

from feeds.records import Decoded
from layers.crs import Converter
from layers.regions import RegionIndex


def normalize(decoded: Decoded, to_wgs84: Converter, regions: RegionIndex) -> Decoded:
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
