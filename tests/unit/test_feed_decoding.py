"""A feed's decoding settings: mapped JSON for vendor payloads (paths, errors), and the time zone, sentinels and units
every decoder shares."""

import json
from datetime import UTC, datetime

import pytest

from cityops.config import ConfigError, load
from feeds.decoding import FeedDecoding, was_cut
from feeds.mqtt import MqttFeedSettings
from tests.app_config import CITY
from tests.harness import ROOT

NOW = datetime(2026, 11, 22, tzinfo=UTC)
CONFIG = """
{city}
[store]
path = "x.duckdb"

[[feeds]]
id = "vendor-rain"
transport = "mqtt"
topics = ["vendor/rain/#"]
decoder = "mapped-json"
crs = "gcj02"
time_zone = "Asia/Shanghai"
sentinels = [-9999]

[feeds.mapping]
items = "data.readings"
id = "deviceId"
time = "ts"
lon = "pos.lng"
lat = "pos.lat"
domain = "flood"
kind = "rain_gauge"

[feeds.mapping.values]
rain_1h = "r1h"
battery = "bat.pct"

[feeds.mapping.units]
rain_1h = "mm"
"""


def feed(tmp_path, text=CONFIG):
    path = tmp_path / "cityops.toml"
    path.write_text(text.format(city=CITY), encoding="utf-8")
    return FeedDecoding.from_settings(load(path, environ={}).feeds[0])


def test_vendor_payload_becomes_devices_and_readings(tmp_path, demo_regions):
    payload = {"data": {"readings": [
        {"deviceId": "R-7", "ts": "2026-07-20 16:00:00", "pos": {"lng": 115.4967, "lat": 38.8595}, "r1h": 42.5,
         "bat": {"pct": 88}},
        {"deviceId": "R-8", "ts": 1784534400000, "r1h": -9999},
    ]}}  # fmt: skip
    env = feed(tmp_path).envelope("vendor/rain/1", json.dumps(payload).encode(), NOW, demo_regions)
    assert env.dead_letter is None, env.dead_letter
    r7, r8 = env.records.entities
    assert r7.id == "vendor-rain:R-7" and r7.district_id == "130606"  # GCJ-02 converted, then placed
    assert r8.lon is None
    rain7 = next(o for o in env.records.observations if o.entity_id == r7.id and o.metric == "rain_1h")
    assert (rain7.value, rain7.unit) == (42.5, "mm")
    assert rain7.ts == datetime(2026, 7, 20, 8, 0, tzinfo=UTC)  # no offset: the feed's time zone (UTC+8)
    rain8 = next(o for o in env.records.observations if o.entity_id == r8.id and o.metric == "rain_1h")
    assert rain8.value is None and rain8.quality == "missing"  # -9999 is "no reading", not a number
    assert rain8.ts == datetime(2026, 7, 20, 8, 0, tzinfo=UTC)  # epoch milliseconds


def test_a_record_without_its_id_is_a_dead_letter_with_the_reason(tmp_path, demo_regions):
    payload = {"data": {"readings": [{"ts": "2026-07-20T08:00:00Z", "r1h": 1}]}}
    env = feed(tmp_path).envelope("t", json.dumps(payload).encode(), NOW, demo_regions)
    assert env.dead_letter.reason == "no device id at 'deviceId'"


def test_a_bad_path_stops_start_up_with_the_line(tmp_path):
    text = CONFIG.replace('rain_1h = "r1h"', 'rain_1h = "r1h[["')
    with pytest.raises(ConfigError) as err:
        feed(tmp_path, text)
    line = text.format(city=CITY).splitlines().index('rain_1h = "r1h[["') + 1
    assert f":{line}: feeds.0.mapping.values" in str(err.value) and "not a JMESPath expression" in str(err.value)


def test_mapped_json_needs_its_mapping(tmp_path):
    text = CONFIG[: CONFIG.index("[feeds.mapping]")]
    with pytest.raises(ConfigError, match="needs a \\[feeds.mapping\\] table"):
        feed(tmp_path, text)


