"""The running server's control socket: how `cityops backup` reaches the one process that may open the store.

A Unix socket beside the store file, mode 600: whoever may read the store may ask for a copy of it, nobody else.
One request per connection, a line of JSON each way. The socket is bound through /proc/self/fd so that a long
store path does not meet the 108-byte limit of a socket address.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

Handler = Callable[[dict], dict]


def socket_path(store_path: Path) -> Path:
    return Path(f"{store_path}.control")


@contextmanager
def _short_address(path: Path):
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class ControlServer:
    def __init__(self, path: Path, commands: dict[str, Handler]):
        self.path = path
        self.commands = commands
        self._server: socketserver.UnixStreamServer | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)  # left by a process that was killed
        commands = self.commands

        class Request(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    request = json.loads(self.rfile.readline())
                    handler = commands.get(request.get("command"))
                    answer = handler(request) if handler else {"error": f"unknown command {request.get('command')!r}"}
                except Exception as exc:  # the asker gets the reason; the server goes on
                    log.exception("control request failed")
                    answer = {"error": str(exc)}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

        with _short_address(self.path) as address:
            # Created 600 from the start: a chmod after bind would leave a moment in which anyone could connect.
            old_umask = os.umask(0o177)
            try:
                self._server = socketserver.ThreadingUnixStreamServer(address, Request)
            finally:
                os.umask(old_umask)
        threading.Thread(target=self._server.serve_forever, name="cityops-control", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self.path.unlink(missing_ok=True)


def ask(path: Path, request: dict, timeout: float = 3600) -> dict | None:
    """Send a request to the running server; None when no server listens there."""
    if not path.exists():
        return None
    with _short_address(path) as address, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            return None  # a socket file left behind by a server that is gone
        sock.settimeout(timeout)
        sock.sendall(json.dumps(request).encode() + b"\n")
        with sock.makefile("rb") as answer:
            return json.loads(answer.readline())
