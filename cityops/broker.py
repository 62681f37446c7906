"""The demo's embedded MQTT broker: mosquitto when installed, otherwise amqtt in-process.

Both are real brokers with persistent QoS 1 sessions: mosquitto with `persistence true`, amqtt for clients that
send a username (it refuses anonymous ones, whose queues it would drop, STACK-NOTES). amqtt speaks MQTT 3.1.1 only, so
`protocol` tells the clients which version to use.

Started by CityOps (`embedded_broker`), a broker lets in only the accounts it is given, each with a password made for
this start that exists in CityOps' memory and, hashed, in the broker's data folder (mode 600); an account reads
(subscribes to) and writes (publishes to) only its own topic filters, and nobody else gets in. Without accounts a
broker is open, as the tests and benchmarks, which bring clients of their own, start it through the same classes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import hashlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from store.limits import Limits

log = logging.getLogger(__name__)

MOSQUITTO_USER = "mosquitto"  # Debian's package makes it; mosquitto started as root gives root up for it
# Per session, above those in flight. The demo streams 300 messages a second, so this holds about ten minutes of it
# for an ingest that is away (a restart) or slower than the stream for a while (a long commit): enough to catch up
# without loss, and a bound, so that a session nobody reads cannot grow the broker without end. The bytes bound the
# same queue whatever the messages' size (one may be up to limits.mqtt_message_kb).
QUEUED_MESSAGES = 200_000
QUEUED_BYTES = 256 * 1024 * 1024
# mosquitto_passwd's own count. The passwords are random (token_urlsafe, 192 bits): stretching them adds nothing.
PBKDF2_ROUNDS = 101


@dataclass(frozen=True)
class Account:
    """A client of the embedded broker: its name, a password made for this start, and the topic filters it may read
    (subscribe to) and write (publish to)."""

    username: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)  # never in a log

    def __post_init__(self) -> None:
        # The ACL file is lines of text: a topic filter must not carry a line of its own into it.
        for name in (self.username, *self.read, *self.write):
            if not name or any(c in name for c in "\r\n\0"):
                raise ValueError(f"not a user name or topic filter for the broker's ACL: {name!r}")


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


def write_private(path: Path, text: str) -> None:
    """A file only its owner may read (600), whatever the umask and whatever mode an earlier one had."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)
        file.write(text)


def blocking_folders(path: Path, user: pwd.struct_passwd) -> list[Path]:
    """The folders above `path` that `user` may not pass through. One that does not exist yet does not block:
    make_data_dir makes it passable."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    blocking = []
    for folder in path.absolute().parents:
        try:
            st = folder.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == user.pw_uid:
            passable = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            passable = st.st_mode & stat.S_IXGRP
        else:
            passable = st.st_mode & stat.S_IXOTH
        if not passable:
            blocking.insert(0, folder)
    return blocking


def make_data_dir(path: Path, passable: bool) -> None:
    """`path` (700) and the folders above it that are missing. With `passable` those are 711: mosquitto, once it has
    given root up, must pass through them to its data (the umask, 077, would shut it out); nobody may list them."""
    missing = [folder for folder in (path, *path.absolute().parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir()
        folder.chmod(0o711 if passable and folder != path else 0o700)


def broker_user(data_dir: Path) -> pwd.struct_passwd | None:
    """Whom mosquitto runs as: None when we are not root (it stays who we are, a `user` line is ignored); started as
    root, the mosquitto user if it can reach `data_dir`, else root, said in a warning with the fix."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(MOSQUITTO_USER)
    except KeyError:
        log.warning("there is no user %s: mosquitto runs as root", MOSQUITTO_USER)
        return pwd.getpwuid(0)
    blocking = " ".join(str(folder) for folder in blocking_folders(data_dir, user))
    if blocking:
        log.warning("mosquitto runs as root: user %s cannot pass through %s to its data %s (chmod o+x %s lets it)",
                    MOSQUITTO_USER, blocking, data_dir, blocking)  # fmt: skip
        return pwd.getpwuid(0)
    return user


