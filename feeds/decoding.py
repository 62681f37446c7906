"""One feed's way from raw bytes to records, whatever the transport: size limits, decoder, CRS, time zone,
sentinels, units, metric names, plausibility, and the lengths of names and texts.

MQTT, HTTP and file feeds all hand their payloads to `FeedDecoding.envelope`, so a payload decodes the same way
whichever way it came, and `cityops feeds check` and the dead-letter replay use exactly what ingest uses.

Sizes come from the `[limits]` table (store/limits.py). A payload over its transport's limit is refused before it is
decoded; a transport that stops reading at the limit hands over what it read as an Oversize. Every dead letter keeps
at most `dead_letter_kb` of its raw bytes; one that was cut says so in its reason, with the sha256 an operator
matches against the source, and is not replayed (a cut payload may still decode, into part of its records).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from zoneinfo import ZoneInfo

from feeds import field_lengths
from feeds.decoders import DECODERS, DecodeError, Decoder, Message
from feeds.normalize import normalize
from feeds.plausibility import Plausibility, PlausibleSettings
from feeds.settings import FeedBase
from layers.crs import Converter, to_wgs84
from layers.regions import RegionIndex
from store.limits import Limits
from store.records import DeadLetter
from store.writer import Envelope

log = logging.getLogger(__name__)
# In the reason of a dead letter whose raw bytes were cut; the replay looks for it.
CUT = "the dead letter keeps only its first"
_UNITS = {"kb": 1024, "mb": 1024 * 1024}


@dataclass(frozen=True)
class Oversize:
    """What a transport read of a payload over its limit before it stopped: the first bytes, and the whole size when
    the source said it (None: it did not, and reading stopped just past the limit)."""

    head: bytes
    size: int | None


def limit_bytes(limits: Limits, key: str) -> int:
    """A size of the [limits] table in bytes; its key ends with its unit (`mqtt_message_kb`, `feed_document_mb`)."""
    return getattr(limits, key) * _UNITS[key.rsplit("_", 1)[1]]


def was_cut(reason: str) -> bool:
    """Whether a dead letter with this reason kept only part of its payload."""
    return CUT in reason


@dataclass(frozen=True)
class FeedDecoding:
    id: str
    decoder: Decoder
    to_wgs84: Converter
    time_zone: tzinfo | None = None  # for times without an offset; None: the decoder's documented zone, or refuse
    sentinels: frozenset[float] = frozenset()
    units: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    payload_limit: str = FeedBase.payload_limit  # the key of `limits` that bounds one payload of this feed
    plausibility: Plausibility = field(default_factory=lambda: Plausibility(PlausibleSettings()))

    @classmethod
    def from_settings(cls, feed: FeedBase, limits: Limits | None = None) -> FeedDecoding:
        """The feed's decoding, held to `limits` (the configuration's; the defaults when not given) and to the
        payload limit its transport's settings name."""
        decoder = DECODERS[feed.decoder](feed)
        units = {name: (u.to, u.factor, u.offset) for name, u in feed.units.items()}
        zone = ZoneInfo(feed.time_zone) if feed.time_zone else None
        return cls(feed.id, decoder, to_wgs84(feed.crs), zone, frozenset(feed.sentinels), units, dict(feed.metrics),
                   limits or Limits(), feed.payload_limit, Plausibility(feed.plausible))  # fmt: skip

    @cached_property
    def max_bytes(self) -> int:
        """The most one payload of this feed may hold, in bytes."""
        return limit_bytes(self.limits, self.payload_limit)

    def envelope(
        self,
        source: str,
        payload: bytes | Oversize,
        received_at: datetime,
        regions: RegionIndex,
        ack: Callable[[], None] | None = None,
    ) -> Envelope:
        """Decode and normalize one message; whatever goes wrong becomes a dead letter with the reason."""
        if isinstance(payload, Oversize):
            return self._oversize(source, payload.head, payload.size, received_at, ack)
        if len(payload) > self.max_bytes:
            return self._oversize(source, payload, len(payload), received_at, ack)
        message = Message(self.id, source, payload, received_at, self.time_zone)
        try:
            decoded = normalize(self.decoder(message), self.to_wgs84, regions, self.sentinels, self.units, self.metrics)
            decoded.suspect = self.plausibility.check(decoded)
            records = field_lengths.check(decoded, self.limits)
        except DecodeError as exc:
            reason = str(exc)
        except Exception as exc:  # a decoder bug must not stop the feed either
            log.exception("decoder of feed %s failed on %s", self.id, source)
            reason = f"decoder failed: {type(exc).__name__}: {exc}"
        else:
            return Envelope(self.id, received_at, records=records, ack=ack)
        return self.dead_letter(source, payload, reason, received_at, ack)

    def dead_letter(
        self,
        source: str,
        payload: bytes,
        reason: str,
        received_at: datetime,
        ack: Callable[[], None] | None = None,
        whole: bool = True,
    ) -> Envelope:
        """A dead letter of this feed keeping at most `dead_letter_kb` of `payload`; `whole` False: `payload` is only
        what was read of a bigger one. A cut letter's reason says so, with the sha256 of what was read."""
        keep = self.limits.dead_letter_kb * 1024
        if len(payload) > keep or not whole:
            of = "the whole payload" if whole else f"the {len(payload):,} bytes read"
            digest = hashlib.sha256(payload).hexdigest()
            note = f"{CUT} {min(keep, len(payload)):,} bytes (limits.dead_letter_kb); sha256 of {of}: {digest}"
            reason, payload = f"{reason[: 1000 - len(note) - 2]}; {note}", payload[:keep]
        dead = DeadLetter(received_at, self.id, source, reason[:1000], bytes(payload))
        return Envelope(self.id, received_at, dead_letter=dead, ack=ack)

    def _oversize(
        self, source: str, head: bytes, size: int | None, received_at: datetime, ack: Callable[[], None] | None
    ) -> Envelope:
        """A payload over its limit, refused without being decoded."""
        limit = self.max_bytes
        said = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes (reading stopped there)"
        reason = f"payload is {said}; the limit is {limit:,} (limits.{self.payload_limit})"
        return self.dead_letter(source, head, reason, received_at, ack, whole=size == len(head))
