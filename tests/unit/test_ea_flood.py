"""UK EA flood-monitoring API over real responses (tests/fixtures/SOURCES.md), with every quirk they carry."""

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings

from feeds.decoders import DecodeError, Message
from feeds.decoders.ea_flood import decode
from tests.strategies import json_documents

NOW = datetime(2026, 11, 22, tzinfo=UTC)


# Read off the fixture's two measures (level-downstage and level-stage, unit mASD).
EMBEDDED_1491TH = {("ea:1491TH", "level_downstream_stage", "mASD"): 1.877, ("ea:1491TH", "level", "mASD"): 2.098}


def load(fixture_path, name: str):
    return decode(Message("ea", name, fixture_path(f"hydrology/ea_flood_monitoring_{name}.json").read_bytes(), NOW))


def test_stations_some_without_coordinates(fixture_path):
    out = load(fixture_path, "stations_trimmed")
    assert len(out.entities) == 136
    unplaced = [e for e in out.entities if e.lon is None]
    assert len(unplaced) == 10  # about one in ten stations has no coordinates: kept, not dropped
    first = out.entities[0]
    assert first.id == "ea:1029TH" and first.name == "Bourton Dickler" and first.kind == "river_gauge"
    assert (first.lat, first.lon) == (51.874767, -1.740083)


def test_one_station_as_an_object_with_its_typical_range(fixture_path):
    out = load(fixture_path, "station_1491TH")
    [station] = out.entities  # `items` is an object here, not a list
    assert station.attributes["warning_level"] == 2.4 and station.attributes["max_on_record"] == 2.722
    # Its embedded measures carry the latest readings: one response gives the place and the values.
    readings = {(o.entity_id, o.metric, o.unit): o.value for o in out.observations}
    assert readings == EMBEDDED_1491TH


def test_rainfall_stations_are_rain_gauges(fixture_path):
    # These stations have no `type`; their measures are all rainfall.
    kinds = {e.kind for e in load(fixture_path, "stations_rainfall_trimmed").entities}
    assert kinds == {"rain_gauge"}


def test_level_measures_with_and_without_latest_readings_and_unknown_units(fixture_path):
    out = load(fixture_path, "measures_level_latest_trimmed")
    assert len(out.observations) == 160 - 23  # measures without a latest reading give nothing
    first = out.observations[0]
    assert (first.entity_id, first.metric, first.value, first.unit) == ("ea:1029TH", "level", 0.089, "mASD")
    assert first.ts == datetime(2021, 9, 4, 16, 15, tzinfo=UTC)
    assert {o.unit for o in out.observations} <= {"mASD", "m", "mAOD", ""}  # "---" is unknown, stored empty


def test_rainfall_measures(fixture_path):
    out = load(fixture_path, "measures_rainfall_latest_trimmed")
    assert out.observations and {o.metric for o in out.observations} == {"rainfall"}


def test_readings_of_one_station(fixture_path):
    out = load(fixture_path, "station_690140_readings_2015-12-10")
    assert len(out.observations) == 50
    first = out.observations[0]
    assert (first.entity_id, first.metric, first.unit, first.value) == ("ea:690140", "level", "m", 0.754)
    assert first.ts == datetime(2015, 12, 10, 16, 0, tzinfo=UTC)


def test_lists_where_scalars_are_expected_and_missing_values():
    doc = {"items": [{"stationReference": ["X1", "X2"], "label": ["Two names", "for one station"],
                      "lat": [52.1], "long": [-1.2]},
                     {"measure": "http://x/id/measures/X1-level-stage-i-15_min-m", "dateTime": "2024-01-01T00:00:00",
                      "value": None}]}  # fmt: skip
    out = decode(Message("ea", "t", json.dumps(doc).encode(), NOW))
    assert out.entities[0].id == "ea:X1" and out.entities[0].name == "Two names"
    reading = out.observations[0]
    assert reading.value is None and reading.quality == "missing"
    assert reading.ts == datetime(2024, 1, 1, tzinfo=UTC)  # no offset: UTC, as the API documents


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[]", "no 'items'"),
        (b'{"items": [1]}', "item 0: an object"),
        (b'{"items": [{"foo": 1}]}', "neither"),
        (b'{"items": []}', "no station, reading or flood warning"),
        (b'{"items": [{"floodAreaID": "x", "severityLevel": 7, "timeRaised": "2024-01-01T00:00:00"}]}', "1 to 4"),
        (b'{"items": [{"floodAreaID": "x", "severityLevel": 2}]}', "timeMessageChanged"),
    ],  # fmt: skip
)
def test_bad_payloads_say_why(payload, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(Message("ea", "t", payload, NOW))


@settings(max_examples=200, deadline=None)
@given(json_documents(["items", "stationReference", "lat", "long", "measure", "value", "dateTime", "parameter",
                       "latestReading", "unitName", "label", "type", "stageScale"]))  # fmt: skip
def test_arbitrary_json_raises_only_decode_errors(raw):
    with contextlib.suppress(DecodeError):
        decode(Message("ea", "t", raw, NOW))


# -- flood warnings (/id/floods) -----------------------------------------------------------------------------
def test_flood_warnings_are_warnings_of_their_areas_chain(fixture_path):
    warnings = load(fixture_path, "floods_somerset_2016-11-20").events
    assert len(warnings) == 9
    by_area = {e.details["flood_area"]: e for e in warnings}
    alert, warning, ended = by_area["113WAFTW05"], by_area["113FWF2G2A"], by_area["113FWF2G3A"]
    assert (alert.severity, alert.details["msg_type"], alert.references) == ("yellow", "Update", ["113WAFTW05"])
    assert alert.msg_id == "113WAFTW05@20161119T155400" and alert.ts == datetime(2016, 11, 19, 15, 54, tzinfo=UTC)
    assert alert.title == "Flood Alert: Exmoor Rivers" and alert.domain == "flood"
    assert warning.severity == "orange"  # Flood Warning
    assert ended.details["msg_type"] == "Cancel" and ended.severity is None  # "Warning no longer in force"
    assert alert.lon is None  # the summary gives the area's polygon as a URL only: not placed


def test_an_expanded_flood_area_places_its_warning_and_an_empty_list_is_no_dead_letter(fixture_path):
    [one] = load(fixture_path, "flood_93474_2015-12-10").events  # `items` one object, the area expanded
    assert (one.lat, one.lon) == (52.76550192856082, -2.99314567228076)  # the area's "lat" and "long"
    assert load(fixture_path, "floods_empty_greater_manchester").events == []  # no warning in force: normal
    with pytest.raises(DecodeError, match="reference data"):
        load(fixture_path, "flood_areas_cheltenham_10km_2020-11-09")
