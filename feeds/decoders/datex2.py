"""DATEX II v2 situation publications → traffic events, one per situation record.

The record's version time is its time (offsets such as +01:00 become UTC); its place is the first
`locationForDisplay`; DATEX severities map to the four colours (highest/high → red/orange, medium → yellow,
low/lowest → blue). Other publications (VMS, measured data) are not situations and are refused with a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from feeds.decoders.base import DecodeError, Message, parse_time, parse_xml
from store.records import Decoded, Event

D2 = "{http://datex2.eu/schema/2/2_0}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
SEVERITY = {"highest": "red", "high": "orange", "medium": "yellow", "low": "blue", "lowest": "blue"}


def decode(message: Message) -> Decoded:
    root = parse_xml(message.payload)
    if root.tag != f"{D2}d2LogicalModel":
        raise DecodeError(f"not a DATEX II v2 document (root element {root.tag[:80]!r})")
    publication = root.find(f"{D2}payloadPublication")
    kind = publication.get(XSI_TYPE, "") if publication is not None else ""
    if not kind.endswith("SituationPublication"):
        raise DecodeError(f"not a situation publication ({kind or 'no payloadPublication'}); configure its own decoder")
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
