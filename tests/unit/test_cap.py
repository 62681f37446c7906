"""CAP 1.2 export: valid against the OASIS schema, severities mapped, area as circle and polygon."""

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from alerts.cap import NS, to_cap
from tests.harness import ROOT

SCHEMA = xmlschema.XMLSchema(ROOT / "tests" / "fixtures" / "cap" / "CAP-v1.2.xsd")
T = datetime(2026, 7, 20, 8, 0, 12, 345678, tzinfo=UTC)


def alert(**changes):
    base = {
        "id": 17, "rule_id": "river-over-warning", "domain": "flood", "severity": "red", "state": "acknowledged",
        "condition": "active", "title_zh": "府河 1 号站超警戒水位", "title_en": "Fu River gauge 1 above warning level",
        "message_zh": "水位 14.2 米 <超过> 保证水位 & 警戒", "message_en": "Level 14.2 m <above> guaranteed & warning",
        "lon": 115.4906, "lat": 38.8581, "district_id": "130606", "first_fired_at": T, "updated_at": T,
    }  # fmt: skip
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("colour", "cap"), [("red", "Extreme"), ("orange", "Severe"), ("yellow", "Moderate"), ("blue", "Minor")]
)
def test_valid_cap_with_mapped_severity(colour, cap, demo_regions):
    district = demo_regions.get("130606")
    xml = to_cap(alert(severity=colour), sender="cityops.baoding", timezone="Asia/Shanghai",
                 district_name=(district.name_zh, district.name_en), district_shape=district.geometry)  # fmt: skip
    SCHEMA.validate(xml.decode())
    root = ET.fromstring(xml)
    infos = root.findall(f"{{{NS}}}info")
    assert [i.findtext(f"{{{NS}}}language") for i in infos] == ["zh-CN", "en"]
    assert {i.findtext(f"{{{NS}}}severity") for i in infos} == {cap}
    assert root.findtext(f"{{{NS}}}sent") == "2026-07-20T16:00:12+08:00"
    area = infos[0].find(f"{{{NS}}}area")
    assert area.findtext(f"{{{NS}}}areaDesc") == "莲池区"
    assert area.findtext(f"{{{NS}}}circle") == "38.85810,115.49060 0.5"
    pairs = area.findtext(f"{{{NS}}}polygon").split()
    assert pairs[0] == pairs[-1] and len(pairs) >= 4
    lat, lon = map(float, pairs[0].split(","))
    assert 38 < lat < 40 and 114 < lon < 117  # "lat,lon", not GeoJSON's lon,lat
    assert infos[1].findtext(f"{{{NS}}}description") == "Level 14.2 m <above> guaranteed & warning"


def test_an_alert_without_a_place_is_still_valid():
    xml = to_cap(alert(lon=None, lat=None, district_id=None), sender="cityops.baoding", timezone="Asia/Shanghai")
    SCHEMA.validate(xml.decode())
