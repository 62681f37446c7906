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


# Real publishers' messages collected for the decoder (tests/fixtures/SOURCES.md): what each one tests.
def events(fixture_path, name: str):
    return decode(Message("cap", name, fixture_path(f"cap/{name}").read_bytes(), NOW)).events


def test_every_alert_of_an_edxl_distribution(fixture_path):
    alerts = events(fixture_path, "edxlde_rfs_seven_alerts.xml")
    assert len(alerts) == 7 and len({e.id for e in alerts}) == 7
    assert all(e.domain == "fire" and e.area is not None for e in alerts)  # circles of radius 0.0: the points
    # Each keeps its own alert, not the envelope.
    assert all(re.match(r"<(\w+:)?alert\b", e.raw) and "EDXLDistribution" not in e.raw for e in alerts)


def test_taiwans_rain_warning_chain_names_each_message_it_follows(fixture_path):
    chain = [events(fixture_path, f"cwa_rain_chain_{n}.xml")[0]
             for n in ("1_alert", "2_update", "3_update", "4_cancel")]  # fmt: skip
    assert [e.details["msg_type"] for e in chain] == ["Alert", "Update", "Update", "Cancel"]
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert later.references == [earlier.msg_id]  # matched on sender and identifier (its sent is 1 s off)
    update = chain[1]
    assert [i["severity"] for i in update.details["infos"]] == ["Severe", "Moderate"]  # two infos, one language
    assert update.severity == "orange" and update.domain == "flood"  # the worst of them; 豪雨 is flood control's
    assert update.area is None and len(update.details["infos"][0]["areas"][0]["geocodes"]) == 1  # codes only


def test_areas_as_geometry_two_polygons_a_circle_in_km_and_an_empty_polygon(fixture_path):
    [hurricane] = events(fixture_path, "nws_ipaws_update_vtec_two_polygons.xml")
    assert json.loads(hurricane.area)["type"] == "MultiPolygon" and len(hurricane.references) == 8
    assert {"name": "VTEC", "value": "/O.CON.KLCH.HU.W.1013.000000T0000Z-000000T0000Z/"} in (
        hurricane.details["infos"][0]["parameters"])  # fmt: skip
    [road] = events(fixture_path, "thb_roadclose_circle_zh_tw.xml")
    circle = shapely.geometry.shape(json.loads(road.area))
    assert (circle.bounds[3] - circle.bounds[1]) * 111.2 == pytest.approx(20, rel=0.01)  # "23.79326,120.9437 10.0"
    assert road.domain == "traffic" and road.title.startswith("台16線")
    [advisory] = events(fixture_path, "nws_cap11_vtec_empty_polygon.xml")
    assert advisory.area is None and "problems" not in advisory.details and advisory.details["cap"] == "1.1"


def test_geocodes_resources_and_parameters_are_kept(fixture_path):
    [ice] = events(fixture_path, "meteoalarm_ukmo_emma_id_awareness.xml")
    info = ice.details["infos"][0]
    assert {"name": "awareness_level", "value": "2; Yellow; Moderate"} in info["parameters"]
    assert len(info["areas"]) == 10 and info["areas"][0]["geocodes"] == [{"name": "EMMA_ID", "value": "UK113"}]
    [quake] = events(fixture_path, "cwa_earthquake_bom_circle_geocodes.xml")  # starts with a byte-order mark
    info = quake.details["infos"][0]
    assert [r["description"] for r in info["resources"]] == ["等震度圖", "地震報告圖"]
    assert [len(a["geocodes"]) for a in info["areas"]] == [0, 2, 2, 11, 3]


def test_languages_versions_and_encodings_as_published(fixture_path):
    [avalanche] = events(fixture_path, "meteoalarm_meteofrance_update_nuts3.xml")  # fr-FR and en-GB
    assert avalanche.title == "Moderate avalanches warning" and avalanche.type == "cap_update"
    [traffic] = events(fixture_path, "nyalert_cap11_update_geocode_only.xml")  # CAP 1.1, no language given
    assert traffic.details["infos"][0]["language"] == "en-US" and traffic.domain == "traffic"
    [quake] = events(fixture_path, "usgs_earthquake_iso8859_1_circle_signed.xml")  # declared ISO-8859-1
    assert quake.title.startswith("EQ 4.6 Usulután") and "Usulután" in quake.raw


def test_an_area_that_cannot_be_drawn_is_left_out_with_its_reason_and_the_warning_kept(fixture_path):
    written = fixture_path("cap/cwa_thunderstorm_polygon_zh_tw.xml").read_bytes()
    broken = re.sub(rb"<polygon>[^<]*</polygon>", b"<polygon>91.5,121.0 24.0,121.5 24.2,121.2</polygon>", written)
    [e] = decode(Message("cap", "t", broken, NOW)).events
    assert e.area is None and e.title == "山區暴雨"
    assert e.details["problems"] == ["花蓮縣三棧溪: CAP point out of range: '91.5,121.0'"]
