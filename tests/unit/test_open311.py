"""Open311 GeoReport v2 over the specification's own examples (tests/fixtures/SOURCES.md)."""

from datetime import UTC, datetime

import pytest

from feeds.decoders import DecodeError, Message
from feeds.decoders.open311 import decode

NOW = datetime(2026, 11, 22, tzinfo=UTC)
SPEC = "open311/georeport_v2_spec_"


def load(fixture_path, name: str):
    return decode(Message("hotline", name, fixture_path(SPEC + name).read_bytes(), NOW))


def test_xml_service_requests(fixture_path):
    events = load(fixture_path, "get_service_requests__xml-service-requests.xml").events
    assert [e.type for e in events] == ["ticket_closed", "ticket_open"]
    closed = events[0]
    assert closed.domain == "hotline" and closed.title == "Sidewalk and Curb Issues"
    assert closed.ts == datetime(2010, 4, 14, 14, 37, 38, tzinfo=UTC)  # -08:00
    assert (closed.lat, closed.lon) == (37.762221815, -122.4651145)
    assert "Duplicate request." in closed.description and "8TH AVE and JUDAH ST" in closed.description


def test_the_specs_invalid_json_is_refused_with_the_reason(fixture_path):
    # "service_code":006 — a leading zero is not JSON. Refused, and the dead letter says where.
    with pytest.raises(DecodeError, match=r"invalid JSON: Expecting ',' delimiter at line 7 column 21"):
        load(fixture_path, "get_service_requests__json-service-requests.json")


def test_valid_json_and_a_ticket_history():
    raw = (b'[{"service_request_id": "638344", "status": "open", "service_name": "Pothole",'
           b' "requested_datetime": "2010-04-14T06:37:38-08:00", "updated_datetime": "2010-04-14T06:37:38-08:00"},'
           b' {"service_request_id": "638344", "status": "closed", "service_name": "Pothole",'
           b' "requested_datetime": "2010-04-14T06:37:38-08:00",'
           b' "updated_datetime": "2010-04-15T09:00:00-08:00"}]')  # fmt: skip
    events = decode(Message("hotline", "t", raw, NOW)).events
    assert [e.type for e in events] == ["ticket_open", "ticket_closed"]
    assert events[0].id != events[1].id  # both states are kept


def test_error_responses_become_reasons(fixture_path):
    # The fixture is a whole HTTP response; the poller hands the decoder its body.
    body = fixture_path(SPEC + "errors__xml-errors.txt").read_bytes().split(b"\n\n", 1)[1]
    with pytest.raises(DecodeError, match="answered with an error: 403 Invalid api_key"):
        decode(Message("hotline", "t", body, NOW))


def test_xml_that_is_not_open311():
    with pytest.raises(DecodeError, match="not Open311"):
        decode(Message("hotline", "t", b"<rss/>", NOW))
