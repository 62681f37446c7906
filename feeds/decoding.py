"""One feed's way from raw bytes to records, whatever the transport: decoder, CRS, time zone, sentinels, units and
metric names.

MQTT, HTTP and file feeds all hand their payloads to `FeedDecoding.envelope`, so a payload decodes the same way
whichever way it came, and `cityops feeds check` and the dead-letter replay use exactly what ingest uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from feeds.decoders import DECODERS, DecodeError, Decoder, Message
from feeds.normalize import normalize
from feeds.settings import FeedBase
from layers.crs import Converter, to_wgs84
from layers.regions import RegionIndex
from store.records import DeadLetter
from store.writer import Envelope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedDecoding:
    id: str
    decoder: Decoder
    to_wgs84: Converter
    time_zone: tzinfo | None = None  # for times without an offset; None: the decoder's documented zone, or refuse
    sentinels: frozenset[float] = frozenset()
    units: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, feed: FeedBase) -> FeedDecoding:
        decoder = DECODERS[feed.decoder](feed)
        units = {name: (u.to, u.factor, u.offset) for name, u in feed.units.items()}
        zone = ZoneInfo(feed.time_zone) if feed.time_zone else None
        return cls(feed.id, decoder, to_wgs84(feed.crs), zone, frozenset(feed.sentinels), units, dict(feed.metrics))

    def envelope(
        self,
        source: str,
        payload: bytes,
        received_at: datetime,
        regions: RegionIndex,
        ack: Callable[[], None] | None = None,
    ) -> Envelope:
        """Decode and normalize one message; whatever goes wrong becomes a dead letter with the reason."""
        message = Message(self.id, source, payload, received_at, self.time_zone)
        try:
            records = normalize(self.decoder(message), self.to_wgs84, regions, self.sentinels, self.units, self.metrics)
        except DecodeError as exc:
            reason = str(exc)
        except Exception as exc:  # a decoder bug must not stop the feed either
            log.exception("decoder of feed %s failed on %s", self.id, source)
            reason = f"decoder failed: {type(exc).__name__}: {exc}"
        else:
            return Envelope(self.id, received_at, records=records, ack=ack)
        dead = DeadLetter(received_at, self.id, source, reason[:1000], bytes(payload))
        return Envelope(self.id, received_at, dead_letter=dead, ack=ack)
