"""The HTTP poller against a local server that times out, fails, answers garbage, is slow, then recovers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from feeds.http import HttpFeedSettings, HttpPoller
from store.duckdb_engine import DuckDBStore
from store.writer import Writer

pytestmark = pytest.mark.integration


class Source(ThreadingHTTPServer):
    """Answers each GET with the next scripted step: ("hang", s), ("status", code), ("body", bytes, etag)."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan: list[tuple] = []
        self.requests: list[dict[str, str]] = []
        self.pages: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802
        server: Source = self.server
        server.requests.append({"path": self.path, **dict(self.headers)})
        if self.path in server.pages:
            return self._send(200, server.pages[self.path])
        step = server.plan.pop(0) if server.plan else ("status", 503)
        if step[0] == "hang":
            time.sleep(step[1])
            return None
        if step[0] == "status":
            return self._send(step[1], b"")
        body, etag = step[1], step[2] if len(step) > 2 else None
        if etag and self.headers.get("If-None-Match") == etag:
            return self._send(304, b"")
        if step[0] == "slow":
            time.sleep(0.4)  # slow, yet within the timeout with room to spare on a loaded machine
        return self._send(200, body, etag)

    def _send(self, code: int, body: bytes, etag: str | None = None):
        self.send_response(code)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def source():
    server = Source()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def readings(n: int, start: int = 0) -> bytes:
    measure = "http://x/id/measures/S1-level-stage-i-15_min-m"
    items = [
        {
            "measure": measure,
            "value": 1.0 + i / 100,
            "dateTime": f"2024-01-01T{(start + i) // 60:02d}:{(start + i) % 60:02d}:00Z",
        }
        for i in range(n)
    ]
    return json.dumps({"items": items}).encode()


@pytest.fixture
def pipeline(tmp_path, demo_regions):
    store = DuckDBStore(tmp_path / "poll.duckdb")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    yield store, writer, demo_regions
    writer.stop()
    store.close()


def make(source, pipeline, **options) -> HttpPoller:
    store, writer, regions = pipeline
    settings = HttpFeedSettings(id="ea", url=source.url + "/readings", decoder="ea-flood", timeout_s=1.0, retries=1,
                                retry_delay_s=0.01, down_after=3, **options)  # fmt: skip
    return HttpPoller(settings, writer=writer, regions=regions, store=store)


def state(store) -> tuple[str, str]:
    return store.cursor().execute("SELECT state, reason FROM feed_status WHERE feed_id = 'ea'").fetchone()


def count(store, table: str) -> int:
    return store.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_outage_garbage_slowness_and_recovery(source, pipeline):
    store, writer, _ = pipeline
    poller = make(source, pipeline)
    source.plan = [("hang", 2.0), ("hang", 2.0), ("status", 500), ("status", 500), ("status", 502), ("status", 502)]
    poller.poll()
    assert state(store) == ("degraded", "no answer within 1 s (1 failed poll in a row)")
    poller.poll()
    assert state(store)[0] == "degraded"
    poller.poll()
    assert state(store) == ("down", "HTTP 502 Bad Gateway (3 failed polls in a row)")
    assert len(source.requests) == 6  # each poll tried twice (retries=1)

    source.plan = [("body", b"<html>Service temporarily unavailable</html>")]
    poller.poll()
    writer.flush()
    assert state(store)[0] == "degraded" and "cannot be decoded" in state(store)[1]
    assert count(store, "dead_letters") == 1  # the garbage is kept, with its reason

    source.plan = [("slow", readings(50), '"v1"')]
    poller.poll()
    writer.flush()
    assert state(store)[0] == "ok" and count(store, "observations") == 50

    source.plan = [("body", readings(50), '"v1"')]  # unchanged: the source answers 304
    poller.poll()
    writer.flush()
    assert source.requests[-1]["If-None-Match"] == '"v1"'
    assert state(store)[0] == "ok" and count(store, "observations") == 50  # nothing valid lost, nothing twice


def test_an_unchanged_source_is_alive_not_silent(source, pipeline):
    from datetime import UTC, datetime, timedelta

    from feeds import health

    store, writer, _ = pipeline
    poller = make(source, pipeline, stale_after_s=60)
    source.plan = [("body", readings(3), '"v1"')]
    poller.poll()
    writer.flush()
    first = store.cursor().execute("SELECT last_message_at FROM feed_status").fetchone()[0]
    time.sleep(0.01)
    source.plan = [("body", readings(3), '"v1"')]  # 304 from now on
    poller.poll()
    last = store.cursor().execute("SELECT last_message_at FROM feed_status").fetchone()[0]
    assert last > first  # a 304 is contact with the source
    assert health.check_silence(store, {"ea": 60}, first, now=datetime.now(UTC) + timedelta(seconds=59)) == []
    assert health.check_silence(store, {"ea": 60}, first, now=datetime.now(UTC) + timedelta(seconds=61)) == ["ea"]


def test_a_client_error_is_not_retried(source, pipeline):
    store, _, _ = pipeline
    poller = make(source, pipeline)
    source.plan = [("status", 404)]
    poller.poll()
    assert len(source.requests) == 1 and state(store)[1].startswith("HTTP 404")


def test_pages_are_followed(source, pipeline):
    store, writer, _ = pipeline
    poller = make(source, pipeline, next_page="links.next")
    first = json.loads(readings(10))
    first["links"] = {"next": source.url + "/page2"}
    source.plan = [("body", json.dumps(first).encode())]
    source.pages["/page2"] = readings(5, start=10)
    poller.poll()
    writer.flush()
    assert count(store, "observations") == 15


def test_credentials_come_from_the_environment_and_stay_secret(source, pipeline, monkeypatch):
    store, _, _ = pipeline
    poller = make(source, pipeline, auth_env="CITYOPS_TEST_EA_TOKEN")
    poller.poll()
    assert state(store)[1].startswith("the variable CITYOPS_TEST_EA_TOKEN that holds the credentials is not set")
    monkeypatch.setenv("CITYOPS_TEST_EA_TOKEN", "Bearer s3cret")
    source.plan = [("body", readings(1))]
    poller.poll()
    assert source.requests[-1]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in " ".join(
        r or "" for r in store.cursor().execute("SELECT reason FROM feed_status").fetchone()
    )


def test_a_stop_ends_a_poll_waiting_between_retries_without_a_verdict(source, pipeline):
    source.plan = [("status", 503)] * 5
    store, writer, regions = pipeline
    settings = HttpFeedSettings(id="ea", url=source.url + "/readings", decoder="ea-flood", timeout_s=1.0, retries=3,
                                retry_delay_s=5.0)  # would wait seconds between its tries  # fmt: skip
    poller = HttpPoller(settings, writer=writer, regions=regions, store=store)
    polling = threading.Thread(target=poller.poll)
    polling.start()
    deadline = time.monotonic() + 5
    while not source.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    began = time.monotonic()
    poller.stop()
    polling.join(5)
    assert not polling.is_alive() and time.monotonic() - began < 1
    assert len(source.requests) == 1
    assert state(store) is None  # the source failed because CityOps stopped, not by itself: no verdict on it
