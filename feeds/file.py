"""File and replay transport, for drills and tests: payloads from disk, at the pace they were recorded or faster.

`path` is one payload file, a folder of them (one message per file, in name order), or a JSON Lines recording
(`.jsonl`: one {"at": ISO time, "source": topic or URL, "payload": text} per line) replayed with its original
spacing divided by `speed` (0: all at once). Each message goes the same way as from any transport: decoded,
normalized, or kept as a dead letter with its reason. A file feed's own keys are in FileFeedSettings.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from feeds.decoding import FeedDecoding
from feeds.settings import FeedBase
from feeds.wiring import Wiring
from layers.regions import RegionIndex
from store.records import DeadLetter
from store.writer import Envelope, Writer

log = logging.getLogger(__name__)


class FileFeedSettings(FeedBase):
    """Payloads from disk: one file, a folder of them, or a .jsonl recording (relative to the configuration)."""

    transport: Literal["file"] = "file"
    path: Path
    speed: Annotated[float, Field(ge=0)] = 1.0  # replay N× faster than recorded; 0 = at once


class FileReplay:
    def __init__(self, settings: FileFeedSettings, *, writer: Writer, regions: RegionIndex):
        self.settings = settings
        self.feed = FeedDecoding.from_settings(settings)
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
            if isinstance(payload, str):  # a recording line that could not be read: keep it, with the reason
                self.writer.put(Envelope(self.settings.id, now, dead_letter=DeadLetter(now, self.settings.id, source,
                                                                                        payload, b"")))  # fmt: skip
            else:
                self.writer.put(self.feed.envelope(source, payload, now, self.regions))
            self.sent += 1

    def messages(self) -> Iterator[tuple[datetime | None, str, bytes | str]]:
        path = Path(self.settings.path)
        if path.is_dir():
            for item in sorted(p for p in path.iterdir() if p.is_file()):
                yield None, str(item), item.read_bytes()
        elif path.suffix == ".jsonl":
            with path.open("rb") as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        yield _recorded(line, f"{path}:{number}")
        else:
            yield None, str(path), path.read_bytes()


def _recorded(line: bytes, where: str) -> tuple[datetime | None, str, bytes | str]:
    """One recording line; a line that cannot be read comes back as its reason (a str) instead of a payload."""
    try:
        item = json.loads(line)
        at = datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
        payload = item["payload"]
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        return at, str(item.get("source", where)), data
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, where, f"recording line not readable: {type(exc).__name__}: {exc}"[:500]


def start(feeds: list[FileFeedSettings], wiring: Wiring) -> list[FileReplay]:
    """A replay thread per feed."""
    replays = [FileReplay(feed, writer=wiring.writer, regions=wiring.regions) for feed in feeds]
    for replay in replays:
        replay.start()
    return replays
