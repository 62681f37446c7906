"""HTTP polling: fetch a URL on an interval, decode what comes back, and say plainly when the source is sick.

Like a Home Assistant coordinator: a failed fetch changes the feed's health (degraded, then down after
`down_after` failed polls in a row), never shows stale data as current. Each poll tries `retries` more times with
exponential backoff and jitter; 4xx answers other than 408/429 are not retried. `ETag` / `Last-Modified` are sent
back, so an unchanged source costs a 304; a 204 (nothing in force) is an answer too. JSON responses can be followed
page by page (`next_page` is a JMESPath to the next URL). Credentials come from an environment variable and never
appear in a reason or a log. An answer is read no further than `[limits] feed_document_mb` (each page): a bigger
one, by its Content-Length or once reading passes the limit, is a dead letter holding its first bytes, and the next
poll goes on as usual. An HTTP feed's own keys are in HttpFeedSettings; `start` puts each poller on the scheduler.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.client import HTTPResponse
from typing import Annotated, Literal

import jmespath
import orjson
from pydantic import Field, field_validator

from feeds import health
from feeds.decoding import FeedDecoding, Oversize
from feeds.settings import FeedBase
from feeds.wiring import Wiring
from layers.regions import RegionIndex
from store.database import Store
from store.feed_health import FeedEvent
from store.limits import Limits
from store.writer import Writer

log = logging.getLogger(__name__)
# A feed URL starting with this is served by the demo city's simulator (feeds/simulator/sources.py).
DEMO_SOURCES = "{demo}/"


class HttpFeedSettings(FeedBase):
    """A polled source: its URL, how often and how patiently it is asked, and how many failures make it down."""

    transport: Literal["http"] = "http"
    url: str
    interval_s: Annotated[float, Field(gt=0)] = 60.0
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    retry_delay_s: Annotated[float, Field(gt=0)] = 1.0  # doubled after each failed try, with jitter
    down_after: Annotated[int, Field(ge=1)] = 3  # failed polls in a row before the feed is down
    headers: dict[str, str] = Field(default_factory=dict)
    auth_env: str | None = None  # the variable holding the Authorization header's value; never the secret itself
    next_page: str | None = None  # JMESPath to the next page's URL in a JSON response
    max_pages: Annotated[int, Field(ge=1)] = 20

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", DEMO_SOURCES)):
            raise ValueError("an http feed needs a 'url' starting with http:// or https://")
        return value

    @property
    def from_demo(self) -> bool:
        """Whether the demo city's simulator serves this feed."""
        return self.url.startswith(DEMO_SOURCES)


def demo_url(feed: HttpFeedSettings, sources) -> HttpFeedSettings:
    """The feed with a `{demo}/…` URL pointed at the demo city's HTTP sources (a SourceServer)."""
    if not feed.from_demo:
        return feed
    return feed.model_copy(update={"url": sources.url + feed.url[len(DEMO_SOURCES) - 1 :]})


class FetchFailed(Exception):
    """One poll could not get the data; the message is the reason, safe to show."""


