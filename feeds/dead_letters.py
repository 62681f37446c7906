"""Dead letters: listing them, and replaying one through its feed's current decoding once the feed is fixed.

A replay decodes the stored raw bytes exactly as ingest would now (same FeedDecoding, same normalization) and
hands the records to the writer; the dead letter is marked replayed only after the writer has committed them, so
a replay that is interrupted can simply be tried again (the writer drops what it already has). A payload that
still cannot be decoded stays a dead letter, with the new reason beside the old one. So does one whose raw bytes
were cut to `[limits] dead_letter_kb` (its reason says so): what is left might decode into part of its records, and
only the source has the rest. The feed's current limits apply to a replay as to any message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from feeds.decoding import FeedDecoding, was_cut
from layers.regions import RegionIndex
from store.database import Store, frame, records
from store.writer import Writer


@dataclass(frozen=True)
class ReplayResult:
    outcome: str  # stored | undecodable | unconfirmed
    counts: tuple[int, int, int] = (0, 0, 0)  # entities, observations, events
    reason: str = ""  # the decoder's reason when still undecodable


class ReplayError(Exception):
    """The replay could not be attempted: `code` is missing | replayed | unconfigured (the page words it)."""

    def __init__(self, code: str, dead_letter_id: int, feed_id: str = ""):
        super().__init__(f"dead letter {dead_letter_id} {feed_id}: {code}")
        self.code, self.dead_letter_id, self.feed_id = code, dead_letter_id, feed_id


def recent(store: Store, feed_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The latest dead letters, newest first, without their raw bytes (those are read one at a time)."""
    where = "WHERE feed_id = $feed" if feed_id else ""
    return frame(
        store.cursor(),
        f"SELECT id, ts, feed_id, source, reason, octet_length(raw) AS size, replayed_at, replay_note "
        f"FROM dead_letters {where} ORDER BY ts DESC, id DESC LIMIT $n",
        {"n": limit, **({"feed": feed_id} if feed_id else {})},
    )


def get(store: Store, dead_letter_id: int) -> dict | None:
    cur = store.cursor()
    cur.execute(
        "SELECT id, ts, feed_id, source, reason, raw, replayed_at, replay_note FROM dead_letters WHERE id = $id",
        {"id": dead_letter_id},
    )
    rows = records(cur)
    return rows[0] if rows else None


def replay(
    store: Store,
    writer: Writer,
    feeds: dict[str, FeedDecoding],
    regions: RegionIndex,
    dead_letter_id: int,
    timeout_s: float = 10.0,
) -> ReplayResult:
    letter = get(store, dead_letter_id)
    if letter is None:
        raise ReplayError("missing", dead_letter_id)
    if letter["replayed_at"] is not None:
        raise ReplayError("replayed", dead_letter_id, letter["feed_id"])
    feed = feeds.get(letter["feed_id"])
    if feed is None:
        raise ReplayError("unconfigured", dead_letter_id, letter["feed_id"])
    if was_cut(letter["reason"]):
        reason = "only the first bytes of this payload were kept; the source must send it again"
        _note(store, dead_letter_id, None, f"not replayed: {reason}")
        return ReplayResult("undecodable", reason=reason)
    now = datetime.now(UTC)
    committed = threading.Event()
    envelope = feed.envelope(letter["source"], bytes(letter["raw"]), now, regions, ack=committed.set)
    if envelope.dead_letter is not None:
        _note(store, dead_letter_id, None, f"still not decodable: {envelope.dead_letter.reason}")
        return ReplayResult("undecodable", reason=envelope.dead_letter.reason)
    # The envelope is written like any message (its ack fires after the commit); the letter is not stored again.
    writer.put(envelope)
    if not committed.wait(timeout_s):
        return ReplayResult("unconfirmed")
    stored = envelope.records
    counts = (len(stored.entities), len(stored.observations), len(stored.events))
    note = f"stored {counts[0]} entities, {counts[1]} observations, {counts[2]} events"
    _note(store, dead_letter_id, now, note)
    return ReplayResult("stored", counts)


def _note(store: Store, dead_letter_id: int, replayed_at: datetime | None, note: str) -> None:
    store.cursor().execute(
        "UPDATE dead_letters SET replayed_at = $at, replay_note = $note WHERE id = $id",
        {"at": replayed_at, "note": note[:1000], "id": dead_letter_id},
    )
    store.bump_version("feeds")
