"""CAP decoder over real alerts (tests/fixtures/SOURCES.md): versions, languages, areas, Update/Cancel, errors."""

import json
import re
from datetime import UTC, datetime

import pytest
import shapely

from feeds.decoders import DecodeError, Message
from feeds.decoders.cap import decode

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def event(fixture_path, name: str):
    [e] = decode(Message("cap", name, fixture_path(f"cap/{name}").read_bytes(), NOW)).events
    return e


def test_australian_fire_with_a_circle(fixture_path):
    e = event(fixture_path, "australia.cap")
    assert e.domain == "fire" and e.severity == "blue"  # Minor
    assert e.lat == pytest.approx(-35.3888, abs=1e-4) and e.lon == pytest.approx(147.0598, abs=1e-4)  # its centre
    # "lat,lon radius" with the radius in km: a circle drawn on the sphere, 2 × radius across.
    circle = shapely.geometry.shape(json.loads(e.area))
    written = fixture_path("cap/australia.cap").read_bytes()
    radius_km = float(re.search(rb"<cap:circle>\S+ ([0-9.]+)</cap:circle>", written)[1])
    across_km = (circle.bounds[3] - circle.bounds[1]) * 111.2
    assert across_km == pytest.approx(2 * radius_km, rel=0.01)
    # Every field of the info is kept: what the duty desk shows and what a rule may read.
    info = e.details["infos"][0]  # two infos, both en-AU: the first is chosen
    assert (info["urgency"], info["severity"], info["certainty"]) == ("Expected", "Minor", "Observed")
    assert info["categories"] == ["Fire", "Met"] and info["response_types"] == ["Evacuate"]
    assert {"name": "non-standard secondary event code", "value": "structure_fire"} in info["event_codes"]
    assert {"name": "Location", "value": "12 Cox Street, Yerong Creek"} in info["parameters"]
    assert info["instruction"] == "Not Applicable" and info["effective"] == "2011-10-05T13:04:00+00:00"
    assert e.expires_at == datetime(2011, 10, 6, 13, 4, tzinfo=UTC)
    assert len(e.details["infos"]) == 2 and e.details["msg_type"] == "Alert" and e.details["cap"] == "1.2"
    assert e.details["codes"] == ["urn:oasis:names:tc:emergency:cap:1.2:profile:CAP-AU:1.0"]


def test_bilingual_canadian_update_keeps_english_and_its_references(fixture_path):
    e = event(fixture_path, "canada.cap")
    assert e.type == "cap_update"
    assert e.title == "severe thunderstorm watch"  # en-CA chosen over fr-CA
    assert "references: cap@ec.gc.ca,2.49.0.1.124.a3f342a4.2012" in e.source_ref
    assert e.ts == datetime(2012, 5, 2, 23, 21, 4, tzinfo=UTC)  # "-00:00"
    assert 41.9 < e.lat < 42.4 and -83 < e.lon < -81.5  # centroid of a "lat,lon" polygon near Windsor


def test_cap_1_1_earthquake_and_icelandic_polygon(fixture_path):
    quake = event(fixture_path, "earthquake.cap")
    assert quake.severity is None and (quake.lat, quake.lon) == (-16.053, -173.274)
    iceland = event(fixture_path, "iceland_met_office.cap")
    assert iceland.severity == "yellow" and 63.5 < iceland.lat < 64.5 and -23 < iceland.lon < -21


def test_cancel_without_info_and_alert_without_optional_fields(fixture_path):
    cancel = event(fixture_path, "no_info_tag.cap")
    assert cancel.type == "cap_cancel" and cancel.title.startswith("Cancel: AtHoc,")
    assert cancel.lon is None
    bare = event(fixture_path, "no_optional_fields.cap")
    assert bare.type == "cap_alert" and bare.lon is None


def test_empty_polygon_gives_no_place(fixture_path):
    assert event(fixture_path, "weather.cap").lon is None


def test_missing_required_scope_is_refused(fixture_path):
    with pytest.raises(DecodeError, match="lacks required element: scope"):
        event(fixture_path, "invalid.cap")


def test_inside_an_edxl_envelope_and_with_a_bom_and_latin1(fixture_path):
    alert = fixture_path("cap/australia.cap").read_bytes().split(b"?>", 1)[1]
    envelope = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
                b"<contentObject><xmlContent><embeddedXMLContent>" + alert +
                b"</embeddedXMLContent></xmlContent></contentObject></EDXLDistribution>")  # fmt: skip
    [e] = decode(Message("cap", "edxl", envelope, NOW)).events
    assert e.domain == "fire"
    with_bom = b"\xef\xbb\xbf" + fixture_path("cap/iceland_met_office.cap").read_bytes()
    assert decode(Message("cap", "bom", with_bom, NOW)).events[0].severity == "yellow"
    latin1 = fixture_path("cap/iceland_met_office.cap").read_text(encoding="utf-8")
    latin1 = latin1.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("iso-8859-1", "replace")
    assert decode(Message("cap", "latin1", latin1, NOW)).events[0].ts.year >= 2000


def test_not_xml_and_not_cap():
    with pytest.raises(DecodeError, match="not well-formed XML"):
        decode(Message("cap", "t", b"<alert><identifier>x</alert>", NOW))
    with pytest.raises(DecodeError, match="no CAP alert"):
        decode(Message("cap", "t", b"<rss/>", NOW))
