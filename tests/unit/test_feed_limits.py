"""Size limits on what feeds bring in (issue 22): a payload over its transport's limit, an id or a name over
`name_chars`, a free text over `text_chars`. Each refusal is a dead letter saying which limit, whose raw bytes are
capped at `dead_letter_kb`; every limit is the configuration's `[limits]`, not a constant."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from cityops.config import load
from feeds import dead_letters, transports
from feeds.decoding import FeedDecoding, Oversize, was_cut
from feeds.file import FileFeedSettings, FileReplay
from feeds.http import HttpFeedSettings
from feeds.mqtt import MqttFeedSettings
from feeds.wiring import Broker, Wiring
from store.duckdb_engine import DuckDBStore
from store.limits import Limits
from store.writer import Writer
from tests.app_config import CITY

NOW = datetime(2026, 11, 22, tzinfo=UTC)
GAUGE = {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "name": "府河 G1",
         "lon": 115.4906, "lat": 38.8581}  # fmt: skip
READING = {"type": "observation", "entity": "g1", "id": "m1", "ts": "2026-11-22T08:00:00Z",
           "values": {"water_level": 10.5}, "units": {"water_level": "m"}}  # fmt: skip
CROWD = {"type": "event", "id": "e1", "domain": "security", "event_type": "crowding", "ts": "2026-11-22T08:00:00Z",
         "lon": 115.49, "lat": 38.86, "severity": "yellow", "title": "人员聚集", "description": "古莲花池"}  # fmt: skip


def mqtt_feed(limits: Limits | None = None) -> FeedDecoding:
    return FeedDecoding.from_settings(MqttFeedSettings(id="f", topics=["x"], decoder="cityops-json"), limits)


def http_feed(limits: Limits | None = None) -> FeedDecoding:
    return FeedDecoding.from_settings(HttpFeedSettings(id="f", url="http://x/", decoder="cityops-json"), limits)


def payload(item: dict, **changes) -> bytes:
    return json.dumps({**item, **changes}, ensure_ascii=False).encode()


def test_an_mqtt_message_over_its_limit_is_a_dead_letter_keeping_only_its_first_bytes(demo_regions):
    big = payload(READING, note="x" * 10_485_760)
    envelope = mqtt_feed().envelope("city/flood/obs/g1", big, NOW, demo_regions)

    letter = envelope.dead_letter
    assert envelope.records is None
    assert letter.reason.startswith(f"payload is {len(big):,} bytes; the limit is 1,048,576 (limits.mqtt_message_kb)")
    assert letter.raw == big[: 64 * 1024]  # dead_letter_kb's default
    assert "keeps only its first 65,536 bytes (limits.dead_letter_kb); sha256 of the whole payload: " in letter.reason
    assert hashlib.sha256(big).hexdigest() in letter.reason and was_cut(letter.reason)


def test_the_limits_are_the_configurations(demo_regions):
    limits = Limits(mqtt_message_kb=16, dead_letter_kb=4)
    message = payload(READING, note="x" * 20_000)

    assert mqtt_feed().envelope("t", message, NOW, demo_regions).records is not None  # the default allows 1 MB
    letter = mqtt_feed(limits).envelope("t", message, NOW, demo_regions).dead_letter
    assert letter.reason.startswith(f"payload is {len(message):,} bytes; the limit is 16,384 (limits.mqtt_message_kb)")
    assert letter.raw == message[:4096]


def test_limits_come_from_the_configurations_limits_table(tmp_path, demo_regions):
    path = tmp_path / "cityops.toml"
    path.write_text(f"""
{CITY}
[store]
path = "x.duckdb"

[limits]
name_chars = 20
text_chars = 100