class HttpPoller:
    def __init__(
        self,
        settings: HttpFeedSettings,
        *,
        writer: Writer,
        regions: RegionIndex,
        store: Store,
        limits: Limits | None = None,
    ):
        self.settings = settings
        self.feed = FeedDecoding.from_settings(settings, limits)
        self.writer, self.regions, self.store = writer, regions, store
        # Set when CityOps stops: a poll under way (waiting between retries, say) ends without a verdict, since its
        # failure would be the stop's, not the source's, and the store it would be written to is closing.
        self.stopping = threading.Event()
        self.next_page = jmespath.compile(settings.next_page) if settings.next_page else None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.failures = 0

    def stop(self) -> None:
        self.stopping.set()

    def poll(self) -> None:
        """One poll (the scheduler calls this every `interval_s`)."""
        url: str | None = self.settings.url
        pages = 0
        try:
            while url and pages < self.settings.max_pages:
                status, body, headers = self._fetch(url, conditional=pages == 0)
                if self.stopping.is_set():
                    return
                if pages == 0:
                    self._answered()
                if status in (204, 304):  # nothing (new) to say
                    break
                if pages == 0:
                    self.etag = headers.get("ETag") or self.etag
                    self.last_modified = headers.get("Last-Modified") or self.last_modified
                self.writer.put(self.feed.envelope(url, body, datetime.now(UTC), self.regions))
                if isinstance(body, Oversize):
                    break  # the link to the next page, if any, is in what was not read
                pages += 1
                url = self._next(body)
        except FetchFailed as exc:
            if self.stopping.is_set():
                return
            self.failures += 1
            down = self.failures >= self.settings.down_after
            reason = f"{exc} ({self.failures} failed poll{'s' if self.failures > 1 else ''} in a row)"
            log.warning("feed %s: %s", self.settings.id, reason)
            health.record(self.store, [self.settings.id], FeedEvent.POLLS_FAILED if down else FeedEvent.POLL_FAILED,
                          reason)  # fmt: skip

    def _answered(self) -> None:
        """The source answered: reachable again, and alive even if unchanged (304). Recorded before the data goes
        to the writer, so the writer's verdict on the data (ok, or degraded when it cannot be decoded) is the last."""
        event = FeedEvent.POLL_RECOVERED if self.failures else FeedEvent.ANSWERED
        health.record(self.store, [self.settings.id], event, heard=True)
        self.failures = 0

    def _headers(self, conditional: bool) -> dict[str, str]:
        headers = {"User-Agent": "CityOps", **self.settings.headers}
        if self.settings.auth_env:
            secret = os.environ.get(self.settings.auth_env)
            if not secret:
                raise FetchFailed(f"the variable {self.settings.auth_env} that holds the credentials is not set")
            headers["Authorization"] = secret
        if conditional and self.etag:
            headers["If-None-Match"] = self.etag
        if conditional and self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def _fetch(self, url: str, conditional: bool) -> tuple[int, bytes | Oversize, dict[str, str]]:
        headers = self._headers(conditional)
        delay = self.settings.retry_delay_s
        reason = ""
        for attempt in range(self.settings.retries + 1):
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                    return response.status, self._read(response), dict(response.headers)
            except urllib.error.HTTPError as exc:
                if exc.code == 304:
                    return 304, b"", dict(exc.headers)
                reason = f"HTTP {exc.code} {exc.reason}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # asking again will not help
            except TimeoutError:
                reason = f"no answer within {self.settings.timeout_s:g} s"
            except urllib.error.URLError as exc:
                timed_out = isinstance(exc.reason, TimeoutError)
                reason = f"no answer within {self.settings.timeout_s:g} s" if timed_out else f"{exc.reason}"
            except OSError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt < self.settings.retries:
                # jitter: pollers of one source do not stampede; a stop ends the wait
                if self.stopping.wait(delay * (0.5 + random.random())):
                    break
                delay = min(delay * 2, 60.0)
        raise FetchFailed(reason)

    def _read(self, response: HTTPResponse) -> bytes | Oversize:
        """The body, or of one over the feed's limit only as much as its dead letter keeps: a source must not make
        CityOps hold more than the limit in memory, nor read an endless answer."""
        limit = self.feed.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return Oversize(response.read(self.feed.limits.dead_letter_kb * 1024), int(declared))
        body = response.read(limit + 1)  # a Content-Length may be missing (chunked) or wrong
        return Oversize(body, None) if len(body) > limit else body

    def _next(self, body: bytes) -> str | None:
        if self.next_page is None:
            return None
        try:
            found = self.next_page.search(orjson.loads(body))
        except orjson.JSONDecodeError:
            return None
        return found if isinstance(found, str) and found.startswith(("http://", "https://")) else None


def start(feeds: list[HttpFeedSettings], wiring: Wiring) -> list[HttpPoller]:
    """A poller per feed on the scheduler, polling at once and then every `interval_s`; stopping a poller ends the
    poll under way, the scheduler's shutdown the next ones."""
    pollers = []
    for feed in feeds:
        poller = HttpPoller(demo_url(feed, wiring.demo_sources), writer=wiring.writer, regions=wiring.regions,
                            store=wiring.store, limits=wiring.limits)  # fmt: skip
        wiring.scheduler.add_job(poller.poll, "interval", seconds=feed.interval_s, id=f"poll-{feed.id}",
                                 next_run_time=datetime.now(UTC), max_instances=1, coalesce=True)  # fmt: skip
        pollers.append(poller)
    return pollers
