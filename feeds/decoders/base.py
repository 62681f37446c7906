"""What every decoder shares: the message it reads and the one error it raises."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from feeds.records import Decoded


class DecodeError(ValueError):
    """The payload cannot be decoded; the message says why, for the dead-letter table."""


@dataclass(frozen=True, slots=True)
class Message:
    feed_id: str
    source: str  # MQTT topic, URL or file path
    payload: bytes
    received_at: datetime

    @property
    def digest(self) -> str:
        """The message id when the source gives none: a message delivered twice has the same one."""
        return hashlib.blake2b(self.source.encode() + b"\0" + self.payload, digest_size=12).hexdigest()


Decoder = Callable[[Message], Decoded]
