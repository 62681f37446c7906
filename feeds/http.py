"""HTTP polling: fetch a URL on an interval, decode what comes back, and say plainly when the source is sick.

Like a Home Assistant coordinator: a failed fetch changes the feed's health (degraded, then down after
`down_after` failed polls in a row), never shows stale data as current. Each poll tries `retries` more times with
exponential backoff and jitter; 4xx answers other than 408/429 are not retried. `ETag` / `Last-Modified` are sent
back, so an unchanged source costs a 304; a 204 (nothing in force) is an answer too. JSON responses can be followed
page by page (`next_page` is a JMESPath to the next URL). Credentials come from an environment variable and never
appear in a reason or a log.
"""

from __future__ import annotations

import logging
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import jmespath
import orjson

from feeds import health
from feeds.decoding import FeedDecoding
from layers.regions import RegionIndex
from store.database import Store
from store.feed_health import FeedEvent
from store.writer import Writer

log = logging.getLogger(__name__)


class FetchFailed(Exception):
    """One poll could not get the data; the message is the reason, safe to show."""


class HttpPoller:
    def __init__(
        self,
        settings,
        *,
        writer: Writer,
        regions: RegionIndex,
        store: Store,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.feed = FeedDecoding.from_settings(settings)
        self.writer, self.regions, self.store, self.sleep = writer, regions, store, sleep
        self.next_page = jmespath.compile(settings.next_page) if settings.next_page else None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.failures = 0

    def poll(self) -> None:
        """One poll (the scheduler calls this every `interval_s`)."""
        url: str | None = self.settings.url
        pages = 0
        try:
            while url and pages < self.settings.max_pages:
                status, body, headers = self._fetch(url, conditional=pages == 0)
                if pages == 0:
                    self._answered()
                if status in (204, 304):  # nothing (new) to say
                    break
                if pages == 0:
                    self.etag = headers.get("ETag") or self.etag
                    self.last_modified = headers.get("Last-Modified") or self.last_modified
                self.writer.put(self.feed.envelope(url, body, datetime.now(UTC), self.regions))
                pages += 1
                url = self._next(body)
        except FetchFailed as exc:
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

    def _fetch(self, url: str, conditional: bool) -> tuple[int, bytes, dict[str, str]]:
        headers = self._headers(conditional)
        delay = self.settings.retry_delay_s
        reason = ""
        for attempt in range(self.settings.retries + 1):
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                    return response.status, response.read(), dict(response.headers)
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
                self.sleep(delay * (0.5 + random.random()))  # jitter: pollers of one source do not stampede
                delay = min(delay * 2, 60.0)
        raise FetchFailed(reason)

    def _next(self, body: bytes) -> str | None:
        if self.next_page is None:
            return None
        try:
            found = self.next_page.search(orjson.loads(body))
        except orjson.JSONDecodeError:
            return None
        return found if isinstance(found, str) and found.startswith(("http://", "https://")) else None
