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


def get(cur: Cursor, report_id: int, scope: frozenset[str] | None) -> dict[str, Any] | None:
    """A report, if its centre's region is in `scope` (None: any report, the city's too)."""
    where, params = _in(scope)
    cur.execute(f"SELECT * FROM reports WHERE id = ? AND {where}", [report_id, *params])
    rows = records(cur)
    return rows[0] if rows else None


def in_scope(cur: Cursor, scope: frozenset[str] | None, limit: int) -> list[dict[str, Any]]:
    """The newest reports of the centres whose region is in `scope` (None: every report, the city's too)."""
    where, params = _in(scope)
    cur.execute(f"SELECT * FROM reports WHERE {where} ORDER BY period_end DESC, id DESC LIMIT ?", [*params, limit])
    return records(cur)


def _in(scope: frozenset[str] | None) -> tuple[str, list]:
    return ("TRUE", []) if scope is None else ("list_contains(?, region_id)", [sorted(scope)])
