"""Incidents and their timeline in the store: SQL only; how alerts are grouped into them is decided in
alerts/incidents.py. Incidents are written in bulk, as a storm opens them by the hundred."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from store.alerts import OPEN_CONDITION, SEVERITY_ORDER, Cursor, update_rows, write_table
from store.database import records
from store.records import severity_rank

TS = pa.timestamp("us", tz="UTC")
# What changes of an incident as members join, clear and come back.
CHANGING = pa.schema([
    ("id", pa.int64()), ("severity", pa.string()), ("title_zh", pa.string()), ("title_en", pa.string()),
    ("district_id", pa.string()), ("town_id", pa.string()), ("grid_id", pa.string()), ("lon", pa.float64()),
    ("lat", pa.float64()), ("area", pa.string()),
    ("members", pa.int32()), ("active_members", pa.int32()), ("inhibited", pa.int32()),
    ("last_member_at", TS), ("updated_at", TS), ("all_cleared_at", TS),
])  # fmt: skip
NEW_INCIDENT = pa.schema([
    *CHANGING, ("group_id", pa.string()), ("region_level", pa.string()), ("region_id", pa.string()),
    ("domain", pa.string()), ("state", pa.string()), ("opened_at", TS),
    ("centre_id", pa.string()), ("department_id", pa.string()),  # whose it is, as the organisation routes it
])  # fmt: skip
LOG_ENTRY = pa.schema([
    ("incident_id", pa.int64()), ("ts", TS), ("actor", pa.string()), ("action", pa.string()),
    ("from_state", pa.string()), ("to_state", pa.string()), ("note", pa.string()), ("details", pa.string()),
])  # fmt: skip


def open_incidents(cur: Cursor) -> list[dict[str, Any]]:
    cur.execute(f"SELECT * FROM incidents WHERE {OPEN_CONDITION} ORDER BY id")
    return records(cur)


def get(cur: Cursor, incident_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM incidents WHERE id = ?", [incident_id])
    rows = records(cur)
    return rows[0] if rows else None


def member_states(cur: Cursor, incident_id: int) -> list[str]:
    """The states of an incident's raised members."""
    rows = cur.execute("SELECT state FROM alerts WHERE incident_id = ? AND suppressed_by IS NULL", [incident_id])
    return [state for (state,) in rows.fetchall()]


