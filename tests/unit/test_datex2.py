"""DATEX II v2 over England's NTIS publications (tests/fixtures/SOURCES.md)."""

from datetime import UTC, datetime

import pytest

from feeds.decoders import DecodeError, Message
from feeds.decoders.datex2 import decode

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def load(fixture_path, name: str):
    return decode(Message("datex", name, fixture_path(f"traffic/{name}").read_bytes(), NOW))


def test_abnormal_traffic_situation(fixture_path):
    [event] = load(fixture_path, "Event_Data_3794674417759799.xml").events
    assert event.domain == "traffic" and event.type == "AbnormalTraffic" and event.severity == "blue"  # low
    assert event.ts == datetime(2015, 4, 29, 8, 53, 27, 925000, tzinfo=UTC)  # 09:53:27.925+01:00
    assert (event.lat, event.lon) == (54.108482, -0.85464686)
    assert event.title.startswith("unspecifiedAbnormalTraffic: The A64 northbound")
    assert "Event Reason : Congestion" in event.description


def test_the_other_situation_file(fixture_path):
    events = load(fixture_path, "Event_Data_3794692773234866.xml").events
    assert events and all(e.domain == "traffic" and e.lon is not None for e in events)


def test_a_vms_publication_is_refused_with_the_reason(fixture_path):
    with pytest.raises(DecodeError, match="not a situation publication .*VmsPublication"):
        load(fixture_path, "VMS_and_Matrix_Signal_Status_Data_3794928453993454.xml")


def test_not_datex():
    with pytest.raises(DecodeError, match="not a DATEX II v2 document"):
        decode(Message("datex", "t", b"<rss/>", NOW))
