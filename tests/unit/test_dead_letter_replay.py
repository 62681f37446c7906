"""Dead letters replayed through a feed's fixed configuration: stored once, marked, and refused twice."""

import json
from datetime import UTC, datetime

import pytest

from feeds import dead_letters
from feeds.decoding import FeedDecoding
from feeds.mqtt import MqttFeedSettings
from store.writer import Writer

MAPPING = {"time": "ts", "domain": "flood", "kind": "rain_gauge", "values": {"rain_1h": "rain_1h"}}
PAYLOAD = json.dumps({"deviceId": "R-1", "ts": "2026-07-20T08:00:00Z", "rain_1h": 12.5}).encode()


def vendor(id_path: str) -> FeedDecoding:
    mapping = {**MAPPING, "id": id_path}
    return FeedDecoding.from_settings(MqttFeedSettings(id="vendor", topics=["v/#"], decoder="mapped-json",
                                                       mapping=mapping))  # fmt: skip


@pytest.fixture
def pipeline(open_store):
    store = open_store("dl")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    yield store, writer
    writer.stop()
    store.close()


def test_a_dead_letter_replays_once_the_feed_is_fixed(pipeline, demo_regions):
    store, writer = pipeline

    # The integrator mapped the wrong field: the device id is under "deviceId", not "device_id".
    writer.put(vendor("device_id").envelope("v/R-1", PAYLOAD, datetime.now(UTC), demo_regions))
    writer.flush()
    [letter] = dead_letters.recent(store).itertuples()
    assert letter.reason == "no device id at 'device_id'" and letter.size == len(PAYLOAD)

    still_wrong = dead_letters.replay(store, writer, {"vendor": vendor("device_id")}, demo_regions, letter.id)
    assert (still_wrong.outcome, still_wrong.reason) == ("undecodable", "no device id at 'device_id'")
    assert dead_letters.get(store, letter.id)["replay_note"] == "still not decodable: no device id at 'device_id'"

    fixed = {"vendor": vendor("deviceId")}
    result = dead_letters.replay(store, writer, fixed, demo_regions, letter.id)
    assert result.outcome == "stored" and result.counts == (1, 1, 0)
    value = store.cursor().execute("SELECT value FROM observations WHERE entity_id = 'vendor:R-1'").fetchall()
    assert value == [(12.5,)]
    assert dead_letters.get(store, letter.id)["replayed_at"] is not None
    assert bytes(dead_letters.get(store, letter.id)["raw"]) == PAYLOAD  # the evidence stays

    with pytest.raises(dead_letters.ReplayError) as again:
        dead_letters.replay(store, writer, fixed, demo_regions, letter.id)
    assert again.value.code == "replayed"
    with pytest.raises(dead_letters.ReplayError) as gone:
        dead_letters.replay(store, writer, {}, demo_regions, 999)
    assert gone.value.code == "missing"


def test_a_dead_letter_of_a_feed_no_longer_configured_is_refused(pipeline, demo_regions):
    store, writer = pipeline

    writer.put(vendor("device_id").envelope("v/R-1", b"not json", datetime.now(UTC), demo_regions))
    writer.flush()
    [letter] = dead_letters.recent(store, "vendor").itertuples()
    assert dead_letters.recent(store, "other").empty
    with pytest.raises(dead_letters.ReplayError) as refused:
        dead_letters.replay(store, writer, {}, demo_regions, letter.id)
    assert (refused.value.code, refused.value.feed_id) == ("unconfigured", "vendor")
