"""The demo city's HTTP sources: real formats, conditional answers, and nothing-in-force as 204."""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from feeds.decoders import DECODERS, Message
from feeds.mqtt import MqttFeedSettings
from feeds.simulator.city import DemoCity
from feeds.simulator.sources import DemoSources, SourceServer

T0 = datetime(2026, 7, 20, 2, 30, tzinfo=UTC)


@pytest.fixture
def served(demo_regions):
    city = DemoCity(demo_regions, entities=400, cycle_s=100, started=T0)
    server = SourceServer(DemoSources(city))
    server.start()
    yield city, server
    server.stop()


def get(url: str, etag: str | None = None) -> tuple[int, bytes, str | None]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers.get("ETag")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", exc.headers.get("ETag")


def decode(decoder: str, body: bytes):
    build = DECODERS[decoder]  # as the demo's feed of that format builds it
    return build(MqttFeedSettings(id="demo", topics=["x"], decoder=decoder))(Message("demo", "test", body, T0))


def test_before_the_storm_no_warning_is_in_force_and_no_fire_detected(served):
    city, server = served
    city.step(T0, 10)
    assert get(server.url + "/cap/latest.xml")[0] == 204
    status, body, _ = get(server.url + "/firms/viirs_24h.csv")
    assert status == 200 and decode("firms-csv", body).events == []


def test_the_storm_brings_a_cap_warning_its_update_hotspots_and_then_the_cancellation(served):
    city, server = served
    for second in range(0, 30, 5):  # into the storm (phases 0.15–0.60 of the 100 s cycle)
        city.step(T0 + timedelta(seconds=second), 10)
    [warning] = decode("cap", get(server.url + "/cap/latest.xml")[1]).events
    assert (warning.type, warning.severity, warning.title) == ("暴雨", "orange", "保定市气象台发布暴雨橙色预警信号")
    city_wide = shapely.geometry.shape(json.loads(warning.area))
    assert city_wide.bounds == (114.8, 38.2, 116.3, 39.7) and warning.expires_at > warning.ts
    assert len(decode("firms-csv", get(server.url + "/firms/viirs_24h.csv")[1]).events) == 4
    for second in range(30, 55, 5):  # past 0.35: red over the urban districts
        city.step(T0 + timedelta(seconds=second), 10)
    [update] = decode("cap", get(server.url + "/cap/latest.xml")[1]).events
    assert (update.type, update.severity, update.references) == ("cap_update", "red", [warning.msg_id])
    assert city_wide.contains(shapely.geometry.shape(json.loads(update.area)))
    city.step(T0 + timedelta(seconds=65), 10)
    [cancel] = decode("cap", get(server.url + "/cap/latest.xml")[1]).events
    assert cancel.type == "cap_cancel" and cancel.references == [update.msg_id]


def test_hydrology_stations_carry_their_latest_reading_and_answer_304_when_unchanged(served):
    city, server = served
    city.step(T0, 10)
    status, body, etag = get(server.url + "/hydrology/id/stations?_view=full")
    out = decode("ea-flood", body)
    assert status == 200 and len(out.entities) == city.bureau.sum() == len(out.observations) > 0
    assert {e.kind for e in out.entities} == {"river_gauge"} and all(
        "warning_level" in e.attributes for e in out.entities
    )
    assert get(server.url + "/hydrology/id/stations", etag)[0] == 304
    assert get(server.url + "/nothing")[0] == 404
