"""FIRMS active-fire CSV over real files (tests/fixtures/SOURCES.md): counts, times, confidence, saturation."""

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.decoders import DecodeError, Message
from feeds.decoders.firms import decode

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def message(raw: bytes) -> Message:
    return Message("firms", "https://firms.example/file.csv", raw, NOW)


def test_modis_file(fixture_path):
    raw = fixture_path("fire/firms_modis_c61_global_24h_2025-04-22_first300.csv").read_bytes()
    events = decode(message(raw)).events
    assert len(events) == 300
    first = events[0]
    assert (first.lat, first.lon) == (35.35244, 139.87474)
    assert first.ts == datetime(2025, 4, 22, 0, 13, tzinfo=UTC)  # acq_time "0013": 00:13 UTC
    assert first.domain == "fire" and first.type == "hotspot"
    assert "confidence low" in first.description  # MODIS confidence 0
    assert "confidence nominal" in events[1].description  # 56


def test_viirs_archive_with_letter_confidence_and_saturation(fixture_path):
    raw = fixture_path("fire/firms_viirs_snpp_archive_SV-C2_740981_rhodes_2023-07.csv").read_bytes()
    events = decode(message(raw)).events
    assert len(events) == 953
    assert events[0].ts == datetime(2023, 7, 18, 23, 23, tzinfo=UTC)
    assert "VIIRS N" in events[0].description and "confidence nominal" in events[0].description
    saturated = [e for e in events if "(saturated)" in e.description]
    assert saturated and all("brightness 367" in e.description for e in saturated)
    assert all(35.5 < e.lat < 36.6 and 27.5 < e.lon < 28.4 for e in events)  # Rhodes


def test_duplicates_are_one_event_and_ids_are_stable_across_files(fixture_path):
    raw = fixture_path("fire/firms_modis_c61_global_24h_2025-04-22_first300.csv").read_bytes()
    lines = raw.decode().splitlines()
    doubled = "\n".join([*lines, lines[1], lines[2]]).encode()
    assert len(decode(message(doubled)).events) == 300
    alone = "\n".join([lines[0], lines[5]]).encode()
    assert decode(message(alone)).events[0].id == decode(message(raw)).events[4].id


def test_unpadded_acq_time_is_padded_again():
    raw = b"latitude,longitude,acq_date,acq_time,confidence\n38.8,115.4,2025-10-20,13,h\n"
    [event] = decode(message(raw)).events
    assert event.ts == datetime(2025, 10, 20, 0, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"lat,lon\n1,2\n", "no column latitude"),
        (b"latitude,longitude,acq_date,acq_time\n38.8,abc,2025-10-20,0130\n", "line 2: latitude/longitude"),
        (b"latitude,longitude,acq_date,acq_time\n38.8,115.4,2025-10-20,25:30\n", "is not HHMM"),
        (b"latitude,longitude,acq_date,acq_time,confidence\n38.8,115.4,2025-10-20,0130,x\n", "neither 0-100"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_files_say_why(raw, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(message(raw))


def test_a_file_with_the_header_only_means_no_fire_not_an_error():
    assert decode(message(b"latitude,longitude,acq_date,acq_time\n")).events == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_decode_errors(raw):
    # Anything but a DecodeError escaping would fail this test (and stop a feed in production).
    with contextlib.suppress(DecodeError):
        decode(message(b"latitude,longitude,acq_date,acq_time,confidence,brightness,frp\n" + raw))
