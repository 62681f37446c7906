"""50 dashboard clients refreshing every 2 s, against one: what the server's answers cost when many screens watch.

`cityops run --demo` runs as its own process with its simulator publishing readings at `rate` a second, so the
data changes between nearly every two refreshes and each one is answered in full. Each client is a wall as its
browser runs it, without the drawing: signed in with the demo's display link, it posts the wall's refresh callback
every 2 s (its first at a random offset) with the snapshot key and layer keys its last answer gave it, over a
keep-alive connection, and fetches a point layer again (with If-None-Match, gzip) when the answer names a new URL.
The time is from sending a request to having read the whole answer.
"""

from __future__ import annotations

import gzip
import http.client
import http.cookiejar
import json
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.server import Server, percentile
from dashboard.guard import CSRF_COOKIE
from tests.harness import callback_body, cookie, display_session

PERIOD_S = 2.0
REFRESH_INPUT = ("wall-tick", "n_intervals")


@dataclass
class Tally:
    callback_ms: list[float] = field(default_factory=list)
    layer_ms: list[float] = field(default_factory=list)
    answered_in_full: int = 0
    errors: list[str] = field(default_factory=list)


class WallClient:
    """One wall's HTTP conversation with the server, as its Dash renderer has it."""

    def __init__(self, server: Server, spec: dict):
        _opener, jar = display_session(server.web_port)
        self.cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
        self.csrf = cookie(jar, CSRF_COOKIE)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.web_port, timeout=30)
        self.spec = spec
        self.values: dict[str, object] = {"wall-lang.data": "en", "wall-layer-keys.data": {}}
        self.etags: dict[str, str] = {}
        self.n = 0

    def dependencies(self) -> list[dict]:
        """Every callback of the app, as the renderer asks for them (the wall's refresh is one)."""
        response, data, _ms = self._exchange("GET", "/_dash-dependencies")
        if response.status != 200:
            raise RuntimeError(f"/_dash-dependencies answered {response.status}")
        return json.loads(gzip.decompress(data) if response.getheader("Content-Encoding") == "gzip" else data)

    def _body(self) -> bytes:
        self.n += 1
        self.values["wall-tick.n_intervals"] = self.n
        return callback_body(self.spec, self.values, ["wall-tick.n_intervals"])

    def _exchange(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        began = time.perf_counter()
        self.connection.request(method, path, body=body, headers={"Cookie": self.cookies,
                                "Accept-Encoding": "gzip", **(headers or {})})  # fmt: skip
        response = self.connection.getresponse()
        data = response.read()
        return response, data, (time.perf_counter() - began) * 1000

    def refresh(self, tally: Tally) -> None:
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.csrf}
        response, data, ms = self._exchange("POST", "/_dash-update-component", self._body(), headers)
        tally.callback_ms.append(ms)
        if response.status == 204:  # nothing new since this client's last answer
            return
        if response.status != 200:
            tally.errors.append(f"refresh answered {response.status}")
            return
        tally.answered_in_full += 1
        answer = json.loads(gzip.decompress(data) if response.getheader("Content-Encoding") == "gzip" else data)
        answer = answer["response"]
        self.values["wall-seen.data"] = answer["wall-seen"]["data"]
        self.values["wall-layer-keys.data"] = answer["wall-layer-keys"]["data"]
        if "wall-pin" in answer:
            self.values["wall-pin.data"] = answer["wall-pin"]["data"]
        for component, props in answer.items():
            url = props.get("url") if component.startswith("wall-points-") or component == "wall-alerts" else None
            if url:
                self._layer(url.split("?")[0], tally)

    def _layer(self, path: str, tally: Tally) -> None:
        etag = self.etags.get(path)
        response, _data, ms = self._exchange("GET", path, headers={"If-None-Match": etag} if etag else None)
        tally.layer_ms.append(ms)
        if response.status not in (200, 304):
            tally.errors.append(f"{path} answered {response.status}")
        elif response.getheader("ETag"):
            self.etags[path] = response.getheader("ETag")


def _watch(server: Server, spec: dict, clients: int, seconds: float, seed: int) -> Tally:
    tally = Tally()
    lock = threading.Lock()
    walls = [WallClient(server, spec) for _ in range(clients)]
    rng = random.Random(seed)
    began = time.perf_counter() + 0.5

    def run(wall: WallClient, offset: float) -> None:
        mine = Tally()
        due = began + offset
        while due < began + seconds:
            time.sleep(max(0.0, due - time.perf_counter()))
            try:
                wall.refresh(mine)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                mine.errors.append(f"{type(exc).__name__}: {exc}")
                wall.connection.close()
            due += PERIOD_S
        with lock:
            tally.callback_ms.extend(mine.callback_ms)
            tally.layer_ms.extend(mine.layer_ms)
            tally.answered_in_full += mine.answered_in_full
            tally.errors.extend(mine.errors)

    threads = [threading.Thread(target=run, args=(w, rng.uniform(0, PERIOD_S))) for w in walls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def _summary(t: Tally) -> str:
    return (f"p50 {statistics.median(t.callback_ms or [0]):.0f} ms, p95 {percentile(t.callback_ms, 0.95):.0f} ms, "
            f"p99 {percentile(t.callback_ms, 0.99):.0f} ms over {len(t.callback_ms):,} refreshes "
            f"({t.answered_in_full:,} answered in full), layer fetches p95 {percentile(t.layer_ms, 0.95):.0f} ms "
            f"({len(t.layer_ms):,}), {len(t.errors)} errors")  # fmt: skip


def run(clients: int = 50, entities: int = 2_400, rate: int = 1_000, seconds: float = 60) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), entities, rate)
        try:
            server.wait_for_devices(int(0.9 * entities))  # a few percent are the bureaus', not simulated
            dependencies = WallClient(server, spec={}).dependencies()
            spec = next(d for d in dependencies if {"id": REFRESH_INPUT[0], "property": REFRESH_INPUT[1]}
                        in [{"id": i["id"], "property": i["property"]} for i in d["inputs"]])  # fmt: skip
            one = _watch(server, spec, 1, seconds / 2, seed=1)
            many = _watch(server, spec, clients, seconds, seed=2)
        finally:
            server.stop()
    full = (clients, entities, rate) == (50, 2_400, 1_000) and seconds >= 60
    p95 = percentile(many.callback_ms, 0.95)
    return {
        "name": f"{clients} dashboard clients refreshing every 2 s",
        "figure": f"refresh {_summary(many)}" + (f"; first error: {many.errors[0]}" if many.errors else ""),
        "target": "server p95 ≤ 200 ms, no errors",
        "met": (p95 <= 200 and not many.errors) if full else None,
        "baseline": f"1 client: refresh {_summary(one)}",
        "ratio": f"p95 {p95 / max(percentile(one.callback_ms, 0.95), 0.1):.1f}× the single client's",
        "how": f"`cityops run --demo` with {entities:,} simulated devices publishing {rate:,} readings/s; {clients} "
        "HTTP clients in one process, each a wall signed in with the display link, posting the wall's refresh "
        f"callback every {PERIOD_S:.0f} s (random phase) with the keys its last answer gave it, on a keep-alive "
        "connection, and fetching a point layer when its URL changed (If-None-Match, gzip); the single client "
        f"for {seconds / 2:.0f} s, then {clients} for {seconds:.0f} s; time from sending to the whole answer read",
    }


if __name__ == "__main__":
    print(run())
