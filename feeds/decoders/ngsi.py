"""FIWARE NGSI v2 (normalized or key-values, detected per entity) and NGSI-LD → entities, observations, events.

A payload is one entity, a list of them, or an Orion notification ({"data": [...]}). Numeric attributes become
observations (unit from `unitCode` where given); `Alert` entities become events, with FIWARE severities mapped to
the four colours (critical/high/medium/low → red/orange/yellow/blue). Lines and polygons are placed at their
centroid. Smart Data Models: TrafficFlowObserved, WaterObserved, FloodMonitoring, Alert, Device; other types
are taken generically.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import shape

from feeds.decoders.base import DecodeError, Message, parse_json, parse_name, parse_time
from store.records import Decoded, Entity, Event, Observation

MODELS = {  # type → (domain, kind)
    "TrafficFlowObserved": ("traffic", "road_segment"),
    "WaterObserved": ("flood", "water_observed"),
    "FloodMonitoring": ("flood", "flood_monitor"),
    "Device": ("system", "device"),
}
ALERT_SEVERITY = {"critical": "red", "high": "orange", "medium": "yellow", "low": "blue"}
ALERT_DOMAIN = {"traffic": "traffic", "security": "security", "weather": "env", "environment": "env",
                "agriculture": "env", "health": "env"}  # fmt: skip
UNIT_CODES = {"MTR": "m", "CMT": "cm", "MMT": "mm", "KMH": "km/h", "MQS": "m3/s", "CEL": "°C", "P1": "%", "E32": "1/h"}
TIME_ATTRIBUTES = (
    "dateObservedTo",
    "dateObserved",
    "observationDateTime",
    "dateIssued",
    "dateLastValueReported",
    "dateModified",
)
# Attributes that are descriptive numbers, not measurements of the moment.
NOT_MEASUREMENTS = {"laneId", "alertLevel", "dangerLevel", "warningLevel", "measuredArea", "objectArea", "mcc", "mnc"}


def decode(message: Message) -> Decoded:
    doc = parse_json(message.payload)
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc = doc["data"]  # an Orion notification
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise DecodeError("no entity in the payload")
    out = Decoded()
    for n, item in enumerate(items):
        try:
            _entity(item, message, out)
        except DecodeError as exc:
            raise DecodeError(f"entity {n}: {exc}" if len(items) > 1 else str(exc)) from None
    return out


def _plain(value: Any) -> tuple[Any, str | None]:
    """An attribute's value and unit code, whether normalized ({"type", "value"}, v2 and LD) or key-values."""
    if isinstance(value, dict) and "value" in value:
        unit = value.get("unitCode") or (value.get("metadata") or {}).get("unitCode", {}).get("value")
        return value["value"], unit if isinstance(unit, str) else None
    return value, None


def _entity(item: Any, message: Message, out: Decoded) -> None:
    if not isinstance(item, dict):
        raise DecodeError(f"an NGSI entity is an object, not {type(item).__name__}")
    if item.get("type") == "Feature" and isinstance(item.get("properties"), dict):
        # The models' GeoJSON representation: the entity's attributes are the feature's properties.
        item = {"location": item.get("geometry"), **item["properties"], "id": item.get("id")}
    source_id, ngsi_type = item.get("id"), item.get("type")
    if not isinstance(source_id, str) or not isinstance(ngsi_type, str) or not source_id or not ngsi_type:
        raise DecodeError("an NGSI entity needs a text 'id' and 'type'")
    attrs = {k: _plain(v) for k, v in item.items() if k not in ("id", "type", "@context")}
    lon, lat = _location(attrs.get("location", (None, None))[0])
    ts = _time(attrs, message)
    entity_id = f"{message.feed_id}:{source_id}"
    if ngsi_type == "Alert":
        category = str(attrs.get("category", ("", None))[0] or "")
        severity = ALERT_SEVERITY.get(str(attrs.get("severity", ("", None))[0] or "").lower())
        description = str(attrs.get("description", ("", None))[0] or "")
        sub = str(attrs.get("subCategory", ("", None))[0] or category or "alert")
        out.events.append(
            Event(id=entity_id, feed_id=message.feed_id, msg_id=source_id, domain=ALERT_DOMAIN.get(category, "env"),
                  type=sub[:80], ts=ts, lon=lon, lat=lat, title=(description or sub)[:500], description=description,
                  severity=severity, source_ref=message.source, raw=message.payload.decode("utf-8", "replace")[:4000])
        )  # fmt: skip
        return
    domain, kind = MODELS.get(ngsi_type, ("env", ngsi_type[:40]))
    try:
        name, english = parse_name(attrs.get("name", (None, None))[0])
    except DecodeError:  # a name we cannot read costs the entity its name (its id stands in), not its readings
        name, english = None, None
    attributes: dict[str, Any] = {"ngsi_type": ngsi_type}
    if english is not None:
        attributes["name_en"] = english
    for key in ("alertLevel", "dangerLevel", "warningLevel"):
        value = attrs.get(key, (None, None))[0]
        if _number(value) is not None:
            attributes[key] = value
    if "alertLevel" in attributes:  # FloodMonitoring's thresholds, in the names our rules and levels use
        attributes["warning_level"] = attributes["alertLevel"]
    if "dangerLevel" in attributes:
        attributes["guaranteed_level"] = attributes["dangerLevel"]
    state = attrs.get("deviceState", (None, None))[0]
    if isinstance(state, str):
        attributes["device_state"] = state
    out.entities.append(
        Entity(id=entity_id, feed_id=message.feed_id, domain=domain, kind=kind,
               name=name or source_id, lon=lon, lat=lat, attributes=attributes)
    )  # fmt: skip
    msg_id = f"{source_id}@{ts.isoformat()}"
    for key, (value, unit_code) in attrs.items():
        number = _number(value)
        if number is None or key in NOT_MEASUREMENTS:
            continue
        out.observations.append(
            Observation(entity_id=entity_id, metric=key, value=number, ts=ts, feed_id=message.feed_id, msg_id=msg_id,
                        unit=UNIT_CODES.get(unit_code or "", unit_code or ""))
        )  # fmt: skip


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _location(geo: Any) -> tuple[float | None, float | None]:
    if geo is None:
        return None, None
    try:
        geometry = shape(geo)
    except Exception:
        raise DecodeError(f"'location' is not GeoJSON: {str(geo)[:80]}") from None
    if geometry.is_empty:
        return None, None
    point = geometry if geometry.geom_type == "Point" else shapely.centroid(geometry)
    if point.is_empty:  # a shape of no extent whose centre GEOS cannot tell (coordinates that are not numbers)
        raise DecodeError(f"'location' has no place: {str(geo)[:80]}")
    lon, lat = point.x, point.y
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DecodeError(f"'location' out of range: {lon}, {lat}")
    return lon, lat


def _time(attrs: dict[str, tuple[Any, str | None]], message: Message) -> datetime:
    for key in TIME_ATTRIBUTES:
        raw = attrs.get(key, (None, None))[0]
        if isinstance(raw, dict):  # NGSI-LD {"@type": "DateTime", "@value": …}
            raw = raw.get("@value")
        if not isinstance(raw, str):
            continue
        # an interval "from/to": the observation ends at "to"
        return parse_time(raw.split("/")[-1], key, assume=message.time_zone or UTC)
    return message.received_at
