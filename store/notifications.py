"""Notifications and their deliveries in the store: SQL only; who is told what, how, is decided in notify/."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from store.alerts import Cursor
from store.database import records

# Events people off the screen may be told of (a subscription names those it wants).
EVENTS: tuple[str, ...] = ("incident_new", "overdue", "escalation", "directive", "chase", "report")
DELIVERY_STATES: tuple[str, ...] = ("pending", "sent", "dead")


def tell(cur: Cursor, *, key: str, event: str, now: datetime, title_zh: str, title_en: str,
         incident: dict | None = None, task_id: int | None = None, directive_id: int | None = None,
         units: list[str] | None = None, details: dict | None = None) -> None:  # fmt: skip
    """Put a notification in the outbox, in the caller's transaction; one key is one notification, however often
    it is told."""
    incident = incident or {}
    cur.execute(
        "INSERT INTO notifications (key, event, incident_id, task_id, directive_id, severity, domain, district_id, "
        "town_id, grid_id, units, title_zh, title_en, details, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        [key, event, incident.get("id"), task_id, directive_id, incident.get("severity"), incident.get("domain"),
         incident.get("district_id"), incident.get("town_id"), incident.get("grid_id"),
         [u for u in (units or []) if u], title_zh, title_en, json.dumps(details or {}, ensure_ascii=False), now],
    )  # fmt: skip


def unmatched(cur: Cursor, limit: int = 500) -> list[dict[str, Any]]:
    cur.execute("SELECT * FROM notifications WHERE matched_at IS NULL ORDER BY id LIMIT ?", [limit])
    return _decoded(records(cur))


def matched(cur: Cursor, notification_ids: list[int], deliveries: list[dict[str, Any]], now: datetime) -> None:
    """The deliveries made of these notifications (each: notification_id, channel, recipient, next_at)."""
    for d in deliveries:
        cur.execute(
            "INSERT INTO deliveries (notification_id, channel, recipient, state, next_at, created_at) "
            "VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
            [d["notification_id"], d["channel"], d["recipient"], d["next_at"], now],
        )
    if notification_ids:
        cur.execute("UPDATE notifications SET matched_at = ? WHERE id IN (SELECT unnest(?))", [now, notification_ids])


def due(cur: Cursor, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries whose time has come, oldest first, each with its notification's fields (`n_…`)."""
    cur.execute(
        """
        SELECT d.*, n.key AS n_key, n.event AS n_event, n.incident_id AS n_incident_id, n.task_id AS n_task_id,
               n.directive_id AS n_directive_id,
               n.severity AS n_severity, n.domain AS n_domain, n.district_id AS n_district_id,
               n.title_zh AS n_title_zh, n.title_en AS n_title_en, n.details AS n_details,
               n.created_at AS n_created_at
        FROM deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?
        """,
        [now, limit],
    )
    rows = records(cur)
    for row in rows:
        row["n_details"] = json.loads(row["n_details"]) if row["n_details"] else {}
    return rows


def update(cur: Cursor, delivery_id: int, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cur.execute(f"UPDATE deliveries SET {assignments} WHERE id = ?", [*fields.values(), delivery_id])


def deliveries(cur: Cursor, state: str | None = None, limit: int | None = 500) -> list[dict[str, Any]]:
    """Deliveries, newest first, with their notification's event and title: those in `state`, or all."""
    cur.execute(
        "SELECT d.*, n.event, n.title_zh, n.title_en, n.incident_id FROM deliveries d "
        "JOIN notifications n ON n.id = d.notification_id WHERE CAST(? AS VARCHAR) IS NULL OR d.state = ? "
        "ORDER BY d.id DESC LIMIT ?",
        [state, state, limit if limit is not None else 2**62],
    )
    return records(cur)


def counts(cur: Cursor) -> dict[str, int]:
    """Deliveries in each state."""
    found = dict(cur.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall())
    return {state: int(found.get(state, 0)) for state in DELIVERY_STATES}


def replay(cur: Cursor, delivery_ids: list[int], now: datetime) -> int:
    """Given-up deliveries tried again from now; how many."""
    rows = cur.execute(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, last_error = NULL "
        "WHERE id IN (SELECT unnest(?)) AND state = 'dead' RETURNING id",
        [now, delivery_ids],
    ).fetchall()
    return len(rows)


def _decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["details"] = json.loads(row["details"]) if row["details"] else {}
    return rows
