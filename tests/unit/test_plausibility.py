"""Plausibility per feed: a place outside the feed's area (a swapped latitude and longitude named as such), a value
out of its range, a value stuck for hours, a jump. What fails is kept as `suspect` with its reason, counted on the
feed, never a device's latest value, never a rule's input."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from cityops.config import ConfigError, load
from feeds.decoders.ngsi import decode as ngsi
from feeds.decoding import FeedDecoding
from feeds.plausibility import Plausibility, PlausibleSettings
from layers.crs import to_wgs84
from store.records import Decoded, Entity, Observation
from store.writer import Writer
from tests.app_config import CITY
from tests.rule_city import LIANCHI, City
from tests.unit.test_rule_engine import THRESHOLD, rule

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
BAODING = (113.4, 38.1, 116.6, 39.9)


def reading(value, minutes=0, metric="water_level", entity="g1") -> Observation:
    return Observation(entity, metric, value, "m", T0 + timedelta(minutes=minutes), "f", f"m{minutes}")


def checked(settings: PlausibleSettings, *batches: list[Observation]) -> list[tuple[str, str]]:
    """Each reading's quality and reason, the batches sent in order through one feed's tests."""
    tests = Plausibility(settings)
    out = []
    for batch in batches:
        tests.check(Decoded(observations=batch))
        out += [(o.quality, o.quality_reason) for o in batch]
    return out


def test_a_value_out_of_its_range_is_suspect_with_the_reason():
    result = checked(PlausibleSettings(ranges={"water_level": (0, 60)}), [reading(12.5), reading(9999, 5)])
    assert result == [("ok", ""), ("suspect", "9999 m is outside 0–60")]


def test_a_value_stuck_for_hours_becomes_suspect_and_a_change_clears_it():
    settings = PlausibleSettings(stuck_hours={"water_level": 6})
    hours = [[reading(3.52, 60 * h)] for h in range(8)] + [[reading(3.61, 60 * 8)]]
    result = checked(settings, *hours)
    assert [q for q, _ in result] == ["ok"] * 6 + ["suspect", "suspect", "ok"]
    assert result[6][1] == "the same value 3.52 since 2026-07-20 08:00 UTC (6 h or more)"
    assert checked(settings, [reading(0.0, 60 * h, metric="rain_1h") for h in range(12)]) == [("ok", "")] * 12


def test_a_spike_is_suspect_once_and_a_new_level_is_taken_at_its_third_reading():
    settings = PlausibleSettings(jumps={"water_level": 2.0})
    spike = checked(settings, [reading(3.5), reading(9.9, 5), reading(3.6, 10)])
    assert spike == [("ok", ""), ("suspect", "jumped from 3.5 to 9.9 m (more than 2)"), ("ok", "")]
    step = checked(settings, [reading(3.5), reading(6.0, 5), reading(6.1, 10), reading(6.0, 15), reading(6.2, 20)])
    assert [q for q, _ in step] == ["ok", "suspect", "suspect", "ok", "ok"]
    # Readings an afternoon apart may differ by anything: the test cannot tell a jump from a flood.
    assert checked(settings, [reading(3.5), reading(9.9, 180)]) == [("ok", ""), ("ok", "")]


def test_a_place_outside_the_feeds_area_is_taken_off_the_map_with_its_readings():
    tests = Plausibility(PlausibleSettings(bbox=BAODING))
    lon, lat = LIANCHI
    decoded = Decoded(
        entities=[Entity("good", "f", "flood", "river_gauge", "g", lon, lat, district_id="130606"),
                  Entity("swapped", "f", "flood", "river_gauge", "s", lat, lon),
                  Entity("far", "f", "flood", "river_gauge", "x", 121.47, 31.23, district_id=None)],
        observations=[reading(3.0, entity="good"), reading(3.0, entity="swapped"), reading(3.0, entity="far")],
    )  # fmt: skip
    assert tests.check(decoded) == 4  # two places, two readings
    good, swapped, far = decoded.entities
    assert (good.lon, good.district_id) == (lon, "130606")
    assert swapped.lon is None and swapped.attributes["suspect_position"]["reason"] == (
        "(38.8581, 115.4906) is no longitude and latitude (latitude and longitude swapped?)")  # fmt: skip
    assert far.lon is None and far.attributes["suspect_position"] == {
        "lon": 121.47, "lat": 31.23, "reason": "the device at (121.47, 31.23) is outside the feed's area "
                                              "[113.4, 38.1, 116.6, 39.9]"}  # fmt: skip
    assert [o.quality for o in decoded.observations] == ["ok", "suspect", "suspect"]
    assert decoded.observations[2].quality_reason.startswith("the device's position is suspect: the device at")


def test_a_real_swapped_point_fiware_nice_is_named_as_swapped(fixture_path, demo_regions):
    """Smart Data Models' WaterObserved example gives Nice's Var river as [43.66, 7.20]: latitude first."""
    nice = PlausibleSettings(bbox=(7.0, 43.5, 7.5, 43.9))
    feed = FeedDecoding("nice", ngsi, to_wgs84("wgs84"), plausibility=Plausibility(nice))
    payload = fixture_path("fiware/WaterObserved/example.json").read_bytes()
    env = feed.envelope("t", payload, T0, demo_regions)
    assert env.dead_letter is None
    [entity] = env.records.entities
    assert entity.lon is None
    assert entity.attributes["suspect_position"]["reason"].startswith("latitude and longitude look swapped: "
                                                                      "(43.66481, 7.196545) is outside")  # fmt: skip
    assert env.records.suspect >= 1


def test_suspect_readings_are_stored_with_the_reason_counted_and_never_the_latest(open_store, tmp_path, demo_regions):
    store = open_store("s")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    settings = load(_config(tmp_path, "ranges = { water_level = [0, 60] }"), environ={})
    feed = FeedDecoding.from_settings(settings.feeds[0])
    lon, lat = LIANCHI
    for n, level in enumerate((3.2, 9999.0, 3.3, 9999.0)):
        payload = {"data": [{"deviceId": "g1", "ts": (T0 + timedelta(minutes=n)).isoformat(), "lng": lon, "lat": lat,
                             "level": level}]}  # fmt: skip
        writer.put(feed.envelope("t", json.dumps(payload).encode(), T0, demo_regions))
    assert writer.flush()
    cur = store.cursor()
    rows = cur.execute("SELECT value, quality, quality_reason FROM observations ORDER BY ts").fetchall()
    assert rows == [(3.2, "ok", None), (9999.0, "suspect", "9999 m is outside 0–60"), (3.3, "ok", None),
                    (9999.0, "suspect", "9999 m is outside 0–60")]  # fmt: skip
    assert cur.execute("SELECT value FROM latest").fetchall() == [(3.3,)]  # the suspect newest is not the latest
    assert cur.execute("SELECT suspect FROM feed_status WHERE feed_id = 'vendor'").fetchone() == (2,)
    writer.stop()
    store.close()


def test_a_suspect_value_fires_no_rule(open_store, demo_regions):
    city = City(open_store("r"), demo_regions, rule(THRESHOLD))
    city.feed = dataclasses.replace(city.feed, plausibility=Plausibility(PlausibleSettings(ranges={"level": (0, 30)})))
    city.entity("g1")
    for _ in range(4):
        city.at(minutes=1).value("g1", level=999)  # a sensor fault: far above 10, far outside its range
        city.tick()
    assert city.alerts() == []
    for _ in range(3):
        city.at(minutes=1).value("g1", level=11)
        city.tick()
    assert [a["rule_id"] for a in city.alerts()] == ["high"]
    city.close()


def _config(tmp_path, plausible: str, bbox: str = "bbox = [113.4, 38.1, 116.6, 39.9]"):
    path = tmp_path / "cityops.toml"
    path.write_text(f"""{CITY}
