"""Feed health: silence and a lost broker make a feed down; messages make it ok again."""

from datetime import UTC, datetime, timedelta

import pytest

from feeds import health
from store import feed_log
from store.feed_health import FeedEvent
from store.records import Decoded
from store.writer import Envelope, Writer

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(open_store):
    store = open_store("h")
    yield store
    store.close()


def state(store, feed_id):
    return store.cursor().execute("SELECT state, reason FROM feed_status WHERE feed_id = ?", [feed_id]).fetchone()


def test_a_feed_never_heard_from_goes_down_after_its_limit(store):
    assert health.check_silence(store, {"f": 60}, started_at=T0, now=T0 + timedelta(seconds=30)) == []
    assert health.check_silence(store, {"f": 60}, started_at=T0, now=T0 + timedelta(seconds=61)) == ["f"]
    assert state(store, "f") == ("down", "no message yet")
    # Reported once, not again on every check.
    assert health.check_silence(store, {"f": 60}, started_at=T0, now=T0 + timedelta(seconds=90)) == []


def test_silence_then_messages_again(store):
    writer = Writer(store)
    writer.start()
    now = datetime.now(UTC)
    writer.put(Envelope("f", now, records=Decoded()))
    assert writer.flush()
    assert state(store, "f") == ("ok", "")
    assert health.check_silence(store, {"f": 60}, started_at=now, now=now + timedelta(seconds=75)) == ["f"]
    assert state(store, "f") == ("down", "no message for 75 s")
    writer.put(Envelope("f", now + timedelta(seconds=80), records=Decoded()))
    assert writer.flush()
    assert state(store, "f")[0] == "ok"
    writer.stop()
    # The outage stays told after it ended: each change once, newest first.
    log = feed_log.changes(store, now - timedelta(minutes=1))
    assert list(log.state) == ["ok", "down", "ok"]
    assert list(log.reason) == ["", "no message for 75 s", ""]


def test_a_polled_source_answering_ends_only_an_outage(store):
    now = datetime.now(UTC)
    health.record(store, ["p"], FeedEvent.ANSWERED, now=now, heard=True)
    health.record(store, ["p"], FeedEvent.UNDECODABLE, "messages cannot be decoded", now)
    health.record(store, ["p"], FeedEvent.ANSWERED, now=now, heard=True)  # answering does not make them well
    assert state(store, "p") == ("degraded", "messages cannot be decoded")
    health.record(store, ["p"], FeedEvent.POLLS_FAILED, "no answer", now)
    health.record(store, ["p"], FeedEvent.POLLS_FAILED, "no answer", now)
    health.record(store, ["p"], FeedEvent.ANSWERED, now=now, heard=True)
    log = feed_log.changes(store, now - timedelta(minutes=1))
    assert list(log.state) == ["ok", "down", "degraded", "ok"]


def test_losing_the_broker_marks_its_feeds_down_and_bumps_the_version(store):
    before = store.data_version
    health.connection_changed(store, ["a", "b"], up=False, reason="disconnected from the broker: keepalive")
    assert state(store, "a") == ("down", "disconnected from the broker: keepalive")
    assert state(store, "b")[0] == "down"
    assert store.data_version > before


def test_messages_received_before_the_broker_was_lost_do_not_end_the_outage(store):
    writer = Writer(store)
    writer.start()
    lost_at = datetime.now(UTC)
    health.connection_changed(store, ["f"], up=False, reason="lost the connection to the broker")
    writer.put(Envelope("f", lost_at - timedelta(seconds=1), records=Decoded()))  # still queued when it was lost
    assert writer.flush()
    assert state(store, "f") == ("down", "lost the connection to the broker")
    writer.put(Envelope("f", datetime.now(UTC), records=Decoded()))  # received after: the feed is back
    assert writer.flush()
    writer.stop()
    assert state(store, "f") == ("ok", "")
    assert list(feed_log.changes(store, lost_at - timedelta(minutes=1)).state) == ["ok", "down"]