def test_feed_sentinels_units_and_metric_names_apply_to_any_decoder(tmp_path, demo_regions):
    settings = MqttFeedSettings(id="ea", topics=["x"], decoder="ea-flood", sentinels=[-999],
                                units={"cm": {"to": "m", "factor": 0.01}},
                                metrics={"level": "water_level"})  # fmt: skip
    measure = "http://x/id/measures/S1-level-stage-i-15_min-cm"
    items = [{"measure": measure, "value": v, "dateTime": "2024-01-01T00:00:00Z"} for v in (250, -999)]
    env = FeedDecoding.from_settings(settings).envelope("t", json.dumps({"items": items}).encode(), NOW, demo_regions)
    first, second = env.records.observations
    assert (first.value, first.unit, first.metric) == (2.5, "m", "water_level")  # in the city's vocabulary
    assert (second.value, second.quality, second.unit) == (None, "missing", "m")


@pytest.mark.parametrize(
    ("decoder", "payload"),
    [
        ("ea-flood", {"items": [{"measure": "http://x/id/measures/S1-level-stage-i-15_min-m", "value": 1.2,
                                 "dateTime": "2024-01-01T08:00:00"}]}),
        ("cityops-json", {"type": "observation", "entity": "g1", "ts": "2024-01-01T08:00:00",
                          "values": {"level": 1.2}}),
        ("ngsi", {"id": "urn:ngsi-ld:WaterObserved:1", "type": "WaterObserved",
                  "dateObserved": "2024-01-01T08:00:00", "height": 1.2}),
    ],
)  # fmt: skip
def test_the_feed_time_zone_reads_times_written_without_an_offset(decoder, payload, demo_regions):
    raw = json.dumps(payload).encode()
    local = MqttFeedSettings(id="f", topics=["x"], decoder=decoder, time_zone="Asia/Shanghai")
    env = FeedDecoding.from_settings(local).envelope("t", raw, NOW, demo_regions)
    assert env.dead_letter is None, env.dead_letter
    assert {o.ts for o in env.records.observations} == {datetime(2024, 1, 1, 0, 0, tzinfo=UTC)}


def test_an_unknown_feed_time_zone_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        MqttFeedSettings(id="f", topics=["x"], decoder="ngsi", time_zone="Mars/Olympus")


# Each decoder with the folder of its real fixtures; mapped JSON reads the EA readings through paths.
FIXTURES = {"firms-csv": "fire", "cap": "cap", "ngsi": "fiware", "open311": "open311", "ea-flood": "hydrology",
            "datex2": "traffic", "mapped-json": "hydrology"}  # fmt: skip
VENDOR_MAPPING = {"items": "items", "id": "measure", "time": "dateTime", "domain": "flood", "kind": "river_gauge",
                  "values": {"level": "value"}}  # fmt: skip


def _decoding(decoder: str) -> FeedDecoding:
    mapping = VENDOR_MAPPING if decoder == "mapped-json" else None
    return FeedDecoding.from_settings(MqttFeedSettings(id="f", topics=["x"], decoder=decoder, mapping=mapping))


def _real_payloads(folder: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "tests" / "fixtures" / folder).rglob("*")) if p.is_file()]


@pytest.mark.parametrize("decoder", sorted(FIXTURES))
def test_arbitrary_and_mutated_real_payloads_become_records_or_dead_letters_with_a_reason(decoder, demo_regions):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    decoding, payloads = _decoding(decoder), _real_payloads(FIXTURES[decoder])
    assert payloads, f"no fixtures for {decoder}"

    def mutate(args):
        payload, cut, noise, how = args
        at = int(len(payload) * cut)
        return [payload[:at], payload[:at] + noise + payload[at + len(noise) :], noise + payload][how]

    mutated = st.tuples(st.sampled_from(payloads), st.floats(0, 1), st.binary(max_size=8), st.integers(0, 2))

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=300), mutated.map(mutate)))
    def check(raw):
        env = decoding.envelope("t", raw, NOW, demo_regions)  # anything escaping here fails the test
        assert (env.records is None) != (env.dead_letter is None)
        if env.dead_letter is not None:
            keep = decoding.limits.dead_letter_kb * 1024  # a bigger payload is kept cut, and its reason says so
            assert env.dead_letter.raw == raw[:keep] and was_cut(env.dead_letter.reason) == (len(raw) > keep)
            assert env.dead_letter.reason and not env.dead_letter.reason.startswith("decoder failed"), env.dead_letter

    check()
