"""The demo's embedded MQTT broker: mosquitto when installed, otherwise amqtt in-process.

Both are real brokers with persistent QoS 1 sessions: mosquitto with `persistence true`, amqtt for clients that
send a username (it refuses anonymous ones, whose queues it would drop, STACK-NOTES). amqtt speaks MQTT 3.1.1 only, so
`protocol` tells the clients which version to use. The test suite starts mosquitto through the same class.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
    )


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to stop it when its parent dies, so no broker outlives CityOps."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Mosquitto:
    protocol = "5"
    name = "mosquitto"

    def __init__(self, port: int, data_dir: Path, host: str = "127.0.0.1", secure: str = ""):
        """`secure`: mosquitto.conf lines for the listener (TLS files, password_file), which also end anonymous
        access; the tests of MQTT credentials and TLS use it."""
        self.host, self.port, self.data_dir = host, port, Path(data_dir)
        self.secure = secure
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = mosquitto_path()
        if binary is None:
            raise RuntimeError("mosquitto is not installed: sudo apt-get install mosquitto")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} {self.host}\n"
            + (f"{self.secure}\nallow_anonymous false\n" if self.secure else "allow_anonymous true\n")
            + "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 5\n"
            # Started as root, mosquitto cannot write a log file in a folder it does not own (STACK-NOTES).
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
            # The defaults (1000 queued) drop messages for a subscriber that is briefly slower than the stream.
            "max_queued_messages 1000000\n"
            "max_inflight_messages 1000\n"
            "user root\n"
        )
        self.log_file = open(self.data_dir / "mosquitto.log", "ab")  # noqa: SIM115 — closed in stop()
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        try:
            wait_for_port(self.port, self.host)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start; see {self.data_dir / 'mosquitto.log'}") from None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if getattr(self, "log_file", None):
            self.log_file.close()


class PythonBroker:
    """amqtt running on an event loop in its own thread."""

    protocol = "3.1.1"
    name = "amqtt"

    def __init__(self, port: int, data_dir: Path, host: str = "127.0.0.1"):
        self.host, self.port, self.data_dir = host, port, Path(data_dir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from amqtt.broker import Broker

        config = {
            # amqtt binds 0.0.0.0 unless told otherwise (STACK-NOTES).
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # While anonymous access is allowed amqtt marks every session anonymous, even one with a username, and
            # anonymous sessions lose their queue when offline. So: no anonymous access; our clients send a name.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
        }
        started = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._broker = Broker(config, loop=self._loop)
                self._loop.run_until_complete(self._broker.start())
            except BaseException as exc:  # reported to start()
                errors.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="cityops-broker", daemon=True)
        self._thread.start()
        started.wait(15)
        if errors:
            raise RuntimeError(f"the built-in broker did not start: {errors[0]}")
        if not started.is_set():
            raise RuntimeError("the built-in broker did not start within 15 s")

    def stop(self) -> None:
        if self._loop and self._broker:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(5)
            except Exception as exc:
                log.warning("built-in broker shutdown: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)


def embedded_broker(kind: str, port: int, data_dir: Path, host: str = "127.0.0.1") -> Mosquitto | PythonBroker:
    """The broker to start for `kind` (auto: mosquitto if installed), on `port` or a free one if it is taken."""
    if port == 0 or not port_is_free(port, host):
        wanted = port
        port = free_port(host)
        if wanted:
            log.warning("port %d is taken; the embedded broker listens on %d instead", wanted, port)
    if kind == "mosquitto" or (kind == "auto" and mosquitto_path()):
        return Mosquitto(port, data_dir, host)
    return PythonBroker(port, data_dir, host)
