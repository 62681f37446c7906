"""The registries of feeds/: transports × decoders. Each registered name is the one its settings answer to, every
decoder is built from a feed's settings, and `transports.start` starts each transport that has feeds."""

from __future__ import annotations

import time

from apscheduler.schedulers.background import BackgroundScheduler

from feeds import transports
from feeds.decoders import DECODERS
from feeds.file import FileFeedSettings
from feeds.http import HttpFeedSettings
from feeds.mqtt import MqttFeedSettings
from feeds.settings import FeedBase
from feeds.wiring import Broker, Wiring
from store.duckdb_engine import DuckDBStore
from store.writer import Writer


def test_each_transport_is_registered_under_the_name_its_settings_answer_to():
    for name, transport in transports.TRANSPORTS.items():
        assert issubclass(transport.settings, FeedBase)
        assert transport.settings.model_fields["transport"].default == name


def test_every_decoder_is_built_from_its_feeds_settings():
    mapping = {"id": "id", "domain": "flood", "kind": "gauge", "values": {"level": "v"}}
    for name, build in DECODERS.items():
        feed = MqttFeedSettings(id="f", topics=["x"], decoder=name, mapping=mapping if name == "mapped-json" else None)
        assert callable(build(feed))


def test_only_the_transports_with_feeds_start_and_what_they_start_is_returned(tmp_path, demo_regions, fixture_path):
    store = DuckDBStore(tmp_path / "t.duckdb")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    scheduler = BackgroundScheduler(timezone="UTC")
    nowhere = Broker("127.0.0.1", 1, "transports-test", "5", 0)  # no broker there
    wiring = Wiring(writer, demo_regions, store, scheduler, nowhere)
    feeds = [
        FileFeedSettings(id="drill", path=fixture_path("cap/australia.cap"), decoder="cap", speed=0),
        HttpFeedSettings(id="warnings", url="http://127.0.0.1:1/cap", decoder="cap"),
    ]
    started = transports.start(feeds, wiring)
    # No MQTT feed: no MQTT client; the poller runs on the scheduler, and is returned so that a stop ends its poll.
    assert [type(part).__name__ for part in started] == ["HttpPoller", "FileReplay"]  # in the order of TRANSPORTS
    assert [job.id for job in scheduler.get_jobs()] == ["poll-warnings"]
    replay = started[1]
    deadline = time.monotonic() + 5
    while replay.sent < 1 and time.monotonic() < deadline:  # the replay runs on a thread of its own
        time.sleep(0.01)
    for part in started:
        part.stop()
    assert writer.flush()
    assert store.cursor().execute("SELECT count(*) FROM events").fetchone() == (1,)
    writer.stop()
    store.close()
