"""Alerts as OASIS CAP 1.2 (Common Alerting Protocol), so other systems can take them in.

Severity maps red / orange / yellow / blue → Extreme / Severe / Moderate / Minor; one `info` block per language;
the area is a circle around the alert's place and, where known, its district's polygon and code.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from shapely.geometry.base import BaseGeometry

NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_SEVERITY = {"red": "Extreme", "orange": "Severe", "yellow": "Moderate", "blue": "Minor"}
CAP_URGENCY = {"red": "Immediate", "orange": "Immediate", "yellow": "Expected", "blue": "Future"}
CAP_CATEGORY = {"flood": "Met", "fire": "Fire", "traffic": "Transport", "security": "Security", "env": "Env",
                "hotline": "Other", "system": "Infra"}  # fmt: skip
CIRCLE_KM = 0.5


def cap_time(value: datetime, tz: str) -> str:
    """CAP wants seconds and an explicit offset, no fractions: 2026-07-20T16:00:00+08:00."""
    return value.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def to_cap(
    alert: dict[str, Any],
    *,
    sender: str,
    timezone: str,
    district_name: tuple[str, str] | None = None,
    district_shape: BaseGeometry | None = None,
) -> bytes:
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}alert")

    def add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NS}}}{tag}")
        if text is not None:
            element.text = _xml_text(text)
        return element

    add(root, "identifier", f"{sender}-alert-{alert['id']}")
    add(root, "sender", sender)
    add(root, "sent", cap_time(alert["updated_at"], timezone))
    add(root, "status", "Actual")
    add(root, "msgType", "Alert")
    add(root, "scope", "Public")
    for lang, suffix, area_name in (("zh-CN", "zh", 0), ("en", "en", 1)):
        info = add(root, "info")
        add(info, "language", lang)
        add(info, "category", CAP_CATEGORY.get(alert["domain"], "Other"))
        add(info, "event", alert["rule_id"])
        add(info, "urgency", CAP_URGENCY[alert["severity"]])
        add(info, "severity", CAP_SEVERITY[alert["severity"]])
        add(info, "certainty", "Observed")
        add(info, "effective", cap_time(alert["first_fired_at"], timezone))
        add(info, "senderName", "CityOps")
        add(info, "headline", alert[f"title_{suffix}"])
        add(info, "description", alert[f"message_{suffix}"])
        for name, value in (
            ("cityops:state", alert["state"]),
            ("cityops:condition", alert["condition"]),
            ("cityops:colour", alert["severity"]),
        ):
            parameter = add(info, "parameter")
            add(parameter, "valueName", name)
            add(parameter, "value", str(value))
        area = add(info, "area")
        add(area, "areaDesc", district_name[area_name] if district_name else alert[f"title_{suffix}"])
        if district_shape is not None:
            add(area, "polygon", _polygon(district_shape))
        if alert.get("lon") is not None and alert.get("lat") is not None:
            add(area, "circle", f"{alert['lat']:.5f},{alert['lon']:.5f} {CIRCLE_KM}")
        if alert.get("district_id"):
            geocode = add(area, "geocode")
            add(geocode, "valueName", "CN-adcode")
            add(geocode, "value", str(alert["district_id"]))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# Characters XML 1.0 cannot carry at all, not even escaped: the C0 controls but tab and line breaks, lone
# surrogates, U+FFFE and U+FFFF. A feed's device name may hold them; the export leaves them out.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _polygon(shape: BaseGeometry) -> str:
    """CAP polygons are "lat,lon" pairs, first equal to last; the largest part of a multipolygon."""
    if shape.geom_type == "MultiPolygon":
        shape = max(shape.geoms, key=lambda g: g.area)
    ring = shape.simplify(0.002).exterior.coords
    return " ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in ring)
