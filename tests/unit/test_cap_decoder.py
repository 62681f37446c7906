"""CAP decoder over real alerts (tests/fixtures/SOURCES.md): versions, languages, areas, Update/Cancel, errors."""

from datetime import UTC, datetime

import pytest

from feeds.decoders import DecodeError, Message
from feeds.decoders.cap import decode

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def event(fixture_path, name: str):
    [e] = decode(Message("cap", name, fixture_path(f"cap/{name}").read_bytes(), NOW)).events
    return e


def test_australian_fire_with_a_circle(fixture_path):
    e = event(fixture_path, "australia.cap")
    assert e.domain == "fire" and e.severity == "blue"  # Minor
    assert (e.lat, e.lon) == (-35.3888, 147.0598)  # the circle's centre, from "lat,lon radius"


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