def mosquitto_hash(password: str) -> str:
    """mosquitto 2's own password entry ($7$: PBKDF2-SHA512, as mosquitto_passwd writes it), made here so that the
    broker needs no other binary."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    return f"$7${PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_acl(accounts: Iterable[Account]) -> str:
    """mosquitto's acl_file: each account reads and writes its own filters; no line before the first `user`, so an
    anonymous client (refused anyway) could do nothing."""
    lines = ["# Made by CityOps at each start of its embedded broker: who may read and write which topics."]
    for account in accounts:
        lines.append(f"user {account.username}")
        lines += [f"topic read {topic}" for topic in account.read]
        lines += [f"topic write {topic}" for topic in account.write]
    return "\n".join(lines) + "\n"


class Mosquitto:
    protocol = "5"
    name = "mosquitto"

    def __init__(self, port: int, data_dir: Path, host: str = "127.0.0.1", secure: str = "",
                 accounts: Iterable[Account] = (), message_kb: int = Limits().mqtt_message_kb):  # fmt: skip
        """`secure`: mosquitto.conf lines for the listener (TLS files, password_file), which also end anonymous
        access; the tests of MQTT credentials and TLS use it. `accounts`: the only clients let in (the embedded
        broker's); give one or the other."""
        self.host, self.port, self.data_dir = host, port, Path(data_dir)
        self.secure = secure
        self.accounts = {a.username: a for a in accounts}
        if secure and self.accounts:
            raise ValueError("give the broker `secure` lines or accounts, not both")
        self.message_kb = message_kb
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = mosquitto_path()
        if binary is None:
            raise RuntimeError("mosquitto is not installed: sudo apt-get install mosquitto")
        user = broker_user(self.data_dir)
        make_data_dir(self.data_dir, passable=user is not None and user.pw_uid != 0)
        if self.accounts:
            entries = (f"{a.username}:{mosquitto_hash(a.password)}\n" for a in self.accounts.values())
            write_private(self.data_dir / "passwd", "".join(entries))
            write_private(self.data_dir / "acl", mosquitto_acl(self.accounts.values()))
        conf = self.data_dir / "mosquitto.conf"
        write_private(conf, self._config(user))
        self.log_file = open(self.data_dir / "mosquitto.log", "ab")  # noqa: SIM115 — closed in stop()
        if user is not None:
            # It reads its password file and ACL, and writes its persistence, after giving root up.
            for path in (self.data_dir, *self.data_dir.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
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

    def _config(self, user: pwd.struct_passwd | None) -> str:
        if self.accounts:
            access = [f"password_file {self.data_dir / 'passwd'}", f"acl_file {self.data_dir / 'acl'}"]
        else:
            access = [self.secure] if self.secure else []
        lines = [
            f"listener {self.port} {self.host}",
            *access,
            f"allow_anonymous {'false' if access else 'true'}",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "autosave_interval 5",
            # Started as root, mosquitto cannot write a log file in a folder it does not own (STACK-NOTES).
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            # The payload's bound, which is what limits.mqtt_message_kb means: a bigger message is dropped and the
            # client stays connected. 2.0 notes that it prefers max_packet_size (the whole packet, 2.1's name), which
            # ends the connection of a client that sends a bigger one.
            f"message_size_limit {self.message_kb * 1024}",
            f"max_queued_messages {QUEUED_MESSAGES}",
            f"max_queued_bytes {QUEUED_BYTES}",
            "max_inflight_messages 1000",
        ]
        if user is not None:
            lines.append(f"user {user.pw_name}")
        return "\n".join(lines) + "\n"

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
    """amqtt running on an event loop in its own thread.

    With accounts, its file authentication (argon2 hashes, the only kind it makes) and its topic ACL (`acl` for
    subscriptions, `publish_acl` for publishing) do what mosquitto's password file and ACL do. amqtt 0.12 has no
    bound on a message's size nor on a session's queue: limits.mqtt_message_kb is then ingest's alone (a bigger
    message is a dead letter), and an offline session's queue grows until ingest is back.
    """

    protocol = "3.1.1"
    name = "amqtt"

    def __init__(self, port: int, data_dir: Path, host: str = "127.0.0.1", accounts: Iterable[Account] = ()):
        self.host, self.port, self.data_dir = host, port, Path(data_dir)
        self.accounts = {a.username: a for a in accounts}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None

    def _plugins(self) -> dict:
        if not self.accounts:
            # While anonymous access is allowed amqtt marks every session anonymous, even one with a username, and
            # anonymous sessions lose their queue when offline. So: no anonymous access; our clients send a name.
            return {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}}
        from pwdlib.hashers.argon2 import Argon2Hasher

        make_data_dir(self.data_dir, passable=False)
        passwords = self.data_dir / "passwd"
        hasher = Argon2Hasher()
        write_private(passwords, "".join(f"{a.username}:{hasher.hash(a.password)}\n" for a in self.accounts.values()))
        return {
            # A client without a name gets no answer from this plugin, and amqtt refuses a client nobody vouched for.
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(passwords)},
            "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                "acl": {a.username: list(a.read) for a in self.accounts.values()},
                "publish_acl": {a.username: list(a.write) for a in self.accounts.values()},
            },
        }

    def start(self) -> None:
        from amqtt.broker import Broker

        config = {
            # amqtt binds 0.0.0.0 unless told otherwise (STACK-NOTES).
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": self._plugins(),
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


def embedded_broker(kind: str, port: int, data_dir: Path, host: str = "127.0.0.1", *, accounts: Iterable[Account],
                    message_kb: int) -> Mosquitto | PythonBroker:  # fmt: skip
    """The broker to start for `kind` (auto: mosquitto if installed), on `port` or a free one if it is taken, letting
    in `accounts` only."""
    if port == 0 or not port_is_free(port, host):
        wanted = port
        port = free_port(host)
        if wanted:
            log.warning("port %d is taken; the embedded broker listens on %d instead", wanted, port)
    if kind == "mosquitto" or (kind == "auto" and mosquitto_path()):
        return Mosquitto(port, data_dir, host, accounts=accounts, message_kb=message_kb)
    return PythonBroker(port, data_dir, host, accounts=accounts)
