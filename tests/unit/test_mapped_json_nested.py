"""mapped-json over real nested and incident payloads: USGS WaterML-JSON (sites → time series → values, with the
no-data value the payload declares) and Socrata incident feeds (records → events), each mapped by configuration
alone, as the README shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cityops.config import ConfigError, load
from feeds.decoding import FeedDecoding
from tests.app_config import CITY

NOW = datetime(2026, 12, 3, tzinfo=UTC)

WATERML = """
[[feeds]]
id = "usgs"
transport = "mqtt"
topics = ["usgs/#"]
decoder = "mapped-json"
metrics = { "00060" = "discharge", "00065" = "gage_height" }
units = { "ft3/s" = { to = "m3/s", factor = 0.028316846592 }, "ft" = { to = "m", factor = 0.3048 } }

[feeds.mapping]
items = "value.timeSeries"
id = "sourceInfo.siteCode[0].value"
name = "sourceInfo.siteName"
lon = "sourceInfo.geoLocation.geogLocation.longitude"
lat = "sourceInfo.geoLocation.geogLocation.latitude"
domain = "flood"
kind = "river_gauge"
metric = "{metric}"
unit = "variable.unit.unitCode"
no_data = "variable.noDataValue"

[[feeds.mapping.within]]
items = "values[].value[]"
time = "dateTime"
value = "value"
"""
SOCRATA = """
[[feeds]]
id = "{feed}"
transport = "mqtt"
topics = ["incidents/#"]
decoder = "mapped-json"
time_zone = "America/Los_Angeles"   # Socrata's floating timestamps are the city's local time

