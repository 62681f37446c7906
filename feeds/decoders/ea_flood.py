"""UK Environment Agency flood-monitoring API (stations, measures, readings, flood warnings) → gauges, readings and
warnings.

The model for a hydrology poller: `items` is a list or one object, and many fields are a list or a scalar (the
first is taken). About one station in ten has no coordinates (it is kept, unplaced); measures without a latest
reading give no observation; a station's embedded measures give its latest readings; unit "---" means unknown and
is stored as such (empty), never guessed. Times without an offset are UTC, as the API documents (or the feed's
time_zone). Metric names come from the measure: `level` for the stage, `level_downstream_stage`, `rainfall`,
`flow`.

Flood warnings (`/id/floods`) are official warnings, one chain per flood area: each change of a warning (its
`timeMessageChanged`) is an Update of the area's chain, and severity level 4 ("Warning no longer in force") its
Cancel; a warning rule (alerts/warnings.py) follows them as it follows CAP. Levels 1–3 (Severe Flood Warning, Flood
Warning, Flood Alert) are red, orange and yellow. The area's polygon is only a URL here, so a warning is placed at
its area's lat/long when the response expands the area, else nowhere. Flood areas themselves (`/id/floodAreas`) are
reference data, not a feed: refused with that reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feeds.decoders.base import DecodeError, Message, parse_json, parse_number, parse_time
from store.records import Decoded, Entity, Event, Observation

# Severity levels of a flood warning → China's colours; 4 ends it.
WARNING_COLOURS = {1: "red", 2: "orange", 3: "yellow"}
NO_LONGER_IN_FORCE = 4


def decode(message: Message) -> Decoded:
    doc = parse_json(message.payload)
    if not isinstance(doc, dict) or "items" not in doc:
        raise DecodeError("not an EA flood-monitoring response: no 'items'")
    items = doc["items"] if isinstance(doc["items"], list) else [doc["items"]]
    out = Decoded()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise DecodeError(f"item {n}: an object was expected, not {type(item).__name__}")
        try:
            if "floodAreaID" in item or "severityLevel" in item:
                _flood_warning(item, message, out)
            elif "/floodAreas/" in str(item.get("@id", "")):
                raise DecodeError("a flood area is reference data, not a warning or a reading: poll /id/floods")
            elif "measure" in item and "value" in item:
                _reading(item, message, out)
            elif "parameter" in item or "latestReading" in item:
                _measure(item, message, out)
            elif "stationReference" in item or "notation" in item:
                _station(item, message, out)
            else:
                raise DecodeError("neither a station, a measure nor a reading")
        except DecodeError as exc:
            raise DecodeError(f"item {n}: {exc}") from None
    if not (out.entities or out.observations or out.events or "floods" in str(doc.get("meta", {}))):
        raise DecodeError("no station, reading or flood warning in the response")
    return out


def _one(value: Any) -> Any:
    """EA fields are sometimes a list of values and sometimes one value."""
    return value[0] if isinstance(value, list) and value else (None if isinstance(value, list) else value)


def _number(value: Any, name: str) -> float | None:
    return parse_number(_one(value), name)


def _time(raw: Any, message: Message) -> datetime:
    raw = _one(raw)
    if not isinstance(raw, str):
        raise DecodeError("a reading needs 'dateTime'")
    return parse_time(raw, "dateTime", assume=message.time_zone or UTC)


def metric(parameter: str, qualifier: str | None) -> str:
    qualifier = (qualifier or "").strip().lower().replace(" ", "_")
    return parameter if qualifier in ("", "stage", "tipping_bucket_raingauge") else f"{parameter}_{qualifier}"


def _station(item: dict[str, Any], message: Message, out: Decoded) -> None:
    reference = _one(item.get("stationReference")) or _one(item.get("notation"))
    if not reference:
        raise DecodeError("a station needs 'stationReference'")
    lat, lon = _number(item.get("lat"), "lat"), _number(item.get("long"), "long")
    if lat is None or lon is None:
        lat = lon = None
    types = item.get("type") if isinstance(item.get("type"), list) else [item.get("type")]
    measures = item.get("measures") if isinstance(item.get("measures"), list) else [item.get("measures")]
    parameters = {m.get("parameter") for m in measures if isinstance(m, dict)}
    rain = any(isinstance(t, str) and t.endswith("RainfallStation") for t in types) or parameters == {"rainfall"}
    attributes = {k: _one(item[k]) for k in ("riverName", "catchmentName", "town") if _one(item.get(k))}
    scale = item.get("stageScale")
    if isinstance(scale, dict):
        high = _number(scale.get("typicalRangeHigh"), "typicalRangeHigh")
        if high is not None:
            attributes["warning_level"] = high  # the top of the typical range: above it is out of the ordinary
        record = scale.get("maxOnRecord")
        highest = _number(record.get("value"), "maxOnRecord") if isinstance(record, dict) else None
        if highest is not None:
            attributes["max_on_record"] = highest
    out.entities.append(
        Entity(id=f"{message.feed_id}:{reference}", feed_id=message.feed_id, domain="flood",
               kind="rain_gauge" if rain else "river_gauge", name=str(_one(item.get("label")) or reference),
               lon=lon, lat=lat, attributes=attributes)
    )  # fmt: skip
    # A station read one by one (or with `_view=full`) embeds its measures with their latest readings: one
    # poll of one URL then gives the places and the values.
    for measure in measures:
        if isinstance(measure, dict) and "latestReading" in measure:
            _measure({"stationReference": reference, **measure}, message, out)


def _measure(item: dict[str, Any], message: Message, out: Decoded) -> None:
    reading = _one(item.get("latestReading"))
    if not isinstance(reading, dict):
        return  # no latest reading (or only its URL): nothing measured to store
    station = _one(item.get("stationReference")) or str(_one(item.get("notation")) or "").split("-")[0]
    if not station:
        raise DecodeError("a measure needs 'stationReference'")
    name = metric(str(_one(item.get("parameter")) or "value"), _one(item.get("qualifier")))
    unit = str(_one(item.get("unitName")) or "")
    _add(out, message, station, name, "" if unit == "---" else unit, reading)


def _reading(item: dict[str, Any], message: Message, out: Decoded) -> None:
    measure = str(_one(item.get("measure")) or "").rsplit("/", 1)[-1]
    parts = measure.split("-")
    if len(parts) < 3:
        raise DecodeError(f"cannot tell station and parameter from measure {measure[:60]!r}")
    # notation: <station>-<parameter>-<qualifier>-<type>-<period>-<unit>, e.g. 690140-level-stage-i-15_min-m
    unit = parts[-1] if len(parts) >= 6 else ""
    _add(out, message, parts[0], metric(parts[1], parts[2]), unit, item)


def _add(out: Decoded, message: Message, station: str, name: str, unit: str, reading: dict[str, Any]) -> None:
    value = _number(reading.get("value"), "value")
    ts = _time(reading.get("dateTime"), message)
    out.observations.append(
        Observation(entity_id=f"{message.feed_id}:{station}", metric=name, value=value, unit=unit, ts=ts,
                    feed_id=message.feed_id, msg_id=f"{station}/{name}/{ts:%Y%m%dT%H%M%S}",
                    quality="ok" if value is not None else "missing")
    )  # fmt: skip


def _flood_warning(item: dict[str, Any], message: Message, out: Decoded) -> None:
    area_id = _one(item.get("floodAreaID"))
    level = _one(item.get("severityLevel"))
    if not isinstance(area_id, str) or not area_id:
        raise DecodeError("a flood warning needs 'floodAreaID'")
    if isinstance(level, bool) or level not in (*WARNING_COLOURS, NO_LONGER_IN_FORCE):
        raise DecodeError(f"a flood warning's severityLevel is 1 to 4, not {str(level)[:20]!r}")
    changed = _one(item.get("timeMessageChanged")) or _one(item.get("timeRaised"))
    if not isinstance(changed, str):
        raise DecodeError("a flood warning needs 'timeMessageChanged' or 'timeRaised'")
    ts = parse_time(changed, "timeMessageChanged", assume=message.time_zone or UTC)
    area = item.get("floodArea") if isinstance(item.get("floodArea"), dict) else {}
    lat, lon = _number(area.get("lat"), "lat"), _number(area.get("long"), "long")
    if lat is None or lon is None:
        lat = lon = None
    severity = str(_one(item.get("severity")) or "")
    where = str(_one(item.get("description")) or area.get("label") or area_id)
    text = str(_one(item.get("message")) or "")
    ended = level == NO_LONGER_IN_FORCE
    msg_id = f"{area_id}@{ts:%Y%m%dT%H%M%S}"
    info = {"language": "en-GB", "event": severity or "Flood warning", "headline": f"{severity}: {where}",
            "description": text, "severity": severity, "areas": [{"description": where, "geocodes": [
                {"name": "floodAreaID", "value": area_id}]}]}  # fmt: skip
    out.events.append(
        Event(id=f"{message.feed_id}:{msg_id}", feed_id=message.feed_id, msg_id=msg_id, domain="flood",
              type="flood_warning_removed" if ended else "flood_warning", ts=ts, lon=lon, lat=lat,
              title=f"{severity}: {where}", description=text, severity=WARNING_COLOURS.get(level),
              source_ref=message.source, raw=message.payload.decode("utf-8", "replace")[:4000],
              references=[area_id],
              details={"msg_type": "Cancel" if ended else "Update", "status": "Actual", "severity_level": level,
                       "flood_area": area_id, "tidal": bool(item.get("isTidal")),
                       "ea_area": _one(item.get("eaAreaName")), "infos": [info]})
    )  # fmt: skip
