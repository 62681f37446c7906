"""The reports made on schedule, in the store: SQL only; what is due and what a report holds is
supervision/reports.py's."""

from __future__ import annotations

from typing import Any

from store.alerts import Cursor
from store.database import records


def made_keys(cur: Cursor) -> set[str]:
    return {key for (key,) in cur.execute("SELECT key FROM reports").fetchall()}


def id_of(cur: Cursor, key: str) -> int | None:
    row = cur.execute("SELECT id FROM reports WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def insert(cur: Cursor, fields: dict[str, Any]) -> int | None:
    """A report's row; None when one with its key was made already."""
    row = cur.execute(
        f"INSERT INTO reports ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))}) "
        "ON CONFLICT (key) DO NOTHING RETURNING id",
        list(fields.values()),
    ).fetchone()
    return None if row is None else row[0]


def get(cur: Cursor, report_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM reports WHERE id = ?", [report_id])
    rows = records(cur)
    return rows[0] if rows else None


def in_scope(cur: Cursor, scope: frozenset[str] | None, limit: int) -> list[dict[str, Any]]:
    """The newest reports of the centres whose region is in `scope` (None: every report, the city's too)."""
    if scope is None:
        cur.execute("SELECT * FROM reports ORDER BY period_end DESC, id DESC LIMIT ?", [limit])
    else:
        cur.execute("SELECT * FROM reports WHERE list_contains(?, region_id) ORDER BY period_end DESC, id DESC "
                    "LIMIT ?", [sorted(scope), limit])  # fmt: skip
    return records(cur)
