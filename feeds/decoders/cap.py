"""OASIS CAP 1.0 / 1.1 / 1.2 alerts, bare or inside an EDXL-DE envelope → one event per alert, to the last field.

Every alert of a distribution becomes an event. Its title and description come from the Chinese `info`, else the
English one, else the first, and its severity is the worst of the infos in that language; every `info` is kept in
the event's `details` (urgency, certainty, event codes, effective / onset / expires, instruction, parameters,
resources, areas with their descriptions and geocodes). Every `area`'s polygons and circles become one geometry
(`area`, GeoJSON in WGS84; CAP writes "lat,lon" pairs and circles as "lat,lon radius-in-km"), and the event's place
is a point inside it. An area that cannot be drawn (too few points, out of range) is left out with the reason in
`details["problems"]`: the warning itself must still reach the duty desk. Update and Cancel keep the messages they
reference (`references`, as "sender,identifier"), which is how a warning's chain is followed (alerts/warnings.py).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

import shapely
from shapely.geometry.base import BaseGeometry

from feeds.decoders.base import DecodeError, Message, parse_time, parse_xml
from store.records import Decoded, Event, severity_rank

NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.2": "1.2",
    "urn:oasis:names:tc:emergency:cap:1.1": "1.1",
    "http://www.incident.com/cap/1.0": "1.0",
}
REQUIRED = ("identifier", "sender", "sent", "status", "msgType", "scope")
# CAP's severities; a few publishers write China's colours instead.
SEVERITY = {"extreme": "red", "severe": "orange", "moderate": "yellow", "minor": "blue",
            "red": "red", "orange": "orange", "yellow": "yellow", "blue": "blue"}  # fmt: skip
DOMAIN = {"Fire": "fire", "Transport": "traffic", "Security": "security", "Safety": "security", "Rescue": "security"}
FLOOD_WORDS = re.compile(r"flood|rain|storm surge|暴雨|大雨|豪雨|降雨|强降水|洪|涝|澇", re.IGNORECASE)
EARTH_RADIUS_KM = 6371.0088
CIRCLE_POINTS = 48


def decode(message: Message) -> Decoded:
    root = parse_xml(message.payload)
    alerts = [element for element in root.iter() if element.tag in {f"{{{ns}}}alert" for ns in NAMESPACES}]
    if not alerts:
        raise DecodeError(f"no CAP alert in the document (root element {root.tag[:80]!r})")
    raw = _as_declared(message.payload) if len(alerts) == 1 else None
    return Decoded(events=[_event(alert, message, raw) for alert in alerts])


class _Reader:
    """The text of CAP elements in one namespace."""

    def __init__(self, ns: str):
        self.ns = ns

    def text(self, parent: ET.Element, name: str) -> str | None:
        element = parent.find(f"{{{self.ns}}}{name}")
        return element.text.strip() if element is not None and element.text and element.text.strip() else None

    def texts(self, parent: ET.Element, name: str) -> list[str]:
        return [e.text.strip() for e in parent.findall(f"{{{self.ns}}}{name}") if e.text and e.text.strip()]

    def all(self, parent: ET.Element, name: str) -> list[ET.Element]:
        return parent.findall(f"{{{self.ns}}}{name}")

    def pairs(self, parent: ET.Element, name: str) -> list[dict[str, str]]:
        """`eventCode`, `parameter`, `geocode`: valueName / value pairs."""
        return [{"name": self.text(e, "valueName") or "", "value": self.text(e, "value") or ""}
                for e in self.all(parent, name)]  # fmt: skip


def _event(alert: ET.Element, message: Message, raw: str | None) -> Event:
    ns = alert.tag[1:].split("}")[0]
    cap = _Reader(ns)
    missing = [name for name in REQUIRED if cap.text(alert, name) is None]
    if missing:
        raise DecodeError(f"CAP alert lacks required element{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    sent = parse_time(cap.text(alert, "sent"), "sent", assume=message.time_zone)
    msg_type, identifier, sender = cap.text(alert, "msgType"), cap.text(alert, "identifier"), cap.text(alert, "sender")
    references = _references(cap.text(alert, "references"))
    problems: list[str] = []
    infos = [_info(cap, info, message, problems) for info in cap.all(alert, "info")]
    chosen = _choose(infos)
    shapes = [shape for info in cap.all(alert, "info") for shape in _shapes(cap, info, problems)]
    area = shapely.union_all(shapes) if shapes else None
    lon, lat = _inside(area) if area is not None and not area.is_empty else (None, None)
    title, description, severity, event_type, domain = identifier, "", None, "cap_alert", "env"
    if chosen is not None:
        title = chosen["headline"] or chosen["event"] or identifier
        description = chosen["description"] or ""
        # Several infos of one language cover different areas at different levels (Taiwan's CWA): the worst.
        said = [i["severity"] for i in infos if i["language"] == chosen["language"] and i["severity"]]
        colours = [SEVERITY[s.lower()] for s in said if s.lower() in SEVERITY]
        severity = min(colours, key=severity_rank) if colours else None
        event_type = chosen["event"] or event_type
        domain = next((DOMAIN[c] for c in chosen["categories"] if c in DOMAIN), None) or (
            "flood" if FLOOD_WORDS.search(f"{event_type} {title}") else "env"
        )
    if msg_type in ("Update", "Cancel"):
        event_type = f"cap_{msg_type.lower()}"
        if msg_type == "Cancel" and chosen is None:
            title = f"Cancel: {' '.join(references) or identifier}"
    expiries = [info["expires"] for info in ([chosen] if chosen and chosen["expires"] else infos) if info["expires"]]
    details = {
        "cap": NAMESPACES[ns], "identifier": identifier, "sender": sender, "sent": cap.text(alert, "sent"),
        "status": cap.text(alert, "status"), "msg_type": msg_type, "scope": cap.text(alert, "scope"),
        "source": cap.text(alert, "source"), "restriction": cap.text(alert, "restriction"),
        "addresses": cap.text(alert, "addresses"), "codes": cap.texts(alert, "code"), "note": cap.text(alert, "note"),
        "references": references, "incidents": cap.text(alert, "incidents"),
        "infos": [{k: v for k, v in info.items() if k != "expires"} for info in infos], "problems": problems,
    }  # fmt: skip
    source_id = f"{sender},{identifier}"
    references_text = cap.text(alert, "references")
    return Event(
        id=f"{message.feed_id}:{source_id}",
        feed_id=message.feed_id,
        msg_id=source_id,
        domain=domain,
        type=event_type[:80],
        ts=sent,
        lon=lon,
        lat=lat,
        title=title,
        description=description,
        severity=severity,
        source_ref=message.source + (f" references: {references_text}" if references_text else ""),
        raw=raw if raw is not None else ET.tostring(alert, encoding="unicode"),
        area=json.dumps(shapely.geometry.mapping(area)) if area is not None and not area.is_empty else None,
        expires_at=max(expiries) if expiries else None,
        references=references,
        details={k: v for k, v in details.items() if v not in (None, [], "")},
    )


def _info(cap: _Reader, info: ET.Element, message: Message, problems: list[str]) -> dict[str, Any]:
    def when(name: str) -> datetime | None:
        value = cap.text(info, name)
        if value is None:
            return None
        try:
            return parse_time(value, name, assume=message.time_zone)
        except DecodeError as error:
            problems.append(str(error))
            return None

    times = {name: when(name) for name in ("effective", "onset", "expires")}
    return {
        "language": (cap.text(info, "language") or "en-US"),  # CAP's default
        "categories": cap.texts(info, "category"), "event": cap.text(info, "event"),
        "response_types": cap.texts(info, "responseType"), "urgency": cap.text(info, "urgency"),
        "severity": cap.text(info, "severity"), "certainty": cap.text(info, "certainty"),
        "audience": cap.text(info, "audience"), "event_codes": cap.pairs(info, "eventCode"),
        **{name: value.isoformat() if value else None for name, value in times.items()},
        "sender_name": cap.text(info, "senderName"), "headline": cap.text(info, "headline"),
        "description": cap.text(info, "description"), "instruction": cap.text(info, "instruction"),
        "web": cap.text(info, "web"), "contact": cap.text(info, "contact"), "parameters": cap.pairs(info, "parameter"),
        "resources": [{"description": cap.text(r, "resourceDesc"), "mime_type": cap.text(r, "mimeType"),
                       "size": cap.text(r, "size"), "uri": cap.text(r, "uri"), "digest": cap.text(r, "digest")}
                      for r in cap.all(info, "resource")],
        "areas": [{"description": cap.text(a, "areaDesc"), "geocodes": cap.pairs(a, "geocode"),
                   "polygons": len(cap.all(a, "polygon")), "circles": len(cap.all(a, "circle")),
                   "altitude": cap.text(a, "altitude"), "ceiling": cap.text(a, "ceiling")}
                  for a in cap.all(info, "area")],
        "expires": times["expires"],
    }  # fmt: skip


def _as_declared(payload: bytes) -> str:
    """The payload as text in the encoding it declares (a byte-order mark, else the XML declaration), else UTF-8."""
    if payload.startswith((b"\xff\xfe", b"\xfe\xff")):
        return payload.decode("utf-16", "replace")
    declared = re.match(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", payload)
    try:
        return payload.decode(declared.group(1).decode() if declared else "utf-8-sig", "replace")
    except LookupError:  # an encoding Python does not know: the parser refused it already, or read it as UTF-8
        return payload.decode("utf-8", "replace")


def _choose(infos: list[dict[str, Any]]) -> dict[str, Any] | None:
    for prefix in ("zh", "en"):
        for info in infos:
            if info["language"].lower().startswith(prefix):
                return info
    return infos[0] if infos else None


def _references(text: str | None) -> list[str]:
    """CAP `references`: whitespace-separated "sender,identifier,sent" → ["sender,identifier", …]."""
    out = []
    for reference in (text or "").split():
        parts = reference.split(",")
        if len(parts) >= 2:
            out.append(f"{parts[0]},{parts[1]}")
    return list(dict.fromkeys(out))


def _shapes(cap: _Reader, info: ET.Element, problems: list[str]) -> list[BaseGeometry]:
    shapes: list[BaseGeometry] = []
    for area in cap.all(info, "area"):
        name = cap.text(area, "areaDesc") or "an area"
        for polygon in cap.all(area, "polygon"):
            try:
                points = _pairs(polygon.text or "")
            except DecodeError as error:
                problems.append(f"{name}: {error}")
                continue
            if points and points[0] != points[-1]:
                points.append(points[0])  # the spec asks for a closed ring; some publishers leave it open
            if len(set(points)) < 3:
                if points:
                    problems.append(f"{name}: a polygon of fewer than 3 points")
                continue
            shapes.append(shapely.make_valid(shapely.Polygon(points)))
        for circle in cap.all(area, "circle"):
            try:
                shapes.append(_circle(circle.text or ""))
            except DecodeError as error:
                problems.append(f"{name}: {error}")
    return shapes


def _pairs(text: str) -> list[tuple[float, float]]:
    """CAP "lat,lon lat,lon …" → [(lon, lat), …]; a space after a comma is tolerated."""
    out = []
    for pair in re.sub(r"\s*,\s*", ",", text.strip()).split():
        try:
            lat, lon = (float(v) for v in pair.split(",")[:2])
        except ValueError:
            raise DecodeError(f"not a CAP 'lat,lon' pair: {pair[:40]!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise DecodeError(f"CAP point out of range: {pair[:40]!r}")
        out.append((lon, lat))
    return out


def _circle(text: str) -> BaseGeometry:
    """ "lat,lon radius" (radius in km) → a polygon of CIRCLE_POINTS points on the sphere; radius 0 → the point."""
    parts = re.sub(r"\s*,\s*", ",", text.strip()).split()
    if len(parts) != 2:
        raise DecodeError(f"not a CAP circle 'lat,lon radius': {text.strip()[:40]!r}")
    [(lon, lat)] = _pairs(parts[0])
    try:
        radius = float(parts[1])
    except ValueError:
        raise DecodeError(f"not a CAP circle radius in km: {parts[1][:20]!r}") from None
    if not (0 <= radius < 20_000):
        raise DecodeError(f"CAP circle radius out of range: {parts[1][:20]!r}")
    if radius == 0:
        return shapely.Point(lon, lat)
    angle = radius / EARTH_RADIUS_KM
    phi, lam = math.radians(lat), math.radians(lon)
    ring = []
    for k in range(CIRCLE_POINTS):
        bearing = 2 * math.pi * k / CIRCLE_POINTS
        phi2 = math.asin(math.sin(phi) * math.cos(angle) + math.cos(phi) * math.sin(angle) * math.cos(bearing))
        lam2 = lam + math.atan2(math.sin(bearing) * math.sin(angle) * math.cos(phi),
                                math.cos(angle) - math.sin(phi) * math.sin(phi2))  # fmt: skip
        ring.append((math.degrees(lam2), math.degrees(phi2)))
    return shapely.Polygon(ring)


def _inside(area: BaseGeometry) -> tuple[float, float]:
    """The area's centroid when it lies inside (what people expect), else a point surely inside."""
    centre = area.centroid
    if not area.covers(centre):
        centre = area.point_on_surface()
    return centre.x, centre.y