def update(cur: Cursor, incident_id: int, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cur.execute(f"UPDATE incidents SET {assignments} WHERE id = ?", [*fields.values(), incident_id])


def log(cur: Cursor, incident_id: int, ts: datetime, actor: str, action: str, from_state: str | None, to_state: str,
        note: str = "", details: dict[str, Any] | None = None) -> None:  # fmt: skip
    log_many(cur, [{"incident_id": incident_id, "ts": ts, "actor": actor, "action": action, "from_state": from_state,
                    "to_state": to_state, "note": note, "details": details}])  # fmt: skip


def insert_many(cur: Cursor, rows: list[dict[str, Any]]) -> None:
    """New incidents, each row carrying its id (store.alerts.new_ids) and the NEW_INCIDENT columns."""
    write_table(cur, "incidents", pa.Table.from_pylist(rows, schema=NEW_INCIDENT))


def update_many(cur: Cursor, rows: list[dict[str, Any]]) -> None:
    """Incidents whose members changed: the CHANGING columns of each, in one statement."""
    update_rows(cur, "incidents", pa.Table.from_pylist(rows, schema=CHANGING))


def recount(cur: Cursor, incident_ids: list[int], now: datetime) -> None:
    """Take these incidents' counts again from the alerts table, in one statement: members (raised), active
    (raised, open, condition active), inhibited (recorded, open); an incident none of whose members is active says
    since when."""
    if not incident_ids:
        return
    cur.execute(
        f"""
        UPDATE incidents SET members = c.members, active_members = c.active, inhibited = c.inhibited,
               all_cleared_at = CASE WHEN c.active = 0 THEN coalesce(incidents.all_cleared_at, $now) END,
               updated_at = $now
        FROM (SELECT i.id,
                     count(a.id) FILTER (WHERE a.suppressed_by IS NULL) AS members,
                     count(a.id) FILTER (WHERE a.suppressed_by IS NULL AND a.condition = 'active'
                                         AND a.{OPEN_CONDITION}) AS active,
                     count(a.id) FILTER (WHERE a.suppressed_by LIKE 'inhibit:%' AND a.{OPEN_CONDITION}) AS inhibited
              FROM (SELECT unnest($ids) AS id) i LEFT JOIN alerts a ON a.incident_id = i.id GROUP BY i.id) c
        WHERE incidents.id = c.id
        """,
        {"ids": incident_ids, "now": now},
    )


def close(cur: Cursor, incident_ids: list[int], now: datetime) -> list[tuple[int, str]]:
    """Close these incidents and their open members; the members closed, with the state each was in."""
    cur.execute(
        "UPDATE incidents SET state = 'closed', closed_at = $now, updated_at = $now WHERE id IN (SELECT unnest($ids))",
        {"now": now, "ids": incident_ids},
    )
    # Raised members only: an inhibited one is the inhibition's to release or close.
    members = cur.execute(
        f"SELECT id, state FROM alerts WHERE incident_id IN (SELECT unnest(?)) AND suppressed_by IS NULL "
        f"AND {OPEN_CONDITION}",
        [incident_ids],
    ).fetchall()
    cur.execute(
        f"UPDATE alerts SET state = 'closed', updated_at = $now WHERE incident_id IN (SELECT unnest($ids)) "
        f"AND suppressed_by IS NULL AND {OPEN_CONDITION}",
        {"now": now, "ids": incident_ids},
    )
    return members


def release_open_members(cur: Cursor, incident_id: int) -> None:
    """The raised members still open leave an ended incident (to be placed again by the rule engine)."""
    cur.execute(
        f"UPDATE alerts SET incident_id = NULL WHERE incident_id = ? AND suppressed_by IS NULL AND {OPEN_CONDITION}",
        [incident_id],
    )


def raise_severity(cur: Cursor, incident_id: int, severity: str, now: datetime) -> None:
    """A member got worse: the incident is as bad as its worst member."""
    cur.execute(
        f"UPDATE incidents SET severity = $severity, updated_at = $now WHERE id = $id AND $rank < {SEVERITY_ORDER}",
        {"severity": severity, "now": now, "id": incident_id, "rank": severity_rank(severity)},
    )


def log_many(cur: Cursor, entries: list[dict[str, Any]]) -> None:
    """Timeline entries: incident_id, ts, actor, action, from_state, to_state, note, details."""
    rows = [{**e, "note": e.get("note", ""), "details": json.dumps(e.get("details") or {}, ensure_ascii=False)}
            for e in entries]  # fmt: skip
    write_table(cur, "incident_log", pa.Table.from_pylist(rows, schema=LOG_ENTRY))


def state_changes(cur: Cursor, incident_ids: list[int]) -> dict[int, list[tuple[datetime, str | None, str]]]:
    """The timeline entries that moved these incidents from one state to another (or opened them), oldest first:
    (when, from state, to state)."""
    if not incident_ids:
        return {}
    rows = cur.execute(
        "SELECT incident_id, ts, from_state, to_state FROM incident_log WHERE incident_id IN (SELECT unnest(?)) "
        "AND from_state IS DISTINCT FROM to_state ORDER BY id",
        [incident_ids],
    ).fetchall()
    out: dict[int, list[tuple[datetime, str | None, str]]] = {}
    for incident_id, ts, from_state, to_state in rows:
        out.setdefault(incident_id, []).append((ts, from_state, to_state))
    return out


def member_places(cur: Cursor, incident_ids: list[int]) -> dict[int, list[tuple[float, float, str | None]]]:
    """The places of the raised members of these incidents (what their area is drawn around): (lon, lat, the
    member's own area or None)."""
    if not incident_ids:
        return {}
    rows = cur.execute(
        "SELECT incident_id, lon, lat, area FROM alerts WHERE incident_id IN (SELECT unnest(?)) "
        "AND suppressed_by IS NULL AND ((lon IS NOT NULL AND lat IS NOT NULL) OR area IS NOT NULL)",
        [incident_ids],
    ).fetchall()
    places: dict[int, list[tuple[float, float, str | None]]] = {}
    for incident_id, lon, lat, drawn in rows:
        places.setdefault(incident_id, []).append((lon, lat, drawn))
    return places


def members(cur: Cursor, incident_id: int) -> list[dict[str, Any]]:
    """Every alert of an incident, raised or inhibited, worst and newest first."""
    cur.execute(
        f"SELECT * FROM alerts WHERE incident_id = ? ORDER BY suppressed_by NULLS FIRST, {SEVERITY_ORDER}, "
        "created_at DESC",
        [incident_id],
    )
    return records(cur)


def timeline(cur: Cursor, incident_id: int) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT ts, actor, action, from_state, to_state, note, details FROM incident_log WHERE incident_id = ? "
        "ORDER BY id",
        [incident_id],
    )
    entries = records(cur)
    for entry in entries:
        entry["details"] = json.loads(entry["details"]) if entry["details"] else {}
    return entries
