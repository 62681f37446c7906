"""Bad input at volume: 100,000 payloads — the real fixtures of every decoder, mutated (bytes flipped, cut,
repeated, spliced from another format) and JSON built by hypothesis from each format's own keys — through the
same decoding every transport uses. None may crash a decoder: each failure is a dead letter with a reason. Then
garbage interleaved with valid messages goes through the real writer into DuckDB: every valid message is stored,
every bad one is a dead letter with its reason and its exact bytes."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.decoding import FeedDecoding
from feeds.mqtt import MqttFeedSettings
from store.duckdb_engine import DuckDBStore
from store.writer import Writer
from tests.strategies import json_documents

FIXTURES = {  # decoder → the real payloads of its format (tests/fixtures/SOURCES.md says where each is from)
    "cap": "cap/*.cap",
    "firms-csv": "fire/*.csv",
    "ngsi": "fiware/*/example*.json*",
    "open311": "open311/*.json",
    "ea-flood": "hydrology/*.json",
    "datex2": "traffic/*.xml",
    "waterml": "waterml/*.json",  # mapped-json, nested, through every plausibility test
    "socrata": "socrata/*.json",  # mapped-json, events
    "sl651": "sl651/*.hex",  # frames as published in hex text, fuzzed as the bytes a station sends
}
KEYS = {  # each format's vocabulary, so generated JSON gets past the first checks
    "cityops-json": ["type", "id", "entity", "domain", "kind", "name", "lon", "lat", "values", "units", "ts",
                     "event_type", "severity", "title", "description", "attributes"],
    "ngsi": ["id", "type", "value", "location", "coordinates", "dateObserved", "@context", "observedAt"],
    "open311": ["service_request_id", "status", "lat", "long", "requested_datetime", "service_name"],
    "ea-flood": ["items", "latestReading", "value", "dateTime", "measure", "lat", "long", "label", "stationReference"],
}  # fmt: skip
TOTAL = 100_000
MAX_BYTES = 6_000  # big fixtures (300-row CSV) are cut: the mutations, not the length, are what is tested


MAPPED = {
    "waterml": {
        "mapping": {"items": "value.timeSeries", "id": "sourceInfo.siteCode[0].value",
                    "lon": "sourceInfo.geoLocation.geogLocation.longitude",
                    "lat": "sourceInfo.geoLocation.geogLocation.latitude", "domain": "flood", "kind": "river_gauge",
                    "metric": "variable.variableCode[0].value", "unit": "variable.unit.unitCode",
                    "no_data": "variable.noDataValue",
                    "within": [{"items": "values[].value[]", "time": "dateTime", "value": "value"}]},
        "plausible": {"bbox": (-125, 24, -66, 50), "ranges": {"00060": (0, 1e6)}, "stuck_hours": {"00060": 1},
                      "jumps": {"00060": 100}},
    },
    "socrata": {
        "mapping": {"records": "events", "domain": "security", "id": "row_id || incident_number || cad_cdw_id",
                    "time": "incident_datetime || datetime || event_clearance_date", "lon": "longitude",
                    "lat": "latitude", "event_type": "incident_category || type || event_clearance_group"},
        "time_zone": "America/Los_Angeles",
    },
}  # fmt: skip
FEEDS = {
    name: FeedDecoding.from_settings(MqttFeedSettings(id=name, topics=["x"], **(
        {"decoder": "mapped-json", **MAPPED[name]} if name in MAPPED else {"decoder": name})))
    for name in KEYS | FIXTURES
}  # fmt: skip


def smaller(payload: bytes) -> bytes:
    """A big fixture cut to MAX_BYTES: a JSON document by keeping the first items of each of its lists, so that
    it stays valid and its mutations reach the decoder; any other by its first bytes."""
    if len(payload) <= MAX_BYTES:
        return payload
    try:
        doc = json.loads(payload)
    except ValueError:
        return payload[:MAX_BYTES]

    def first(node, keep: int):
        if isinstance(node, list):
            return [first(item, keep) for item in node[:keep]]
        if isinstance(node, dict):
            return {key: first(value, keep) for key, value in node.items()}
        return node

    for keep in (8, 4, 2, 1):
        text = json.dumps(first(doc, keep), ensure_ascii=False).encode()
        if len(text) <= MAX_BYTES:
            return text
    return text[:MAX_BYTES]


def mutate(rng: random.Random, payload: bytes, others: list[bytes]) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        kind = rng.randrange(7)
        at = rng.randrange(len(data))
        if kind == 0:  # flip bits of a byte
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # cut
            del data[at:]
        elif kind == 2:  # insert junk (control bytes, quotes, brackets, invalid UTF-8)
            data[at:at] = bytes(rng.choice(b'\x00\xff\xfe"<>{}[],:-.9e\\\n\r\t') for _ in range(rng.randint(1, 8)))
        elif kind == 3:  # repeat a chunk
            end = min(len(data), at + rng.randint(1, 64))
            data[at:at] = data[at:end] * rng.randint(2, 20)
        elif kind == 4:  # splice in a piece of another format
            other = rng.choice(others)
            start = rng.randrange(max(1, len(other)))
            data[at:at] = other[start : start + rng.randint(1, 200)]
        elif kind == 5:  # a number where a number is: huge, negative, NaN
            data[at:at] = rng.choice([b"1e309", b"-0", b"NaN", b"99999999999999999999", b"-181.5"])
        else:  # a character of another script, or an emoji, in the middle of a token
            data[at:at] = rng.choice(["保定", "𝔘", "\u202e", "🌊"]).encode()
    return bytes(data)


def test_a_hundred_thousand_bad_payloads_crash_no_decoder(fixture_path, demo_regions):
    started = time.monotonic()
    real = {name: [smaller(p.read_bytes()) for p in sorted(fixture_path("").glob(pattern))]
            for name, pattern in FIXTURES.items()}  # fmt: skip
    real["sl651"] = [bytes.fromhex(text.decode("ascii")) for text in real["sl651"]]
    real["cityops-json"] = [json.dumps(item).encode() for item in VALID_SAMPLES]
    assert all(real.values()), {k: len(v) for k, v in real.items()}
    everything = [p for payloads in real.values() for p in payloads]
    rng = random.Random(20261201)
    now = datetime.now(UTC)
    outcomes: Counter = Counter()
    crashes: list[str] = []
    names = sorted(real)
    for n in range(TOTAL):
        name = names[n % len(names)]
        payload = mutate(rng, rng.choice(real[name]), everything)
        envelope = FEEDS[name].envelope(f"fuzz-{n}", payload, now, demo_regions)
        if envelope.dead_letter is not None:
            reason = envelope.dead_letter.reason
            assert reason.strip() and envelope.dead_letter.raw == payload
            if reason.startswith("decoder failed"):
                crashes.append(f"{name}: {reason[:160]}")
            outcomes[(name, "dead letter")] += 1
        else:
            outcomes[(name, "decoded")] += 1
    elapsed = time.monotonic() - started
    print(f"\n{TOTAL:,} mutated payloads in {elapsed:.1f} s; decoder crashes: {len(crashes)}")
    for (name, outcome), count in sorted(outcomes.items()):
        print(f"  {name:<13} {outcome:<12} {count:>7,}")
    assert not crashes, "\n".join(sorted(set(crashes))[:20])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(KEYS)).flatmap(lambda name: st.tuples(st.just(name), json_documents(KEYS[name]))))
def test_generated_json_crashes_no_decoder(demo_regions, case):
    name, payload = case
    envelope = FEEDS[name].envelope("hypothesis", payload, datetime.now(UTC), demo_regions)
    if envelope.dead_letter is not None:
        assert not envelope.dead_letter.reason.startswith("decoder failed"), envelope.dead_letter.reason


VALID_SAMPLES = [
    {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "name": "府河 G1",
     "lon": 115.4906, "lat": 38.8581, "attributes": {"warning_level": 11.0}},
    {"type": "observation", "entity": "g1", "id": "o1", "ts": "2026-11-30T08:00:00Z",
     "values": {"water_level": 10.5}, "units": {"water_level": "m"}},
    {"type": "event", "id": "e1", "domain": "security", "event_type": "crowding", "ts": "2026-11-30T08:00:00Z",
     "lon": 115.49, "lat": 38.86, "severity": "yellow", "title": "人员聚集", "description": "古莲花池"},
]  # fmt: skip


def test_garbage_between_valid_messages_loses_none_of_them(tmp_path, demo_regions):
    """10,000 valid observations with unique ids, each followed by a bad payload, through the real writer."""
    feed = FEEDS["cityops-json"]
    store = DuckDBStore(tmp_path / "fuzz.duckdb")
    writer = Writer(store)
    writer.start()
    rng = random.Random(7)
    sent_bad: dict[str, bytes] = {}
    started = time.monotonic()
    entity = json.dumps(VALID_SAMPLES[0]).encode()
    writer.put(feed.envelope("entity", entity, datetime.now(UTC), demo_regions))
    for n in range(10_000):
        good = {"type": "observation", "entity": "g1", "id": f"ok-{n}", "ts": f"2026-11-30T08:{n // 600 % 60:02d}:"
                f"{n // 10 % 60:02d}.{n % 10}Z", "values": {"water_level": 10 + n % 7}}  # fmt: skip
        writer.put(feed.envelope(f"good-{n}", json.dumps(good).encode(), datetime.now(UTC), demo_regions))
        bad = mutate(rng, json.dumps(good).encode(), [entity]) + b"\x00}"  # never valid JSON
        sent_bad[f"bad-{n}"] = bad
        writer.put(feed.envelope(f"bad-{n}", bad, datetime.now(UTC), demo_regions))
    assert writer.flush(60), "the writer did not drain"
    cur = store.cursor()
    stored = cur.execute("SELECT count(*), count(DISTINCT msg_id) FROM observations").fetchone()
    letters = dict(cur.execute("SELECT source, raw FROM dead_letters").fetchall())
    reasons = cur.execute("SELECT count(*) FROM dead_letters WHERE reason = ''").fetchone()[0]
    print(f"\n10,000 valid and 10,000 bad messages in {time.monotonic() - started:.1f} s: "
          f"{stored[0]:,} observations stored, {len(letters):,} dead letters")  # fmt: skip
    writer.stop()
    store.close()
    assert stored == (10_000, 10_000)
    assert len(letters) == 10_000 and reasons == 0
    assert all(letters[source] == raw for source, raw in sent_bad.items())
