"""CityOps JSON: the native format of the demo city and of devices we configure ourselves.

One message is one object or a list of them, each with a `type`:
  {"type": "entity", "id": "rs-1", "domain": "traffic", "kind": "road_segment", "name": "…",
   "lon": 115.5, "lat": 38.87, "attributes": {"free_flow_kmh": 60}}
  (`name` may be given in several languages, {"zh_CN": "…", "en": "…"}: the English one is kept as the attribute
  `name_en`, which English alert titles use.)
  {"type": "observation", "entity": "rs-1", "ts": "2026-11-22T08:00:00Z",
   "values": {"speed": 42.0}, "units": {"speed": "km/h"}, "id": "optional message id"}
  {"type": "event", "id": "cam-3-crowd-17", "domain": "security", "event_type": "crowding",
   "ts": "…", "lon": …, "lat": …, "severity": "yellow", "title": "…", "description": "…", "entity": "cam-3"}
Coordinates are in the feed's declared CRS; ids are the source's and get the feed id as a prefix on the way in.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from feeds.decoders.base import DecodeError, Message, parse_json, parse_name, parse_time
from store.records import DOMAINS, SEVERITIES, Decoded, Entity, Event, Observation

MAX_ITEMS = 10_000


def decode(message: Message) -> Decoded:
    doc = parse_json(message.payload)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise DecodeError("empty list: nothing to store")
    if len(items) > MAX_ITEMS:
        raise DecodeError(f"{len(items)} items in one message; at most {MAX_ITEMS}")
    out = Decoded()
    for n, item in enumerate(items):
        where = f"item {n}: " if len(items) > 1 else ""
        if not isinstance(item, dict):
            raise DecodeError(f"{where}expected an object, got {type(item).__name__}")
        kind = item.get("type")
        try:
            if kind == "observation":
                out.observations.extend(_observations(item, message))
            elif kind == "entity":
                out.entities.append(_entity(item, message))
            elif kind == "event":
                out.events.append(_event(item, message))
            else:
                raise DecodeError(f"'type' must be observation, entity or event, not {kind!r}")
        except DecodeError as exc:
            raise DecodeError(f"{where}{exc}") from None
    return out


def _text(item: dict[str, Any], key: str, *, required: bool = True, default: str = "") -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise DecodeError(f"'{key}' is missing")
        return default
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DecodeError(f"'{key}' must be text, got {type(value).__name__}")
    return str(value)


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"'{key}' must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise DecodeError(f"'{key}' is not a finite number")
    return value


def _coordinate(item: dict[str, Any]) -> tuple[float | None, float | None]:
    lon, lat = _number(item.get("lon"), "lon"), _number(item.get("lat"), "lat")
    if (lon is None) != (lat is None):
        raise DecodeError("'lon' and 'lat' go together")
    if lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DecodeError(f"coordinate out of range: lon {lon}, lat {lat}")
    return lon, lat


def _time(item: dict[str, Any], message: Message) -> datetime:
    raw = item.get("ts")
    if raw is None:
        return message.received_at
    if not isinstance(raw, str):
        raise DecodeError(f"'ts' must be an ISO 8601 string, got {type(raw).__name__}")
    return parse_time(raw, "ts", assume=message.time_zone)


def _domain(item: dict[str, Any]) -> str:
    domain = _text(item, "domain")
    if domain not in DOMAINS:
        raise DecodeError(f"'domain' must be one of {', '.join(DOMAINS)}, not {domain[:30]!r}")
    return domain


def _observations(item: dict[str, Any], message: Message) -> list[Observation]:
    entity_id = f"{message.feed_id}:{_text(item, 'entity')}"
    values = item.get("values")
    if not isinstance(values, dict) or not values:
        raise DecodeError("'values' must be an object of metric → number")
    units = item.get("units") or {}
    if not isinstance(units, dict):
        raise DecodeError("'units' must be an object of metric → unit")
    ts = _time(item, message)
    msg_id = _text(item, "id", required=False) or message.digest
    out = []
    for metric, raw in values.items():
        value = _number(raw, f"values.{metric}")
        unit = units.get(metric, "")
        out.append(
            Observation(
                entity_id=entity_id,
                metric=str(metric),
                value=value,
                unit=str(unit),
                ts=ts,
                feed_id=message.feed_id,
                msg_id=msg_id,
                quality="ok" if value is not None else "missing",
            )
        )
    return out


def _entity(item: dict[str, Any], message: Message) -> Entity:
    attributes = item.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise DecodeError("'attributes' must be an object")
    lon, lat = _coordinate(item)
    name, english = parse_name(item.get("name"))
    if english is not None:
        attributes = {**attributes, "name_en": english}
    return Entity(
        id=f"{message.feed_id}:{_text(item, 'id')}",
        feed_id=message.feed_id,
        domain=_domain(item),
        kind=_text(item, "kind"),
        name=name or _text(item, "id"),
        lon=lon,
        lat=lat,
        attributes=attributes,
    )


def _event(item: dict[str, Any], message: Message) -> Event:
    severity = item.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise DecodeError(f"'severity' must be one of {', '.join(SEVERITIES)}, not {str(severity)[:20]!r}")
    lon, lat = _coordinate(item)
    source_id = _text(item, "id", required=False) or message.digest
    entity = _text(item, "entity", required=False)
    return Event(
        id=f"{message.feed_id}:{source_id}",
        feed_id=message.feed_id,
        msg_id=source_id,
        domain=_domain(item),
        type=_text(item, "event_type"),
        ts=_time(item, message),
        lon=lon,
        lat=lat,
        title=_text(item, "title", required=False, default=_text(item, "event_type")),
        description=_text(item, "description", required=False),
        severity=severity,
        entity_id=f"{message.feed_id}:{entity}" if entity else None,
        source_ref=message.source,
        raw=message.payload.decode("utf-8", "replace")[:4000],
    )
