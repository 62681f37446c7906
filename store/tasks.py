"""Tasks down the command chain and the photos sent with their reports: SQL only; who may do what is decided in
alerts/chain.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.alerts import Cursor
from store.database import records

# Open tasks: the receiver still works on them (sent: not yet signed for), or the sender has to look (reported). A
# task of an ended incident is open no more, whatever it says.
_OPEN = "t.state IN ('sent', 'signed', 'on_site', 'returned', 'reported') AND i.state NOT IN ('closed', 'cancelled')"
REQUEST_MAX = 64  # a step's request id, as a page makes it


def insert(cur: Cursor, fields: dict[str, Any]) -> int:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    return cur.execute(
        f"INSERT INTO tasks ({columns}) VALUES ({marks}) RETURNING id", list(fields.values())
    ).fetchone()[0]


def get(cur: Cursor, task_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM tasks WHERE id = ?", [task_id])
    rows = records(cur)
    return rows[0] if rows else None


def update(cur: Cursor, task_id: int, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cur.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", [*fields.values(), task_id])


def of_incident(cur: Cursor, incident_id: int) -> list[dict[str, Any]]:
    """Every task of an incident, in the order they were given: the tree of who gave what to whom."""
    cur.execute("SELECT * FROM tasks WHERE incident_id = ? ORDER BY id", [incident_id])
    return records(cur)


def children(cur: Cursor, task_id: int) -> list[dict[str, Any]]:
    cur.execute("SELECT * FROM tasks WHERE parent_id = ? ORDER BY id", [task_id])
    return records(cur)


def inbox(cur: Cursor, unit: str, person: str | None, whole_unit: bool) -> list[dict[str, Any]]:
    """The open tasks a person sees: given to `person`; when `whole_unit`, also those given to their unit, raised
    to it once overdue, or given by it. Newest first, with their incident's title, severity, domain and place."""
    cur.execute(
        f"""
        SELECT t.*, i.title_zh, i.title_en, i.severity, i.domain, i.district_id, i.region_id, i.lon, i.lat,
               i.state AS incident_state
        FROM tasks t JOIN incidents i ON i.id = t.incident_id
        WHERE {_OPEN} AND (t.to_person = $person OR ($whole AND (
            (t.to_unit = $unit AND t.to_person IS NULL) OR t.escalated_to = $unit OR t.from_unit = $unit)))
        ORDER BY t.id DESC
        """,
        {"unit": unit, "person": person, "whole": whole_unit},
    )
    return records(cur)


def not_given(cur: Cursor, centre: str) -> list[dict[str, Any]]:
    """Open incidents routed to a centre that it has not given to anyone yet, newest first."""
    cur.execute(
        "SELECT id, title_zh, title_en, severity, region_id, opened_at FROM incidents i WHERE centre_id = ? "
        "AND state IN ('new', 'acknowledged', 'returned') "
        "AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.incident_id = i.id AND t.from_unit = ?) ORDER BY id DESC",
        [centre, centre],
    )
    return records(cur)


def given_to(cur: Cursor, incident_id: int, units: list[str], person: str | None) -> bool:
    """Whether a task of the incident was ever given to (or raised to) one of these units, or to `person`."""
    row = cur.execute(
        "SELECT count(*) FROM tasks WHERE incident_id = $id AND (to_unit IN (SELECT unnest($units)) "
        "OR escalated_to IN (SELECT unnest($units)) OR from_unit IN (SELECT unnest($units)) OR to_person = $person)",
        {"id": incident_id, "units": units, "person": person},
    ).fetchone()
    return row[0] > 0


def running_clocks(cur: Cursor, now: datetime) -> list[dict[str, Any]]:
    """The tasks whose stage clock ran out by `now` and may be raised once more, with their incident's severity."""
    cur.execute(
        f"SELECT t.*, i.severity FROM tasks t JOIN incidents i ON i.id = t.incident_id "
        f"WHERE {_OPEN} AND t.escalate_at IS NOT NULL AND t.escalate_at <= ? ORDER BY t.id",
        [now],
    )
    return records(cur)


def request_done(cur: Cursor, request: str | None) -> int | None:
    """The task of a step already done under this request id (a phone that sent it again), if any."""
    if not request:
        return None
    row = cur.execute("SELECT task_id FROM task_requests WHERE request = ?", [request[:REQUEST_MAX]]).fetchone()
    return row[0] if row else None


def remember_request(cur: Cursor, request: str | None, task_id: int, now: datetime) -> None:
    if request:
        cur.execute("INSERT INTO task_requests VALUES (?, ?, ?)", [request[:REQUEST_MAX], task_id, now])


def add_attachment(cur: Cursor, fields: dict[str, Any]) -> None:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    cur.execute(f"INSERT INTO attachments ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", list(fields.values()))


def attachment(cur: Cursor, attachment_id: str) -> list[dict[str, Any]]:
    """The rows of a stored file (one for each task it was sent with)."""
    cur.execute("SELECT * FROM attachments WHERE id = ?", [attachment_id])
    return records(cur)
