"""DATEX II v2 publications: situations → traffic events, measured data → per-site readings, measurement site
tables → the sites as detectors.

Situations: one event per situation record. The record's version time is its time (offsets such as +01:00 become
UTC); its place is the first `locationForDisplay`; DATEX severities map to the four colours (highest/high →
red/orange, medium → yellow, low/lowest → blue).

Measured data: each site's values at its `measurementTimeDefault` become its readings `flow` (veh/h, the sum over
its lanes and vehicle classes), `speed` (km/h), `occupancy` (%) and `headway` (s) (each the mean over its lanes). A
value its source flags `dataError`, one computed from no input (`numberOfInputValuesUsed` 0), or a fill value (a
speed of 255, an occupancy over 100 %, a flow no lane carries, anything negative) is refused and counted on the
feed, never stored; so is a speed of 0 at a site where no vehicle passed. The sites' places come from the site
table (its `locationForDisplay`), a publication of its own: the readings of a site are of the detector of the same
id.

Other publications (VMS status …) are refused with a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from feeds.decoders.base import DecodeError, Message, parse_time, parse_xml
from store.records import Decoded, Entity, Event, Observation

D2 = "{http://datex2.eu/schema/2/2_0}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
SEVERITY = {"highest": "red", "high": "orange", "medium": "yellow", "low": "blue", "lowest": "blue"}
# A measured value's kind (its basicData's xsi:type) → its reading, element, value element, unit, and the largest
# value a lane can give (above it: a fill value).
MEASURED = {
    "TrafficFlow": ("flow", "vehicleFlow", "vehicleFlowRate", "veh/h", 10_000.0),
    "TrafficSpeed": ("speed", "averageVehicleSpeed", "speed", "km/h", 250.0),
    "TrafficConcentration": ("occupancy", "occupancy", "percentage", "%", 100.0),
    "TrafficHeadway": ("headway", "averageTimeHeadway", "duration", "s", 3_600.0),
}  # fmt: skip


def decode(message: Message) -> Decoded:
    root = parse_xml(message.payload)
    if root.tag != f"{D2}d2LogicalModel":
        raise DecodeError(f"not a DATEX II v2 document (root element {root.tag[:80]!r})")
    publication = root.find(f"{D2}payloadPublication")
    kind = publication.get(XSI_TYPE, "").split(":")[-1] if publication is not None else ""
    if kind == "MeasuredDataPublication":
        return _measured(publication, message)
    if kind == "MeasurementSiteTablePublication":
        return _sites(publication, message)
    if kind != "SituationPublication":
        raise DecodeError(f"not a situation, measured data or site table publication "
                          f"({kind or 'no payloadPublication'}); configure its own decoder")  # fmt: skip
    events = []
    for situation in publication.iter(f"{D2}situation"):
        for record in situation.findall(f"{D2}situationRecord"):
            events.append(_event(situation, record, message))
    if not events:
        raise DecodeError("a situation publication with no situation record")
    return Decoded(events=events)


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _time(raw: str | None, message: Message) -> datetime:
    if raw is None:
        raise DecodeError("a situation record needs situationRecordVersionTime or situationRecordCreationTime")
    return parse_time(raw, "situationRecordVersionTime", assume=message.time_zone or UTC)


def _event(situation: ET.Element, record: ET.Element, message: Message) -> Event:
    record_id = record.get("id") or situation.get("id")
    if not record_id:
        raise DecodeError("a situation record needs an id")
    ts = _time(
        _text(record, f"{D2}situationRecordVersionTime") or _text(record, f"{D2}situationRecordCreationTime"), message
    )
    lon = lat = None
    display = record.find(f".//{D2}locationForDisplay")
    if display is not None:
        try:
            lat, lon = float(_text(display, f"{D2}latitude")), float(_text(display, f"{D2}longitude"))
        except (TypeError, ValueError):
            raise DecodeError(f"record {record_id}: locationForDisplay is not a latitude and longitude") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise DecodeError(f"record {record_id}: location out of range: {lat}, {lon}")
    comments = [v.text.strip() for v in record.iter(f"{D2}value") if v.text and v.text.strip()]
    record_type = record.get(XSI_TYPE, "SituationRecord").split(":")[-1]
    detail = _text(record, f"{D2}abnormalTrafficType") or record_type
    where = next((c.split(":", 1)[1].strip() for c in comments if c.lower().startswith("event location")), "")
    version = ts.strftime("%Y%m%dT%H%M%S")
    return Event(
        id=f"{message.feed_id}:{record_id}@{version}",
        feed_id=message.feed_id,
        msg_id=f"{record_id}@{version}",
        domain="traffic",
        type=record_type[:80],
        ts=ts,
        lon=lon,
        lat=lat,
        title=(f"{detail}: {where}" if where else detail)[:500],
        description="\n".join(comments)[:4000],
        severity=SEVERITY.get(_text(record, f"{D2}severity") or ""),
        source_ref=message.source,
        raw=ET.tostring(record, encoding="unicode")[:4000],
    )


def _measured(publication: ET.Element, message: Message) -> Decoded:
    out = Decoded()
    for n, site in enumerate(publication.findall(f"{D2}siteMeasurements")):
        reference = site.find(f"{D2}measurementSiteReference")
        site_id = reference.get("id") if reference is not None else None
        if not site_id:
            raise DecodeError(f"siteMeasurements {n}: no measurementSiteReference id")
        raw_time = _text(site, f"{D2}measurementTimeDefault")
        if raw_time is None:
            raise DecodeError(f"site {site_id[:40]}: no measurementTimeDefault")
        ts = parse_time(raw_time, "measurementTimeDefault", assume=message.time_zone or UTC)
        values: dict[str, list[float]] = {}
        for measured in site.findall(f"{D2}measuredValue"):
            basic = measured.find(f"{D2}measuredValue/{D2}basicData")
            spec = MEASURED.get(basic.get(XSI_TYPE, "").split(":")[-1]) if basic is not None else None
            if spec is None:
                continue  # a kind of value CityOps does not read (travel time, individual vehicles …)
            metric, container, element, _unit, largest = spec
            held = basic.find(f"{D2}{container}")
            value = _number(held, f"{D2}{element}") if held is not None else None
            if value is None:
                continue
            if (_text(held, f"{D2}dataError") == "true" or held.get("numberOfInputValuesUsed") == "0"
                    or not 0 <= value <= largest):  # fmt: skip
                out.discarded += 1
                continue
            values.setdefault(metric, []).append(value)
        if sum(values.get("flow", [1])) == 0 and values.get("speed") and not any(values["speed"]):
            out.discarded += len(values.pop("speed"))  # no vehicle passed: a speed of 0 is no measurement
        for metric, found in values.items():
            unit = next(spec[3] for spec in MEASURED.values() if spec[0] == metric)
            out.observations.append(
                Observation(entity_id=f"{message.feed_id}:{site_id}", metric=metric,
                            value=sum(found) if metric == "flow" else sum(found) / len(found), unit=unit, ts=ts,
                            feed_id=message.feed_id, msg_id=f"{site_id}/{metric}/{ts:%Y%m%dT%H%M%S}")
            )  # fmt: skip
    if not out.observations and not out.discarded:
        raise DecodeError("a measured data publication with no value")
    return out


def _number(element: ET.Element, path: str) -> float | None:
    text = _text(element, path)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise DecodeError(f"not a number: {text[:30]!r}") from None


def _sites(publication: ET.Element, message: Message) -> Decoded:
    out = Decoded()
    for record in publication.iter(f"{D2}measurementSiteRecord"):
        site_id = record.get("id")
        if not site_id:
            raise DecodeError("a measurementSiteRecord needs an id")
        lat = lon = None
        display = record.find(f".//{D2}locationForDisplay")
        if display is not None:
            lat, lon = _number(display, f"{D2}latitude"), _number(display, f"{D2}longitude")
            if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise DecodeError(f"site {site_id[:40]}: locationForDisplay is not a latitude and longitude")
        name = _text(record, f"{D2}measurementSiteName/{D2}values/{D2}value") or site_id
        lanes = _text(record, f"{D2}measurementSiteNumberOfLanes")
        out.entities.append(
            Entity(id=f"{message.feed_id}:{site_id}", feed_id=message.feed_id, domain="traffic",
                   kind="traffic_detector", name=name, lon=lon, lat=lat,
                   attributes={"lanes": int(lanes)} if lanes and lanes.isdigit() else {})
        )  # fmt: skip
    if not out.entities:
        raise DecodeError("a measurement site table with no site")
    return out