[feeds.mapping]
records = "events"
domain = "{domain}"
{paths}
"""


def decoding(tmp_path, feeds: str) -> FeedDecoding:
    path = tmp_path / "cityops.toml"
    path.write_text(f'{CITY}\n[store]\npath = "x.duckdb"\n{feeds}', encoding="utf-8")
    return FeedDecoding.from_settings(load(path, environ={}).feeds[0])


def decoded(feed: FeedDecoding, payload: bytes, demo_regions):
    env = feed.envelope("t", payload, NOW, demo_regions)
    assert env.dead_letter is None, env.dead_letter.reason
    return env.records


def usgs(tmp_path, metric="variable.variableCode[0].value"):
    return decoding(tmp_path, WATERML.replace("{metric}", metric))


def test_waterml_sites_series_and_values_carry_their_parents_fields(tmp_path, fixture_path, demo_regions):
    doc = json.loads(fixture_path("waterml/hydrotools_iv_2sites_discharge.json").read_bytes())
    records = decoded(usgs(tmp_path), fixture_path("waterml/hydrotools_iv_2sites_discharge.json").read_bytes(),
                      demo_regions)  # fmt: skip
    series = doc["value"]["timeSeries"]
    assert [e.id for e in records.entities] == [f"usgs:{s['sourceInfo']['siteCode'][0]['value']}" for s in series]
    potomac = records.entities[0]
    where = series[0]["sourceInfo"]["geoLocation"]["geogLocation"]
    assert (potomac.lon, potomac.lat, potomac.name) == (where["longitude"], where["latitude"],
                                                        series[0]["sourceInfo"]["siteName"])  # fmt: skip
    counts = [len(s["values"][0]["value"]) for s in series]
    assert len(records.observations) == sum(counts) == 186
    first = records.observations[0]
    raw = series[0]["values"][0]["value"][0]
    assert first.entity_id == potomac.id and first.metric == "discharge" and first.unit == "m3/s"
    assert first.value == pytest.approx(float(raw["value"]) * 0.028316846592)
    assert first.ts == datetime.fromisoformat(raw["dateTime"]).astimezone(UTC)


def test_the_no_data_value_the_payload_declares_is_missing_not_a_reading(tmp_path, fixture_path, demo_regions):
    payload = fixture_path("waterml/hydrofunctions_iv_01542500_ice_nodata.json").read_bytes()
    records = decoded(usgs(tmp_path), payload, demo_regions)
    assert len(records.observations) == 438
    missing = [o for o in records.observations if o.quality == "missing"]
    assert len(missing) == 39 and all(o.value is None for o in missing)  # the Ice-affected -999999 values
    assert all(o.value > 0 for o in records.observations if o.quality == "ok")


def test_every_values_block_of_a_series_and_empty_series_give_nothing(tmp_path, fixture_path, demo_regions):
    two_methods = fixture_path("waterml/hydrofunctions_iv_444306122144600_turbidity_2methods.json").read_bytes()
    assert len(decoded(usgs(tmp_path), two_methods, demo_regions).observations) == 173
    payload = fixture_path("waterml/hydrofunctions_iv_2sites_9series_multimethod.json").read_bytes()
    doc = json.loads(payload)
    expected = sum(len(block["value"]) for s in doc["value"]["timeSeries"] for block in s["values"])
    assert len(decoded(usgs(tmp_path), payload, demo_regions).observations) == expected


def test_daily_values_name_their_statistic_in_the_metric(tmp_path, fixture_path, demo_regions):
    statistic = (
        "join('/', [variable.variableCode[0].value, variable.options.option[?name=='Statistic'] | [0].optionCode])"
    )
    payload = fixture_path("waterml/dataretrieval_dv_2sites_10series.json").read_bytes()
    records = decoded(usgs(tmp_path, statistic), payload, demo_regions)
    metrics = {(o.entity_id, o.metric) for o in records.observations}
    assert len(metrics) == len(json.loads(payload)["value"]["timeSeries"])  # no two series folded into one
    assert ("usgs:01491000", "00010/00001") in metrics  # water temperature, daily maximum


@pytest.mark.parametrize(
    ("fixture", "feed", "domain", "paths", "count", "first"),
    [
        ("socrata/sf_police_incidents_wg3w-h783_first300.json", "sfpd", "security",
         'id = "row_id"\ntime = "incident_datetime"\nlon = "longitude"\nlat = "latitude"\n'
         'event_type = "incident_category"\ntitle = "incident_description"\ndescription = "intersection"',
         300, ("Larceny Theft", "Theft, From Locked Vehicle, >$950", "GEARY ST \\ POLK ST")),
        ("socrata/seattle_police_911_incident_response_3k2p-39jp.json", "spd", "security",
         'id = "cad_cdw_id"\ntime = "event_clearance_date"\nlon = "incident_location.longitude"\n'
         'lat = "incident_location.latitude"\nevent_type = "event_clearance_group"\n'
         'title = "event_clearance_description"\ndescription = "hundred_block_location"',
         1000, ("OTHER PROPERTY", "THEFT - MISCELLANEOUS", "36XX BLOCK OF DISCOVERY PARK BLVD")),
        ("socrata/seattle_fire_911_kzjm-xkqj.json", "sfd", "fire",
         'id = "incident_number"\ntime = "datetime"\nlon = "report_location.coordinates[0]"\n'
         'lat = "report_location.coordinates[1]"\nevent_type = "type"\ndescription = "address"',
         13, ("Rescue Elevator", "Rescue Elevator", "1402 3rd Av")),
    ],
)  # fmt: skip
def test_socrata_incident_feeds_become_events(tmp_path, fixture_path, demo_regions, fixture, feed, domain, paths,
                                              count, first):  # fmt: skip
    payload = fixture_path(fixture).read_bytes()
    feed_decoding = decoding(tmp_path, SOCRATA.format(feed=feed, domain=domain, paths=paths))
    records = decoded(feed_decoding, payload, demo_regions)
    assert len(records.events) == count and not records.observations and not records.entities
    event = records.events[0]
    assert (event.type, event.title, event.description) == first and event.domain == domain
    raw = json.loads(payload)[0]
    id_key, time_key = paths.split('"')[1], paths.split('"')[3]
    assert event.id == f"{feed}:{raw[id_key]}"
    # A floating timestamp is the city's local time: 11:22 in Seattle in May is 18:22 UTC.
    local = raw[time_key]
    assert event.ts == datetime.fromisoformat(local).replace(tzinfo=feed_decoding.time_zone).astimezone(UTC)
    placed = [e for e in records.events if e.lon is not None]
    assert len(placed) == sum(1 for r in json.loads(payload) if "latitude" in r or "incident_location" in r
                              or "report_location" in r)  # fmt: skip


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('records = "events"\ndomain = "fire"\nid = "x"', "an event needs its type"),
        ('domain = "flood"\nkind = "g"\ntime = "t"\nvalues = { a = "a" }', "a record needs its id"),
        ('domain = "flood"\nkind = "g"\nid = "i"\nvalues = { a = "a" }\nmetric = "m"\nvalue = "v"', "one of the two"),
        ('domain = "flood"\nkind = "g"\nid = "i"\nmetric = "m"', "needs both `metric` and `value`"),
        ('domain = "flood"\nid = "i"\nvalues = { a = "a" }', "readings need the `kind`"),
        (
            'records = "events"\ndomain = "fire"\nid = "i"\nevent_type = "t"\nvalues = { a = "a" }',
            "events carry no readings",
        ),
    ],
)
def test_an_incomplete_mapping_fails_at_start_up(tmp_path, mapping, message):
    feeds = f'[[feeds]]\nid = "v"\ntransport = "mqtt"\ntopics = ["v/#"]\ndecoder = "mapped-json"\n' \
            f"[feeds.mapping]\n{mapping}\n"  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        decoding(tmp_path, feeds)


def test_a_payload_that_unfolds_past_the_limit_is_a_dead_letter(tmp_path, demo_regions, monkeypatch):
    from feeds.decoders import mapped_json

    monkeypatch.setattr(mapped_json, "MAX_RECORDS", 100)
    feed = usgs(tmp_path)
    doc = {"value": {"timeSeries": [{"sourceInfo": {"siteCode": [{"value": "s"}]}, "variable": {
        "variableCode": [{"value": "00060"}]}, "values": [{"value": [{"value": "1", "dateTime": "2026-01-01T00:00Z"}
                                                                     ] * 101}]}]}}  # fmt: skip
    env = feed.envelope("t", json.dumps(doc).encode(), NOW, demo_regions)
    assert env.dead_letter is not None and "unfolds into more than 100 records" in env.dead_letter.reason


def test_a_field_an_inner_item_lacks_keeps_its_parents_value(tmp_path, demo_regions):
    feed = decoding(tmp_path, WATERML.replace("{metric}", "variable.variableCode[0].value").replace(
        'value = "value"', 'value = "value"\nunit = "unitCode"'))  # fmt: skip
    series = {"sourceInfo": {"siteCode": [{"value": "s1"}]}, "variable": {"variableCode": [{"value": "00065"}],
              "unit": {"unitCode": "ft"}}, "values": [{"value": [
                  {"value": "2", "dateTime": "2026-01-01T00:00Z"},  # no unit of its own: the series'
                  {"value": "61", "dateTime": "2026-01-01T00:15Z", "unitCode": "cm"}]}]}  # fmt: skip
    got = decoded(feed, json.dumps({"value": {"timeSeries": [series]}}).encode(), demo_regions)
    assert [(o.value, o.unit) for o in got.observations] == [(pytest.approx(0.6096), "m"), (61.0, "cm")]