[[feeds]]
id = "f"
transport = "mqtt"
topics = ["x/#"]
decoder = "cityops-json"
""", encoding="utf-8")  # fmt: skip
    settings = load(path, environ={})
    feed = FeedDecoding.from_settings(settings.feeds[0], settings.limits)

    refused = feed.envelope("t", payload(GAUGE, name="a name of thirty characters..."), NOW, demo_regions)
    assert refused.dead_letter.reason.startswith("entity name is 30 characters; the limit is 20 (limits.name_chars)")
    [event] = feed.envelope("t", payload(CROWD, description="d" * 500), NOW, demo_regions).records.events
    assert event.description == "d" * 99 + "…"


def test_an_http_answer_or_a_file_is_held_to_the_document_limit_not_the_message_one(demo_regions):
    two_mb = payload(READING, note="x" * 2_000_000)
    assert mqtt_feed().envelope("t", two_mb, NOW, demo_regions).dead_letter is not None
    assert http_feed().envelope("t", two_mb, NOW, demo_regions).records is not None  # 64 MB by default

    feed = http_feed(Limits(feed_document_mb=1, dead_letter_kb=1))
    assert feed.max_bytes == 1_048_576
    # What a poller hands over when the source said no size and reading stopped past the limit.
    head = two_mb[: feed.max_bytes + 1]
    letter = feed.envelope("http://x/", Oversize(head, None), NOW, demo_regions).dead_letter
    assert letter.reason.startswith("payload is more than 1,048,576 bytes (reading stopped there); the limit is "
                                    "1,048,576 (limits.feed_document_mb)")  # fmt: skip
    assert f"sha256 of the 1,048,577 bytes read: {hashlib.sha256(head).hexdigest()}" in letter.reason
    assert letter.raw == two_mb[:1024]


def test_every_dead_letter_keeps_at_most_dead_letter_kb_of_its_payload(demo_regions):
    feed = mqtt_feed(Limits(dead_letter_kb=1))
    small = b"{not json"
    assert feed.envelope("t", small, NOW, demo_regions).dead_letter.raw == small  # kept whole, as before

    broken = payload(READING, note="x" * 5000)[:-1]  # under the message limit, but not JSON
    letter = feed.envelope("t", broken, NOW, demo_regions).dead_letter
    assert letter.raw == broken[:1024] and len(letter.reason) <= 1000
    assert was_cut(letter.reason) and hashlib.sha256(broken).hexdigest() in letter.reason


def test_a_device_name_of_a_megabyte_is_a_dead_letter_naming_the_field(demo_regions):
    message = payload(GAUGE, name="n" * 1_000_000)  # under the message limit: the name itself is refused
    letter = mqtt_feed().envelope("city/flood/entity/g1", message, NOW, demo_regions).dead_letter
    assert letter.reason.startswith("entity name is 1,000,000 characters; the limit is 200 (limits.name_chars); "
                                    "it begins 'nnnn")  # fmt: skip
    assert letter.raw == message[: 64 * 1024] and was_cut(letter.reason)


@pytest.mark.parametrize(
    ("item", "change", "field"),
    [
        (GAUGE, {"id": "g" * 300}, "entity id"),
        (GAUGE, {"kind": "k" * 300}, "entity kind"),
        (READING, {"values": {"m" * 300: 1.0}}, "observation metric"),
        (READING, {"units": {"water_level": "u" * 300}}, "observation unit"),
        (READING, {"entity": "g" * 300}, "observation entity_id"),
        (CROWD, {"event_type": "t" * 300}, "event type"),
        (GAUGE, {"attributes": {"a" * 300: 1}}, "entity attribute name"),
        (GAUGE, {"attributes": {"note": "v" * 5000}}, "entity attribute 'note'"),
    ],
)
def test_an_id_or_a_word_rules_match_on_is_refused_not_cut(demo_regions, item, change, field):
    letter = mqtt_feed().envelope("t", payload(item, **change), NOW, demo_regions).dead_letter
    assert letter is not None and letter.reason.startswith(f"{field} is "), letter.reason
    assert "(limits.name_chars)" in letter.reason or "(limits.text_chars)" in letter.reason


def test_a_long_description_is_cut_with_a_mark_and_the_event_still_arrives(demo_regions):
    envelope = mqtt_feed().envelope("t", payload(CROWD, title="T" * 5000, description="D" * 100_000), NOW,
                                    demo_regions)  # fmt: skip
    [event] = envelope.records.events
    assert event.title == "T" * 3999 + "…" and event.description == "D" * 3999 + "…"
    assert len(event.raw) <= 4000
    [short] = mqtt_feed().envelope("t", payload(CROWD), NOW, demo_regions).records.events
    assert (short.title, short.description) == ("人员聚集", "古莲花池")  # untouched under the limit


@pytest.fixture
def pipeline(tmp_path):
    store = DuckDBStore(tmp_path / "limits.duckdb")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    yield store, writer
    writer.stop()
    store.close()


def test_a_cut_dead_letter_is_not_replayed_and_a_replay_applies_the_limits(pipeline, demo_regions):
    store, writer = pipeline
    feed = mqtt_feed(Limits(dead_letter_kb=1))
    cut = payload(READING, values={"water_level": 1.0}, note="x" * 5000)[:-1]
    writer.put(feed.envelope("cut", cut, datetime.now(UTC), demo_regions))
    writer.put(feed.envelope("named", payload(GAUGE, name="n" * 300), datetime.now(UTC), demo_regions))
    writer.flush()
    letters = {row.source: row.id for row in dead_letters.recent(store).itertuples()}

    result = dead_letters.replay(store, writer, {"f": feed}, demo_regions, letters["cut"])
    assert result.outcome == "undecodable" and "only the first bytes" in result.reason
    assert dead_letters.get(store, letters["cut"])["replay_note"].startswith("not replayed: only the first bytes")

    still = dead_letters.replay(store, writer, {"f": feed}, demo_regions, letters["named"])
    assert still.outcome == "undecodable" and still.reason.startswith("entity name is 300 characters")
    wider = mqtt_feed(Limits(name_chars=400))  # the operator raised the limit: the same letter now goes in
    assert dead_letters.replay(store, writer, {"f": wider}, demo_regions, letters["named"]).outcome == "stored"


def test_a_file_over_the_limit_is_refused_by_its_size_and_a_recording_line_by_its_length(pipeline, tmp_path,
                                                                                          demo_regions):  # fmt: skip
    store, writer = pipeline
    limits = Limits(feed_document_mb=1, dead_letter_kb=1)
    folder = tmp_path / "drops"
    folder.mkdir()
    (folder / "1-big.json").write_bytes(payload(READING, note="x" * 2_000_000))
    (folder / "2-good.json").write_bytes(payload(READING))
    recording = tmp_path / "day.jsonl"
    lines = [{"at": "2026-11-22T08:00:00Z", "payload": {**READING, "id": "r1", "note": "x" * 1_100_000}},
             {"at": "2026-11-22T08:00:01Z", "payload": {**READING, "id": "r2"}}]  # fmt: skip
    recording.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    for path in (folder, recording):
        FileReplay(FileFeedSettings(id="f", path=path, decoder="cityops-json", speed=0), writer=writer,
                   regions=demo_regions, limits=limits).run()  # fmt: skip
    writer.flush()

    rows = (
        store.cursor().execute("SELECT source, reason, octet_length(raw) FROM dead_letters ORDER BY source").fetchall()
    )
    big = (folder / "1-big.json").stat().st_size
    assert [(source, size) for source, _, size in rows] == [
        (f"{recording}:1", 1024),
        (str(folder / "1-big.json"), 1024),
    ]
    assert rows[0][1].startswith(f"payload is {len(json.dumps(lines[0])) + 1:,} bytes; the limit is 1,048,576 "
                                 "(limits.feed_document_mb)")  # fmt: skip
    assert rows[1][1].startswith(f"payload is {big:,} bytes; the limit is 1,048,576 (limits.feed_document_mb)")
    assert store.cursor().execute("SELECT count(*) FROM observations").fetchone() == (2,)  # the rest went on


def test_each_transport_is_given_the_wirings_limits(tmp_path, demo_regions, fixture_path):
    store = DuckDBStore(tmp_path / "t.duckdb")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    limits = Limits(mqtt_message_kb=8, feed_document_mb=2, name_chars=50)
    wiring = Wiring(writer, demo_regions, store, BackgroundScheduler(timezone="UTC"),
                    Broker("127.0.0.1", 1, "limits-test", "5", 0), limits=limits)  # fmt: skip
    feeds = [
        MqttFeedSettings(id="m", topics=["x/#"], decoder="cityops-json"),
        HttpFeedSettings(id="h", url="http://127.0.0.1:1/", decoder="cap"),
        FileFeedSettings(id="d", path=fixture_path("cap/australia.cap"), decoder="cap", speed=0),
    ]
    ingest, poller, replay = transports.start(feeds, wiring)
    for part in (ingest, poller, replay):
        part.stop()
    writer.stop()
    store.close()
    decodings = [ingest.feeds[0].decoding, poller.feed, replay.feed]
    assert all(d.limits is limits for d in decodings)
    assert [d.max_bytes for d in decodings] == [8 * 1024, 2 * 1024 * 1024, 2 * 1024 * 1024]
