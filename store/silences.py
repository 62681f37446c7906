"""Silences in the store: SQL only; who may silence what is decided in alerts/silences.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.alerts import Cursor
from store.database import records


def insert(cur: Cursor, fields: dict[str, Any]) -> int:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    return cur.execute(
        f"INSERT INTO silences ({columns}) VALUES ({marks}) RETURNING id", list(fields.values())
    ).fetchone()[0]


def get(cur: Cursor, silence_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM silences WHERE id = ?", [silence_id])
    rows = records(cur)
    return rows[0] if rows else None


def in_force(cur: Cursor, now: datetime) -> list[dict[str, Any]]:
    """The silences neither ended by someone nor past their end, oldest first."""
    cur.execute("SELECT * FROM silences WHERE ended_at IS NULL AND ends_at > ? ORDER BY id", [now])
    return records(cur)


def end(cur: Cursor, silence_id: int, by: str, now: datetime) -> None:
    cur.execute("UPDATE silences SET ended_at = ?, ended_by = ? WHERE id = ?", [now, by, silence_id])
