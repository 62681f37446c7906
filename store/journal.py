"""The journal of what each node stored (PostgreSQL), which the leader's rule engine follows.

With several nodes, each writes the batches it received, and the one rule engine, on the leader, must see them all,
once each: every batch's transaction adds an entry naming what it stored (`record`), and the leader reads the entries
after its position (`entries_after`), evaluates them, and moves its position in the transaction of what it wrote
(`advance`). Entries are read in the order of their transactions' ids, and only those older than every transaction
still running: one that began earlier but commits later is read in its turn, never skipped. A move from a position
that is no longer the stored one fails (NotLeading): two nodes that both believe they lead cannot both write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from store.records import Entity, Event

POSITION = "rules"


class NotLeading(Exception):
    """The journal's position moved under us: another node leads now."""


@dataclass(frozen=True, slots=True)
class Position:
    xact: str  # a transaction id (xid8), as text
    id: int


@dataclass(slots=True)
class Entry:
    position: Position
    described: list[str]
    touched: list[str]
    events: list[str]


def record(cur, node: str, described: list[str], touched: list[str], events: list[str]) -> None:
    cur.execute("INSERT INTO ingest_journal (node, described, touched, events) VALUES (?, ?, ?, ?)",
                [node, described, touched, events])  # fmt: skip


def position(cur) -> Position:
    xact, entry = cur.execute("SELECT xact::TEXT, id FROM journal_position WHERE name = ?", [POSITION]).fetchone()
    return Position(xact, entry)


def entries_after(cur, after: Position, limit: int = 200) -> list[Entry]:
    rows = cur.execute(
        "SELECT xact::TEXT, id, described, touched, events FROM ingest_journal "
        "WHERE (xact, id) > (CAST(? AS xid8), ?) AND xact < pg_snapshot_xmin(pg_current_snapshot()) "
        "ORDER BY xact, id LIMIT ?",
        [after.xact, after.id, limit],
    ).fetchall()
    return [
        Entry(Position(xact, entry), described, touched, events) for xact, entry, described, touched, events in rows
    ]


def advance(cur, old: Position, new: Position) -> None:
    """Move the position from `old` to `new` (in the caller's transaction), and forget the entries read."""
    moved = cur.execute(
        "UPDATE journal_position SET xact = CAST(? AS xid8), id = ? "
        "WHERE name = ? AND xact = CAST(? AS xid8) AND id = ?",
        [new.xact, new.id, POSITION, old.xact, old.id],
    ).fetchone()[0]
    if moved != 1:
        raise NotLeading(f"the journal's position is no longer {old}: another node leads")
    cur.execute("DELETE FROM ingest_journal WHERE (xact, id) <= (CAST(? AS xid8), ?)", [new.xact, new.id])


def entities(cur, ids: list[str]) -> list[Entity]:
    """The stored descriptions of these entities."""
    if not ids:
        return []
    rows = cur.execute(
        "SELECT id, feed_id, domain, kind, name, lon, lat, attributes, district_id, town_id, grid_id FROM entities "
        "WHERE id IN (SELECT unnest(?)) ORDER BY id",
        [ids],
    ).fetchall()
    return [Entity(*row[:7], json.loads(row[7]) if row[7] else {}, *row[8:]) for row in rows]


def events(cur, ids: list[str]) -> list[Event]:
    """These stored events, in the order they happened."""
    if not ids:
        return []
    rows = cur.execute(
        "SELECT id, feed_id, msg_id, domain, type, ts, lon, lat, title, description, severity, entity_id, source_ref, "
        "raw, district_id, town_id, grid_id, area, expires_at, refs, details FROM events "
        "WHERE id IN (SELECT unnest(?)) ORDER BY ts, id",
        [ids],
    ).fetchall()
    return [Event(*row[:12], row[12] or "", row[13] or "", *row[14:19], references=list(row[19] or []),
                  details=json.loads(row[20]) if row[20] else {}) for row in rows]  # fmt: skip