[store]
path = "x.duckdb"

[[feeds]]
id = "vendor"
transport = "mqtt"
topics = ["v/#"]
decoder = "mapped-json"

[feeds.mapping]
items = "data"
id = "deviceId"
time = "ts"
lon = "lng"
lat = "lat"
domain = "flood"
kind = "river_gauge"
values = {{ water_level = "level" }}
units = {{ water_level = "m" }}

[feeds.plausible]
{bbox}
{plausible}
""", encoding="utf-8")  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("bbox", "plausible", "message"),
    [
        ("bbox = [116.6, 38.1, 113.4, 39.9]", "", "bbox is \\[west, south, east, north\\]"),
        ("", "ranges = { water_level = [60, 0] }", "the range of water_level goes from the lower value"),
        ("", "stuck_hours = { water_level = 0 }", "greater than 0"),
        ("", "jumped = { water_level = 1 }", "jumped: unknown key"),
    ],
)
def test_bad_plausibility_settings_fail_at_start_up_with_the_line(tmp_path, bbox, plausible, message):
    path = _config(tmp_path, plausible, bbox)
    with pytest.raises(ConfigError, match=message) as err:
        load(path, environ={})
    lines = path.read_text(encoding="utf-8").splitlines()
    wrong = next(i for i, s in enumerate(lines, 1) if s and s == (bbox or plausible))
    assert f"{path}:{wrong}:" in str(err.value)


def test_a_vendor_table_with_its_columns_swapped_keeps_its_readings_as_suspect(tmp_path, demo_regions):
    feed = FeedDecoding.from_settings(load(_config(tmp_path, ""), environ={}).feeds[0])
    lon, lat = LIANCHI
    payload = {"data": [{"deviceId": "g1", "ts": T0.isoformat(), "lng": lat, "lat": lon, "level": 3.2}]}
    env = feed.envelope("t", json.dumps(payload).encode(), T0, demo_regions)
    assert env.dead_letter is None  # nothing lost: the reading is kept, marked
    [entity], [value] = env.records.entities, env.records.observations
    assert entity.lon is None and "(latitude and longitude swapped?)" in entity.attributes["suspect_position"]["reason"]
    assert value.quality == "suspect" and value.value == 3.2
