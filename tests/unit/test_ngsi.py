"""FIWARE NGSI v2 / NGSI-LD over the official Smart Data Models examples (tests/fixtures/SOURCES.md)."""

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings

from feeds.decoders import DecodeError, Message
from feeds.decoders.ngsi import decode
from tests.strategies import json_documents

NOW = datetime(2026, 11, 22, tzinfo=UTC)
FORMS = ("example.json", "example-normalized.json", "example.jsonld", "example-normalized.jsonld")


def load(fixture_path, model: str, name: str):
    return decode(Message("ngsi", f"{model}/{name}", fixture_path(f"fiware/{model}/{name}").read_bytes(), NOW))


@pytest.mark.parametrize("form", FORMS)
def test_traffic_flow_in_every_form(fixture_path, form):
    out = load(fixture_path, "TrafficFlowObserved", form)
    [entity] = out.entities
    assert entity.domain == "traffic" and entity.kind == "road_segment"
    assert -4.74 < entity.lon < -4.73 and 41.65 < entity.lat < 41.67  # centroid of the LineString
    values = {o.metric: o.value for o in out.observations}
    assert values["intensity"] == 197 and values["averageVehicleSpeed"] == 52.6
    assert "laneId" not in values
    # "2016-12-07T11:10:00/2016-12-07T11:15:00" or dateObservedTo: the observation ends at 11:15 UTC
    assert out.observations[0].ts == datetime(2016, 12, 7, 11, 15, tzinfo=UTC)


@pytest.mark.parametrize("form", FORMS)
def test_water_observed(fixture_path, form):
    out = load(fixture_path, "WaterObserved", form)
    values = {o.metric: o.value for o in out.observations}
    assert values["flow"] == 12 and values["height"] == 3.52
    # The official example gives Nice as [lat, lon]; we keep what the source says (GeoJSON is lon, lat).
    assert (out.entities[0].lon, out.entities[0].lat) == (43.66481, 7.196545)


def test_flood_monitoring_thresholds_become_attributes_and_units_are_read(fixture_path):
    out = load(fixture_path, "FloodMonitoring", "example-normalized.jsonld")
    attributes = out.entities[0].attributes
    assert attributes["warning_level"] == 11.0 and attributes["guaranteed_level"] == 26.0
    level = next(o for o in out.observations if o.metric == "currentLevel")
    assert (level.value, level.unit) == (1.98, "m")  # unitCode MTR


@pytest.mark.parametrize("form", FORMS)
def test_alert_becomes_an_event_with_a_colour(fixture_path, form):
    [event] = load(fixture_path, "Alert", form).events
    assert event.domain == "traffic" and event.type == "trafficJam" and event.severity == "orange"  # high
    assert event.ts == datetime(2017, 1, 2, 9, 25, 55, tzinfo=UTC)


def test_geojson_feature_form_and_device_state(fixture_path):
    [event] = load(fixture_path, "Alert", "example-geojsonfeature.json").events
    assert event.severity == "orange" and event.lon == pytest.approx(-3.7122, abs=1e-3)
    [device] = load(fixture_path, "Device", "example.json").entities
    assert device.domain == "system" and device.attributes["device_state"] == "ok"


def test_a_name_as_a_language_property_keeps_the_english_one_and_an_unreadable_name_costs_only_the_name():
    station = {
        "id": "urn:ngsi-ld:WaterObserved:fu-1",
        "type": "WaterObserved",
        "height": {"type": "Property", "value": 12.5},
        "name": {"type": "LanguageProperty", "languageMap": {"zh": "府河 1号", "en": "Fu 1"}},
    }
    [entity] = decode(Message("ngsi", "t", json.dumps(station).encode(), NOW)).entities
    assert entity.name == "府河 1号" and entity.attributes["name_en"] == "Fu 1"
    out = decode(Message("ngsi", "t", json.dumps({**station, "name": ["?"]}).encode(), NOW))
    assert out.entities[0].name == "urn:ngsi-ld:WaterObserved:fu-1" and out.observations


def test_orion_notification_with_several_entities(fixture_path):
    entities = [json.loads(fixture_path(f"fiware/{m}/example.json").read_text()) for m in ("Device", "WaterObserved")]
    out = decode(Message("ngsi", "n", json.dumps({"subscriptionId": "s", "data": entities}).encode(), NOW))
    assert len(out.entities) == 2


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "invalid JSON"),
        (b"[]", "no entity"),
        (b'{"type": "WaterObserved"}', "needs a text 'id' and 'type'"),
        (b'[{"id": "a", "type": "T"}, 3]', "entity 1: an NGSI entity is an object"),
        (b'{"id": "a", "type": "T", "location": {"type": "Point", "coordinates": [500, 1]}}', "out of range"),
        (b'{"id": "a", "type": "T", "dateObserved": "soon"}', "not an ISO 8601 time"),
    ],
)
def test_bad_payloads_say_why(payload, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(Message("ngsi", "t", payload, NOW))


@settings(max_examples=200, deadline=None)
@given(json_documents(["id", "type", "location", "value", "dateObserved", "coordinates", "data", "properties",
                       "geometry", "unitCode", "severity", "category"]))  # fmt: skip
def test_arbitrary_json_raises_only_decode_errors(raw):
    with contextlib.suppress(DecodeError):
        decode(Message("ngsi", "t", raw, NOW))
