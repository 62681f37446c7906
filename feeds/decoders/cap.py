"""OASIS CAP 1.0 / 1.1 / 1.2 alerts, bare or inside an EDXL-DE envelope → one event per alert.

The declared encoding and a byte-order mark are honoured by the XML parser. Of several `info` blocks the Chinese
one is used, else the English one, else the first. CAP polygons are "lat,lon" pairs and circles "lat,lon radius";
the event's place is the polygon's centroid or the circle's centre. Update and Cancel messages keep their
`references` (sender,identifier,sent of the earlier messages) in the event's source reference.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import shapely

from feeds.decoders.base import DecodeError, Message, parse_time, parse_xml
from store.records import Decoded, Event

NAMESPACES = (
    "urn:oasis:names:tc:emergency:cap:1.2",
    "urn:oasis:names:tc:emergency:cap:1.1",
    "http://www.incident.com/cap/1.0",
)
REQUIRED = ("identifier", "sender", "sent", "status", "msgType", "scope")
SEVERITY = {"Extreme": "red", "Severe": "orange", "Moderate": "yellow", "Minor": "blue"}
DOMAIN = {"Fire": "fire", "Transport": "traffic", "Security": "security", "Safety": "security", "Rescue": "security"}


def decode(message: Message) -> Decoded:
    root = parse_xml(message.payload)
    alert = _find_alert(root)
    if alert is None:
        raise DecodeError(f"no CAP alert in the document (root element {root.tag[:80]!r})")
    ns = alert.tag[1:].split("}")[0]

    def text(parent: ET.Element, name: str) -> str | None:
        element = parent.find(f"{{{ns}}}{name}")
        return element.text.strip() if element is not None and element.text and element.text.strip() else None

    missing = [name for name in REQUIRED if text(alert, name) is None]
    if missing:
        raise DecodeError(f"CAP alert lacks required element{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    sent = parse_time(text(alert, "sent"), "sent", assume=message.time_zone)
    msg_type = text(alert, "msgType")
    identifier, sender = text(alert, "identifier"), text(alert, "sender")
    info = _choose_info(alert.findall(f"{{{ns}}}info"), ns)
    title, description, severity, event_type, domain, lon, lat = identifier, "", None, "cap_alert", "env", None, None
    if info is not None:
        title = text(info, "headline") or text(info, "event") or identifier
        description = text(info, "description") or ""
        severity = SEVERITY.get(text(info, "severity") or "")
        event_type = text(info, "event") or event_type
        categories = [c.text.strip() for c in info.findall(f"{{{ns}}}category") if c.text]
        domain = next(
            (DOMAIN[c] for c in categories if c in DOMAIN), "flood" if "flood" in event_type.lower() else "env"
        )
        lon, lat = _place(info, ns)
    if msg_type in ("Update", "Cancel"):
        event_type = f"cap_{msg_type.lower()}"
        if msg_type == "Cancel" and info is None:
            title = f"Cancel: {text(alert, 'references') or identifier}"
    references = text(alert, "references")
    source_id = f"{sender},{identifier}"
    return Decoded(
        events=[
            Event(
                id=f"{message.feed_id}:{source_id}",
                feed_id=message.feed_id,
                msg_id=source_id,
                domain=domain,
                type=event_type[:80],
                ts=sent,
                lon=lon,
                lat=lat,
                title=title[:500],
                description=description[:4000],
                severity=severity,
                source_ref=message.source + (f" references: {references}" if references else ""),
                raw=message.payload.decode("utf-8", "replace")[:4000],
            )
        ]
    )


def _find_alert(root: ET.Element) -> ET.Element | None:
    for element in root.iter():  # the root itself first, then inside an EDXL-DE envelope
        if element.tag in {f"{{{ns}}}alert" for ns in NAMESPACES}:
            return element
    return None


def _choose_info(infos: list[ET.Element], ns: str) -> ET.Element | None:
    def language(info: ET.Element) -> str:
        element = info.find(f"{{{ns}}}language")
        return (element.text or "").strip().lower() if element is not None else "en-us"  # CAP's default

    for prefix in ("zh", "en"):
        for info in infos:
            if language(info).startswith(prefix):
                return info
    return infos[0] if infos else None


def _place(info: ET.Element, ns: str) -> tuple[float | None, float | None]:
    for area in info.findall(f"{{{ns}}}area"):
        for polygon in area.findall(f"{{{ns}}}polygon"):
            points = _pairs(polygon.text or "")
            if len(points) >= 3:
                centre = shapely.Polygon(points).centroid
                return centre.x, centre.y
        for circle in area.findall(f"{{{ns}}}circle"):
            centre = (circle.text or "").split()
            points = _pairs(centre[0]) if centre else []
            if points:
                return points[0]
    return None, None


def _pairs(text: str) -> list[tuple[float, float]]:
    """CAP "lat,lon lat,lon …" → [(lon, lat), …]."""
    out = []
    for pair in text.split():
        try:
            lat, lon = (float(v) for v in pair.split(","))
        except ValueError:
            raise DecodeError(f"not a CAP 'lat,lon' pair: {pair[:40]!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise DecodeError(f"CAP point out of range: {pair[:40]!r}")
        out.append((lon, lat))
    return out
