"""/api/wall/news: a wall waits here for the next snapshot instead of polling for it.

The wall's refresh tick (web.refresh_ms) was the longest wait of a reading on its way to the screen: half a tick on
average, a whole one at worst. Now the wall keeps one request open (assets/cityops_wall.js) that is answered as soon
as the snapshot differs from the one the wall has, and the wall refreshes at once. What changes with the clock alone
(a silent sensor turning "no data") comes this way too: while a wall waits, the snapshot is computed again at least
every AGE_LIMIT_S. The tick stays as the fallback, for a wall that cannot wait here.

Off with web.wall_news = false. Each waiting wall holds one of the web server's threads, so at most half of them
wait; a wall beyond that is answered 429 and keeps to its tick.
"""

from __future__ import annotations

import threading

import orjson
from flask import Flask, Response, request

from dashboard.snapshot import Snapshots

WAIT_S = 20.0  # well inside the idle timeouts of proxies (60 s and more), so a waiting request is not cut


def register(server: Flask, snapshots: Snapshots, threads: int) -> None:
    waiting = threading.BoundedSemaphore(max(1, threads // 2))

    @server.get("/api/wall/news")
    def wall_news():
        """`since`: the snapshot key the wall shows. Answers `{"key": …}`: a newer key, or the same after WAIT_S."""
        seen = request.args.get("since", "")[:64]
        if not waiting.acquire(blocking=False):
            body = orjson.dumps({"error": "too many walls are waiting: keep to the refresh tick"})
            return Response(body, status=429, mimetype="application/json", headers={"Retry-After": "30"})
        try:
            key = snapshots.wait_for_news(seen, WAIT_S)
        finally:
            waiting.release()
        return Response(orjson.dumps({"key": key}), mimetype="application/json")
