"""The CityOps JSON decoder: good payloads become records, bad ones a DecodeError with the reason."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.decoders import DecodeError, Message
from feeds.decoders.cityops_json import decode
from feeds.decoding import FeedDecoding
from layers.crs import to_wgs84
from tests.app_config import demo_regions
from tests.strategies import json_documents

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def message(payload, topic="baoding/flood/obs/g1") -> Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message("demo-flood", topic, raw, NOW)


def test_observation_with_several_metrics():
    out = decode(
        message(
            {
                "type": "observation",
                "entity": "g1",
                "ts": "2026-11-22T16:00:00+08:00",
                "values": {"water_level": 12.5, "battery": None},
                "units": {"water_level": "m"},
            }
        )
    )
    assert [(o.metric, o.value, o.unit, o.quality) for o in out.observations] == [
        ("water_level", 12.5, "m", "ok"),
        ("battery", None, "", "missing"),
    ]
    assert out.observations[0].entity_id == "demo-flood:g1"
    assert out.observations[0].ts == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_message_id_is_the_sources_or_a_digest_of_topic_and_payload():
    with_id = decode(message({"type": "observation", "entity": "g1", "values": {"x": 1}, "id": "abc"}))
    assert with_id.observations[0].msg_id == "abc"
    a = decode(message({"type": "observation", "entity": "g1", "values": {"x": 1}}))
    b = decode(message({"type": "observation", "entity": "g1", "values": {"x": 1}}))
    c = decode(message({"type": "observation", "entity": "g1", "values": {"x": 1}}, topic="other"))
    assert a.observations[0].msg_id == b.observations[0].msg_id != c.observations[0].msg_id


def test_entity_and_event():
    out = decode(
        message(
            [
                {
                    "type": "entity",
                    "id": "g1",
                    "domain": "flood",
                    "kind": "river_gauge",
                    "name": "府河 1号",
                    "lon": 115.5,
                    "lat": 38.8,
                    "attributes": {"warning_level": 12.0},
                },
                {
                    "type": "event",
                    "id": "e1",
                    "domain": "fire",
                    "event_type": "hotspot",
                    "ts": "2026-11-22T08:00:00Z",
                    "lon": 115.4,
                    "lat": 38.7,
                    "severity": "yellow",
                    "title": "火点",
                },
            ]
        )
    )
    assert out.entities[0].id == "demo-flood:g1" and out.entities[0].attributes == {"warning_level": 12.0}
    assert out.events[0].id == "demo-flood:e1" and out.events[0].severity == "yellow"


@pytest.mark.parametrize(
    ("name", "stored", "english"),
    [
        ("府河 1号", "府河 1号", None),
        (101, "101", None),
        ({"zh_CN": "河道水位站 g1", "en": "River gauge g1"}, "河道水位站 g1", "River gauge g1"),
        ({"en-GB": "Fu River 1", "zh-Hans-CN": "府河 1号"}, "府河 1号", "Fu River 1"),  # BCP 47 tags, any order
        ({"en": "Fu River 1"}, "Fu River 1", None),  # English alone: it is the name
        ({"fr": "Rivière Fu 1", "de": "Fluss Fu 1"}, "Rivière Fu 1", None),  # no Chinese: the first given
        (
            {"type": "LanguageProperty", "languageMap": {"zh": "府河 1号", "en": "Fu River 1"}},
            "府河 1号",
            "Fu River 1",
        ),  # fmt: skip
        (None, "g1", None),  # no name: the id stands in
    ],
)
def test_a_name_in_several_languages_keeps_the_chinese_and_the_english_for_english_titles(name, stored, english):
    item = {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "attributes": {"x": 1}}
    [entity] = decode(message({**item, "name": name})).entities
    assert entity.name == stored
    assert entity.attributes == ({"x": 1, "name_en": english} if english else {"x": 1})


@pytest.mark.parametrize(
    ("name", "reason"),
    [([], "'name' must be text or a map of languages"), ({}, "'name' gives no language"),
     ({"en": 5}, "'name' in 'en' must be text"), ({"zh_CN": " "}, "'name' in 'zh_CN' must be text"),
     ({"type": "LanguageProperty", "languageMap": "府河"}, "'name' gives no language")],
)  # fmt: skip
def test_a_name_that_is_not_text_nor_languages_says_why(name, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(message({"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "name": name}))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        ({"type": "reading"}, "'type' must be"),
        ({"type": "observation", "entity": "g1"}, "'values' must be"),
        ({"type": "observation", "entity": "g1", "values": {"x": "high"}}, "must be a number"),
        ({"type": "observation", "entity": "g1", "values": {"x": 1}, "ts": "yesterday"}, "not an ISO 8601"),
        (
            {"type": "observation", "entity": "g1", "values": {"x": 1}, "ts": "2026-11-22T08:00:00"},
            "no time zone",
        ),
        ({"type": "entity", "id": "g1", "domain": "weather", "kind": "x"}, "'domain' must be"),
        (
            {"type": "entity", "id": "g1", "domain": "flood", "kind": "x", "lon": 200, "lat": 1},
            "out of range",
        ),
        ({"type": "event", "domain": "fire", "event_type": "x", "severity": "purple"}, "'severity' must be"),
        ([], "empty list"),
        ([{"type": "observation", "entity": "g1", "values": {"x": 1}}, 5], "item 1: expected an object"),
    ],
)
def test_bad_payloads_say_why(payload, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(message(payload))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(str.encode),
        json_documents(
            ["type", "entity", "values", "ts", "id", "lon", "lat", "domain", "kind", "event_type", "severity"],
            max_leaves=12,
        ),  # fmt: skip
    )
)
def test_arbitrary_payloads_become_records_or_a_dead_letter_with_its_reason(raw):
    # FeedDecoding.envelope is what a transport calls: whatever the bytes, the result is records or a dead letter.
    feed = FeedDecoding("f", decode, to_wgs84("gcj02"))
    env = feed.envelope("t", raw, NOW, demo_regions())
    assert (env.records is None) != (env.dead_letter is None)
    if env.dead_letter is not None:
        assert env.dead_letter.reason and env.dead_letter.raw == raw
        assert not env.dead_letter.reason.startswith("decoder failed"), env.dead_letter.reason


def test_normalize_converts_crs_and_assigns_regions(demo_regions):
    from layers.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(115.490556, 38.858056)
    feed = FeedDecoding("f", decode, to_wgs84("gcj02"))
    payload = json.dumps(
        {"type": "entity", "id": "x", "domain": "traffic", "kind": "road_segment", "lon": lon, "lat": lat}
    ).encode()
    entity = feed.envelope("t", payload, NOW, demo_regions).records.entities[0]
    assert entity.lon == pytest.approx(115.490556, abs=1e-7)
    assert entity.district_id == "130606" and entity.town_id.startswith("130606")
