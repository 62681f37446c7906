"""File and replay transport, for drills and tests: payloads from disk, at the pace they were recorded or faster.

`path` is one payload file, a folder of them (one message per file, in name order), or a JSON Lines recording
(`.jsonl`: one {"at": ISO time, "source": topic or URL, "payload": text} per line) replayed with its original
spacing divided by `speed` (0: all at once). Each message goes the same way as from any transport: decoded,
normalized, or kept as a dead letter with its reason. `[limits] feed_document_mb` bounds each payload file, and each
line of a recording (a recording of a day may well be bigger as a whole): a file's size is looked at before it is
read, and a bigger file or line is a dead letter holding its first bytes. A file feed's own keys are in
FileFeedSettings.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

from pydantic import Field

from feeds.decoding import FeedDecoding, Oversize
from feeds.settings import FeedBase
from feeds.wiring import Wiring
from layers.regions import RegionIndex
from store.limits import Limits
from store.writer import Writer

log = logging.getLogger(__name__)


class FileFeedSettings(FeedBase):
    """Payloads from disk: one file, a folder of them, or a .jsonl recording (relative to the configuration)."""

    transport: Literal["file"] = "file"
    path: Path
    speed: Annotated[float, Field(ge=0)] = 1.0  # replay N× faster than recorded; 0 = at once


@dataclass(frozen=True)
class Unreadable:
    """A recording line that could not be read, and why."""

    line: bytes
    reason: str


class FileReplay:
    def __init__(
        self, settings: FileFeedSettings, *, writer: Writer, regions: RegionIndex, limits: Limits | None = None
    ):
        self.settings = settings
        self.feed = FeedDecoding.from_settings(settings, limits)
        self.writer, self.regions = writer, regions
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name=f"cityops-file-{settings.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def run(self) -> None:
        previous: datetime | None = None
        for at, source, payload in self.messages():
            if self._stop.is_set():
                return
            if at is not None and previous is not None and self.settings.speed > 0:
                self._stop.wait(max(0.0, (at - previous).total_seconds() / self.settings.speed))
            previous = at or previous
            now = datetime.now(UTC)
            if isinstance(payload, Unreadable):  # kept with the reason, like a payload that cannot be decoded
                self.writer.put(self.feed.dead_letter(source, payload.line, payload.reason, now))
            else:
                self.writer.put(self.feed.envelope(source, payload, now, self.regions))
            self.sent += 1

    def messages(self) -> Iterator[tuple[datetime | None, str, bytes | Oversize | Unreadable]]:
        path = Path(self.settings.path)
        if path.is_dir():
            for item in sorted(p for p in path.iterdir() if p.is_file()):
                yield None, str(item), self._read(item)
        elif path.suffix == ".jsonl":
            with path.open("rb") as lines:
                number = 0
                while line := self._line(lines):
                    number += 1
                    if isinstance(line, Oversize):
                        yield None, f"{path}:{number}", line
                    elif line.strip():
                        yield _recorded(line, f"{path}:{number}")
        else:
            yield None, str(path), self._read(path)

    def _read(self, path: Path) -> bytes | Oversize:
        """A payload file, or of one over the limit only as much as its dead letter keeps."""
        limit = self.feed.max_bytes
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                return Oversize(file.read(self.feed.limits.dead_letter_kb * 1024), size)
            body = file.read(limit + 1)  # the file may have grown since
        return Oversize(body, None) if len(body) > limit else body

    def _line(self, lines: BinaryIO) -> bytes | Oversize:
        """The next line of a recording (b"" at the end); of one over the limit only its first bytes, skipping
        the rest."""
        limit = self.feed.max_bytes
        line = lines.readline(limit + 1)
        if len(line) <= limit or line.endswith(b"\n"):
            return line
        size = len(line)
        while (rest := lines.readline(limit)) and not rest.endswith(b"\n"):
            size += len(rest)
        return Oversize(line[: self.feed.limits.dead_letter_kb * 1024], size + len(rest))


def _recorded(line: bytes, where: str) -> tuple[datetime | None, str, bytes | Unreadable]:
    """One recording line; a line that cannot be read comes back as Unreadable instead of a payload."""
    try:
        item = json.loads(line)
        at = datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
        payload = item["payload"]
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        return at, str(item.get("source", where)), data
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, where, Unreadable(line, f"recording line not readable: {type(exc).__name__}: {exc}"[:500])


def start(feeds: list[FileFeedSettings], wiring: Wiring) -> list[FileReplay]:
    """A replay thread per feed."""
    replays = [FileReplay(feed, writer=wiring.writer, regions=wiring.regions, limits=wiring.limits) for feed in feeds]
    for replay in replays:
        replay.start()
    return replays
