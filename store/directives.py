"""Directives and their receipts in the store: SQL only; who may send, sign or forward what is decided in
alerts/directives.py."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from store.alerts import Cursor
from store.database import records


def insert(cur: Cursor, fields: dict[str, Any]) -> int:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    sql = f"INSERT INTO directives ({columns}) VALUES ({marks}) RETURNING id"
    return cur.execute(sql, list(fields.values())).fetchone()[0]


def add_receipts(cur: Cursor, directive_id: int, receivers: list[tuple[str, str | None]]) -> None:
    for unit, person in receivers:
        cur.execute("INSERT INTO directive_receipts (directive_id, to_unit, to_person) VALUES (?, ?, ?)",
                    [directive_id, unit, person])  # fmt: skip


def get(cur: Cursor, directive_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM directives WHERE id = ?", [directive_id])
    rows = records(cur)
    return rows[0] if rows else None


def receipt(cur: Cursor, receipt_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM directive_receipts WHERE id = ?", [receipt_id])
    rows = records(cur)
    return rows[0] if rows else None


def receipts(cur: Cursor, directive_id: int) -> list[dict[str, Any]]:
    cur.execute("SELECT * FROM directive_receipts WHERE directive_id = ? ORDER BY id", [directive_id])
    return records(cur)


def update_receipt(cur: Cursor, receipt_id: int, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cur.execute(f"UPDATE directive_receipts SET {assignments} WHERE id = ?", [*fields.values(), receipt_id])


def forwarded(cur: Cursor, directive_id: int) -> list[dict[str, Any]]:
    """The directives that relay this one, one level down."""
    cur.execute("SELECT * FROM directives WHERE parent_id = ? ORDER BY id", [directive_id])
    return records(cur)


def received_by(cur: Cursor, unit: str, person: str | None, whole_unit: bool) -> list[dict[str, Any]]:
    """The receipts of a unit (or of one person only), newest first, with their directive's fields (`d_…`)."""
    cur.execute(
        """
        SELECT r.*, d.title AS d_title, d.body AS d_body, d.from_unit AS d_from_unit, d.answer AS d_answer,
               d.deadline AS d_deadline, d.sent_at AS d_sent_at
        FROM directive_receipts r JOIN directives d ON d.id = r.directive_id
        WHERE r.to_person = $person OR ($whole AND r.to_unit = $unit AND r.to_person IS NULL)
        ORDER BY r.id DESC
        """,
        {"unit": unit, "person": person, "whole": whole_unit},
    )
    return records(cur)


def add_file(cur: Cursor, fields: dict[str, Any]) -> None:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    cur.execute(f"INSERT INTO directive_files ({columns}) VALUES ({marks})", list(fields.values()))


def files(cur: Cursor, directive_id: int) -> list[dict[str, Any]]:
    """The files of a directive and of its replies, oldest first."""
    cur.execute("SELECT * FROM directive_files WHERE directive_id = ? ORDER BY uploaded_at", [directive_id])
    return records(cur)


def file_rows(cur: Cursor, file_id: str) -> list[dict[str, Any]]:
    """Where a stored file was sent: one row per directive or reply it came with."""
    cur.execute("SELECT * FROM directive_files WHERE id = ?", [file_id])
    return records(cur)


def log(cur: Cursor, directive_id: int, receipt_id: int | None, now: datetime, actor: str, action: str, note: str,
        details: dict) -> None:  # fmt: skip
    """One step in a directive's log: sent, read, signed, replied, chased, forwarded, notified."""
    cur.execute(
        "INSERT INTO directive_log (directive_id, receipt_id, ts, actor, action, note, details) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [directive_id, receipt_id, now, actor, action, note, json.dumps(details, ensure_ascii=False, default=str)],
    )


def timeline(cur: Cursor, directive_id: int) -> list[dict[str, Any]]:
    cur.execute("SELECT * FROM directive_log WHERE directive_id = ? ORDER BY id", [directive_id])
    rows = records(cur)
    for row in rows:
        row["details"] = json.loads(row["details"]) if row["details"] else {}
    return rows


def today(cur: Cursor, since: datetime) -> tuple[int, int, int]:
    """The receipts of the directives sent from the top of the chain (not forwards) since `since`: how many, how
    many signed, how many replied."""
    row = cur.execute(
        "SELECT count(*), count(r.signed_at), count(r.replied_at) FROM directive_receipts r "
        "JOIN directives d ON d.id = r.directive_id WHERE d.parent_id IS NULL AND d.sent_at >= ?",
        [since],
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def sent_by_unit(cur: Cursor, unit: str, text: str = "") -> list[dict[str, Any]]:
    """A unit's directives, newest first; with `text`, those whose title or text holds it."""
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cur.execute(
        "SELECT * FROM directives WHERE from_unit = ? AND (title ILIKE ? ESCAPE '\\' OR body ILIKE ? ESCAPE '\\') "
        "ORDER BY id DESC",
        [unit, like, like],
    )
    return records(cur)
