"""`cityops run --demo` as its own process, for the benchmarks that measure it from outside: its ports, its RSS
sampled every half second (and DuckDB's part of it, from its health, every two), and a signed-in HTTP session to ask
its health. The demo city's messages come from `cityops simulate`, a process of its own, as a city's systems would
send them: the load generator does not share the interpreter it loads."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cityops.broker import free_port, wait_for_port
from cityops.control import ask
from cityops.control import socket_path as control_socket
from dashboard.health import resident_mb
from tests.harness import CHROMIUM, CHROMIUM_ARGS, ROOT, http_session


class Server:
    def __init__(self, folder: Path, entities: int, rate: int, env: dict | None = None, start_timeout_s: float = 300):
        """The demo city with `entities` simulated devices publishing `rate` readings a second, its store, accounts
        and broker in `folder`; `env`: CITYOPS_* settings of the benchmark's own."""
        self.folder = folder
        self.web_port, self.mqtt_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ,
            "CITYOPS_STORE__PATH": str(folder / "cityops.duckdb"),
            "CITYOPS_AUTH__PATH": str(folder / "accounts.sqlite"),
            "CITYOPS_BROKER__DATA_DIR": str(folder / "broker"),
            "CITYOPS_BROKER__KIND": "mosquitto",  # measured on the real broker; fails at start-up without it
            "CITYOPS_WEB__PORT": str(self.web_port),
            "CITYOPS_MQTT__PORT": str(self.mqtt_port),
            "CITYOPS_SIMULATOR__ENTITIES": str(entities),
            "CITYOPS_SIMULATOR__RATE": str(rate),
            "CITYOPS_SIMULATOR__PUBLISH": "false",  # `cityops simulate` publishes
            **(env or {}),
        }
        self.log = open(folder / "cityops.log", "wb")  # noqa: SIM115 — closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "cityops.cli", "run", "--demo"], cwd=ROOT,
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        self.rss_mb: list[float] = []
        self.store_mb: list[int] = []  # DuckDB's own memory, as /api/health says
        self._session = None
        self._sampling = threading.Event()
        self._sampling.set()
        threading.Thread(target=self._sample, daemon=True).start()
        threading.Thread(target=self._sample_store, daemon=True).start()
        self.simulator: subprocess.Popen | None = None
        deadline = time.monotonic() + start_timeout_s
        while not _listening(self.web_port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"cityops did not start: {(folder / 'cityops.log').read_text()[-2000:]}")
            time.sleep(0.2)
        self.simulator = subprocess.Popen([sys.executable, "-m", "cityops.cli", "simulate", "--demo"], cwd=ROOT,
                                          env=self.env, stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip

    def publisher_account(self) -> tuple[str, str]:
        """The simulator's account on the embedded broker (its passwords live in the running CityOps), for probes a
        benchmark publishes under the demo city's prefix."""
        answer = ask(control_socket(self.folder / "cityops.duckdb"), {"command": "simulator"}, timeout=10)
        if not answer or "error" in answer:
            raise RuntimeError(f"the running CityOps did not give the simulator's account: {answer}")
        return answer["username"], answer["password"]

    def health(self) -> dict:
        if self._session is None:
            self._session = http_session(self.web_port, "supervisor")[0]
        with self._session.open(f"{self.base}/api/health", timeout=30) as response:
            return json.loads(response.read())

    def wait_for_devices(self, count: int, timeout_s: float = 900) -> float:
        """Seconds until the store holds `count` devices (the simulator describes every device first)."""
        began = time.perf_counter()
        while (stored := self.health()["entities"]) < count:
            if time.perf_counter() - began > timeout_s:
                raise RuntimeError(f"only {stored:,} of {count:,} devices after {timeout_s:.0f} s")
            time.sleep(1)
        return time.perf_counter() - began

    def _sample(self) -> None:
        while self._sampling.is_set() and self.process.poll() is None:
            rss = resident_mb(self.process.pid)
            if rss is not None:
                self.rss_mb.append(rss)
            time.sleep(0.5)

    def _sample_store(self) -> None:
        session = None  # its own: the benchmark's thread uses the other
        while self._sampling.is_set() and self.process.poll() is None:
            time.sleep(2)
            try:
                session = session or http_session(self.web_port, "supervisor")[0]
                with session.open(f"{self.base}/api/health", timeout=30) as response:
                    self.store_mb.append(json.loads(response.read())["memory"]["store_mb"]["total"])
            except OSError:  # not listening yet, or stopping
                pass

    def stop(self) -> None:
        self._sampling.clear()
        for process in (self.simulator, self.process):
            if process is None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()


def _listening(port: int) -> bool:
    try:
        wait_for_port(port, timeout=0.1)
        return True
    except TimeoutError:
        return False


def percentile(values: list[float], p: float) -> float:
    """The value at fraction `p` of the sorted values (nearest rank); 0 for none."""
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


@contextlib.contextmanager
def chromium(browser=None) -> Iterator:
    """The browser to measure in: `browser` when given (the tests' own: Playwright's sync API starts once in a
    process), otherwise a headless Debian Chromium launched for the benchmark, with the tests' quiet flags."""
    if browser is not None:
        yield browser
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
