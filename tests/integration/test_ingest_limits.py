"""Size limits on feeds (issue 22) in the real thing: `cityops run` with a small `[limits]` table reading a real
mosquitto into a real DuckDB file, and the HTTP poller against a real local server answering too much, then an
endless answer, then a good one. Each refusal is a dead letter with its reason and capped raw bytes; the feed goes on.

Every message here is under a megabyte, so a size limit of the broker itself, if any, does not decide the outcome:
CityOps' own limits do."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from feeds.http import HttpFeedSettings, HttpPoller
from store.duckdb_engine import DuckDBStore
from store.limits import Limits
from store.writer import Writer
from tests.harness import CityOps, observation, publish_gauge, publisher, stored_readings, wait_until

pytestmark = pytest.mark.integration


def test_an_oversize_message_and_a_long_device_name_are_dead_letters_and_the_feed_goes_on(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port)
    with app.config.open("a", encoding="utf-8") as config:
        config.write("\n[limits]\nmqtt_message_kb = 16\ndead_letter_kb = 8\n")
    gauge = {"type": "entity", "id": "g2", "domain": "flood", "kind": "river_gauge", "lon": 115.49, "lat": 38.86}
    huge = json.dumps({**gauge, "name": "n" * 1_000_000}).encode()  # a megabyte of name: over the message limit
    long_name = json.dumps({**gauge, "name": "n" * 5_000}).encode()  # within it, but no name is 5,000 characters
    try:
        app.start()
        client = publisher(mosquitto.port, "limits-test-pub")
        for payload in (huge, long_name):
            client.publish("test/flood/entity/g2", payload, qos=1).wait_for_publish(10)
        publish_gauge(client)
        client.publish("test/flood/obs/g1", observation(1), qos=1).wait_for_publish(10)
        wait_until(lambda: app.health()["observations"] == 1, 30, "the good reading stored")
        assert app.health()["dead_letters"] == 2
        client.loop_stop()
        client.disconnect()
    finally:
        assert app.stop() == 0

    assert stored_readings(tmp_path / "cityops.duckdb") == (1, 1)
    with duckdb.connect(str(tmp_path / "cityops.duckdb"), read_only=True) as db:
        letters = db.execute("SELECT reason, octet_length(raw) FROM dead_letters ORDER BY id").fetchall()
        names = db.execute("SELECT id, name FROM entities").fetchall()
    assert letters[0][0].startswith(f"payload is {len(huge):,} bytes; the limit is 16,384 (limits.mqtt_message_kb); "
                                    "the dead letter keeps only its first 8,192 bytes")  # fmt: skip
    assert letters[0][1] == 8192
    assert letters[1][0].startswith("entity name is 5,000 characters; the limit is 200 (limits.name_chars)")
    assert letters[1][1] == len(long_name)  # under dead_letter_kb: kept whole
    assert names == [("test-flood:g1", "G1")]  # neither g2 reached the store


class Source(ThreadingHTTPServer):
    """Answers each GET with the next of `plan`: ("body", bytes) with its Content-Length, or ("endless", None), a
    chunked answer that goes on until the client hangs up."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Answer)
        self.plan: list[tuple[str, bytes | None]] = []
        self.sent = 0  # bytes of the last endless answer written before the client hung up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/readings"


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked answers need it

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        kind, body = self.server.plan.pop(0)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        try:
            if kind == "body":
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65_536
            self.server.sent = 0
            while self.server.sent < 256 * 1024 * 1024:  # a bound, so that a client reading it all still ends
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.server.sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what a limit is for


@pytest.fixture
def source():
    server = Source()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_an_http_answer_over_the_document_limit_is_not_read_and_the_next_poll_is_stored(tmp_path, source,
                                                                                        demo_regions):  # fmt: skip
    store = DuckDBStore(tmp_path / "poll.duckdb")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    settings = HttpFeedSettings(id="web", url=source.url, decoder="cityops-json", timeout_s=5.0, retries=0)
    poller = HttpPoller(settings, writer=writer, regions=demo_regions, store=store,
                        limits=Limits(feed_document_mb=1, dead_letter_kb=16))  # fmt: skip
    reading = {"type": "observation", "entity": "g1", "id": "r1", "values": {"water_level": 5.5}}
    two_mb = json.dumps({**reading, "note": "x" * 2 * 1024 * 1024}).encode()
    source.plan = [("body", two_mb), ("endless", None), ("body", json.dumps(reading).encode())]
    try:
        poller.poll()  # Content-Length says 2 MB: refused from the header
        began = time.monotonic()
        poller.poll()  # no length: read up to the limit, then hung up on
        endless_s = time.monotonic() - began
        poller.poll()
        assert writer.flush()
        cur = store.cursor()
        letters = cur.execute("SELECT reason, octet_length(raw) FROM dead_letters ORDER BY id").fetchall()
        stored = cur.execute("SELECT entity_id, value FROM observations").fetchall()
        state = cur.execute("SELECT state FROM feed_status WHERE feed_id = 'web'").fetchone()
    finally:
        writer.stop()
        store.close()

    limit = "the limit is 1,048,576 (limits.feed_document_mb)"
    assert letters[0][0].startswith(f"payload is {len(two_mb):,} bytes; {limit}; the dead letter keeps only its first "
                                    "16,384 bytes")  # fmt: skip
    assert letters[1][0].startswith(f"payload is more than 1,048,576 bytes (reading stopped there); {limit}")
    assert [size for _, size in letters] == [16_384, 16_384]
    assert endless_s < 5 and source.sent < 64 * 1024 * 1024  # it stopped reading; socket buffers hold the rest
    assert stored == [("web:g1", 5.5)] and state == ("ok",)
