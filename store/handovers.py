"""Shift handovers (交接班) in the store: SQL only; what a shift's report holds is supervision/handover.py's."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from store.alerts import Cursor
from store.database import records


def insert(cur: Cursor, desk: str, shift_start: datetime, shift_end: datetime, handed_by: str, notes: str,
           report: dict) -> int:  # fmt: skip
    row = cur.execute(
        "INSERT INTO handovers (desk, shift_start, shift_end, handed_by, notes, report) VALUES (?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        [desk, shift_start, shift_end, handed_by, notes, json.dumps(report, ensure_ascii=False)],
    ).fetchone()
    return row[0]


def get(cur: Cursor, handover_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM handovers WHERE id = ?", [handover_id])
    rows = _parsed(records(cur))
    return rows[0] if rows else None


def of_desk(cur: Cursor, desk: str, limit: int = 20) -> list[dict[str, Any]]:
    """The desk's handovers, newest first."""
    cur.execute("SELECT * FROM handovers WHERE desk = ? ORDER BY shift_end DESC, id DESC LIMIT ?", [desk, limit])
    return _parsed(records(cur))


def take(cur: Cursor, handover_id: int, taken_by: str, note: str, now: datetime) -> bool:
    """Sign a handover over to `taken_by`; False when someone already had."""
    row = cur.execute(
        "UPDATE handovers SET taken_by = ?, taken_at = ?, taken_note = ? WHERE id = ? AND taken_by IS NULL "
        "RETURNING id",
        [taken_by, now, note, handover_id],
    ).fetchone()
    return row is not None


def _parsed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["report"] = json.loads(row["report"]) if isinstance(row["report"], str) else row["report"]
    return rows
