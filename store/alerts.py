"""Alerts and their timeline in the store: SQL only; what is allowed is decided in alerts/."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from store.database import records, typed
from store.records import ALERT_STATES, OPEN_STATES, SEVERITIES
from store.transaction import registered

OPEN_CONDITION = "state IN ({})".format(", ".join(f"'{s}'" for s in ALERT_STATES if s in OPEN_STATES))
# Sorts red first, as severity_rank does.
SEVERITY_ORDER = "CASE severity {} END".format(" ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES)))

Cursor = duckdb.DuckDBPyConnection


def open_alert(cur: Cursor, rule_id: str, subject_id: str) -> dict[str, Any] | None:
    cur.execute(
        f"SELECT * FROM alerts WHERE rule_id = ? AND subject_id = ? AND {OPEN_CONDITION}", [rule_id, subject_id]
    )
    rows = records(cur)
    return rows[0] if rows else None


def get(cur: Cursor, alert_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM alerts WHERE id = ?", [alert_id])
    rows = records(cur)
    return rows[0] if rows else None


def insert(cur: Cursor, fields: dict[str, Any]) -> int:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    return cur.execute(
        f"INSERT INTO alerts ({columns}) VALUES ({marks}) RETURNING id", list(fields.values())
    ).fetchone()[0]


# The columns a rule writes when it opens alerts in bulk, with their types (the rest keep their defaults).
NEW_ALERT = pa.schema([
    ("id", pa.int64()), ("rule_id", pa.string()), ("subject_id", pa.string()), ("domain", pa.string()),
    ("severity", pa.string()), ("initial_severity", pa.string()), ("state", pa.string()), ("condition", pa.string()),
    ("title_zh", pa.string()), ("title_en", pa.string()), ("message_zh", pa.string()), ("message_en", pa.string()),
    ("unit_type", pa.string()), ("sop", pa.string()), ("district_id", pa.string()), ("town_id", pa.string()),
    ("grid_id", pa.string()), ("lon", pa.float64()), ("lat", pa.float64()), ("last_value", pa.float64()),
    ("first_fired_at", pa.timestamp("us", tz="UTC")), ("last_fired_at", pa.timestamp("us", tz="UTC")),
    ("created_at", pa.timestamp("us", tz="UTC")), ("updated_at", pa.timestamp("us", tz="UTC")),
    ("incident_id", pa.int64()), ("suppressed_by", pa.string()), ("area", pa.string()),
    ("expires_at", pa.timestamp("us", tz="UTC")),
])  # fmt: skip
LOG_ENTRY = pa.schema([
    ("alert_id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("actor", pa.string()), ("action", pa.string()),
    ("from_state", pa.string()), ("to_state", pa.string()), ("note", pa.string()), ("details", pa.string()),
])  # fmt: skip


def new_ids(cur: Cursor, sequence: str, n: int) -> list[int]:
    """`n` ids drawn from a sequence at once, so that rows written in bulk can be told apart before they are."""
    if n == 0:
        return []
    return [row[0] for row in cur.execute(f"SELECT nextval('{sequence}') FROM generate_series(1, ?)", [n]).fetchall()]


def insert_many(cur: Cursor, rows: list[dict[str, Any]]) -> None:
    """Alerts opened together, in one statement; each row carries its id (new_ids) and the NEW_ALERT columns."""
    write_table(cur, "alerts", pa.Table.from_pylist(rows, schema=NEW_ALERT))


def log_many(cur: Cursor, entries: list[dict[str, Any]]) -> None:
    """Timeline entries in one statement: alert_id, ts, actor, action, from_state, to_state, note, details."""
    rows = [{**e, "note": e.get("note", ""), "details": json.dumps(e.get("details") or {}, ensure_ascii=False)}
            for e in entries]  # fmt: skip
    write_table(cur, "alert_log", pa.Table.from_pylist(rows, schema=LOG_ENTRY))


def write_table(cur: Cursor, table: str, rows: pa.Table) -> None:
    """Insert an arrow table's columns into the store table of the same column names."""
    if not rows.num_rows:
        return
    name = f"bulk_{table}"
    with registered(cur, name, rows):
        columns = ", ".join(rows.column_names)
        cur.execute(
            f"INSERT INTO {table} ({columns}) SELECT {', '.join(typed(cur, table, rows.column_names))} FROM {name}"
        )


# The alerts of a list of (rule, subject) pairs, given as two lists.
_OF_KEYS = "(rule_id, subject_id) IN (SELECT r, s FROM (SELECT unnest(?) AS r, unnest(?) AS s) AS k)"


def _by_key(cur: Cursor, sql: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    if not keys:
        return {}
    cur.execute(sql, [[k[0] for k in keys], [k[1] for k in keys]])
    return {(row["rule_id"], row["subject_id"]): row for row in records(cur)}


def open_alerts_of(cur: Cursor, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The open alerts of these (rule, subject) pairs, in one query."""
    return _by_key(cur, f"SELECT * FROM alerts WHERE {_OF_KEYS} AND {OPEN_CONDITION}", keys)


def expired(cur: Cursor, rule_ids: list[str], now: datetime) -> list[dict[str, Any]]:
    """The open, active alerts of these rules whose expiry (an official warning's) has passed."""
    cur.execute(
        f"SELECT * FROM alerts WHERE rule_id IN (SELECT unnest(?)) AND expires_at <= ? AND condition = 'active' "
        f"AND {OPEN_CONDITION}",
        [rule_ids, now],
    )
    return records(cur)


def latest_alerts_of(cur: Cursor, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest alert, open or ended, of each of these (rule, subject) pairs, in one query."""
    return _by_key(cur, f"SELECT DISTINCT ON (rule_id, subject_id) * FROM alerts WHERE {_OF_KEYS} "
                        "ORDER BY rule_id, subject_id, id DESC", keys)  # fmt: skip


# What the rules change of an open alert when it fires again or clears.
REFRESHED = pa.schema([
    ("id", pa.int64()), ("last_value", pa.float64()), ("last_fired_at", pa.timestamp("us", tz="UTC")),
    ("updated_at", pa.timestamp("us", tz="UTC")), ("condition", pa.string()),
    ("cleared_at", pa.timestamp("us", tz="UTC")), ("fire_count", pa.int32()), ("severity", pa.string()),
    ("state", pa.string()),
])  # fmt: skip


def refresh_many(cur: Cursor, rows: list[dict[str, Any]]) -> None:
    """Open alerts fired again or cleared: the REFRESHED columns of each, in one statement."""
    update_rows(cur, "alerts", pa.Table.from_pylist(rows, schema=REFRESHED))


PLACEMENT = pa.schema([("id", pa.int64()), ("incident_id", pa.int64()), ("suppressed_by", pa.string())])


def update_rows(cur: Cursor, table: str, rows: pa.Table) -> None:
    """Update a store table's rows, found by id, with an arrow table's other columns, in one statement."""
    if not rows.num_rows:
        return
    name = f"changed_{table}"
    with registered(cur, name, rows):
        changed = [c for c in rows.column_names if c != "id"]
        values = typed(cur, table, changed, name)
        assignments = ", ".join(f"{c} = {v}" for c, v in zip(changed, values, strict=True))
        cur.execute(f"UPDATE {table} SET {assignments} FROM {name} WHERE {table}.id = {name}.id")


def set_placement(cur: Cursor, rows: list[dict[str, Any]]) -> None:
    """Where these stored alerts now are: their incident, and whether they are suppressed (in one statement)."""
    update_rows(cur, "alerts", pa.Table.from_pylist(rows, schema=PLACEMENT))


def update(cur: Cursor, alert_id: int, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cur.execute(f"UPDATE alerts SET {assignments} WHERE id = ?", [*fields.values(), alert_id])


def log(
    cur: Cursor,
    alert_id: int,
    ts: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    cur.execute(
        "INSERT INTO alert_log (alert_id, ts, actor, action, from_state, to_state, note, details) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [alert_id, ts, actor, action, from_state, to_state, note, json.dumps(details or {}, ensure_ascii=False)],
    )


def timeline(cur: Cursor, alert_id: int) -> list[dict[str, Any]]:
    """Every entry of an alert's log, oldest first; `details` as a dict."""
    cur.execute(
        "SELECT ts, actor, action, from_state, to_state, note, details FROM alert_log WHERE alert_id = ? ORDER BY id",
        [alert_id],
    )
    entries = records(cur)
    for entry in entries:
        entry["details"] = json.loads(entry["details"]) if entry["details"] else {}
    return entries


def last_actions(cur: Cursor, alert_ids: list[int]) -> dict[tuple[int, str], datetime]:
    """When each of these alerts last had each action in its timeline: (alert id, action) → time."""
    rows = cur.execute(
        "SELECT alert_id, action, max(ts) FROM alert_log WHERE alert_id IN (SELECT unnest(?)) "
        "GROUP BY alert_id, action",
        [alert_ids],
    ).fetchall()
    return {(alert_id, action): ts for alert_id, action, ts in rows}


def open_alerts(cur: Cursor) -> list[dict[str, Any]]:
    cur.execute(f"SELECT * FROM alerts WHERE {OPEN_CONDITION} ORDER BY id")
    return records(cur)


def raised_alerts(cur: Cursor) -> list[dict[str, Any]]:
    """The open alerts someone is to handle: not those recorded inhibited or silenced inside an incident."""
    cur.execute(f"SELECT * FROM alerts WHERE {OPEN_CONDITION} AND suppressed_by IS NULL ORDER BY id")
    return records(cur)


def own_clocks(cur: Cursor) -> list[dict[str, Any]]:
    """What the raised alerts in no incident need for their own time limit: id, rule_id, severity and state. Read
    at every snapshot while a storm's alerts stand open: only these columns."""
    cur.execute(f"SELECT id, rule_id, severity, state FROM alerts WHERE {OPEN_CONDITION} AND suppressed_by IS NULL "
                "AND incident_id IS NULL ORDER BY id")  # fmt: skip
    return records(cur)


def rule_states(cur: Cursor) -> dict[tuple[str, str], dict[str, Any]]:
    rows = cur.execute("SELECT rule_id, subject_id, phase, since, clear_since, last_value FROM rule_state").fetchall()
    return {(r[0], r[1]): {"phase": r[2], "since": r[3], "clear_since": r[4], "last_value": r[5]} for r in rows}


def save_rule_states(cur: Cursor, states: dict[tuple[str, str], dict[str, Any] | None]) -> None:
    """Write changed rule states (None: gone) in two statements, whatever their number."""
    gone = [key for key, state in states.items() if state is None]
    kept = [(key, state) for key, state in states.items() if state is not None]
    if gone:
        cur.execute(
            f"DELETE FROM rule_state WHERE {_OF_KEYS}",
            [[k[0] for k in gone], [k[1] for k in gone]],
        )
    if kept:
        table = pa.table(
            {
                "rule_id": [k[0] for k, _ in kept],
                "subject_id": [k[1] for k, _ in kept],
                "phase": [s["phase"] for _, s in kept],
                "since": pa.array([s["since"] for _, s in kept], pa.timestamp("us", tz="UTC")),
                "clear_since": pa.array([s["clear_since"] for _, s in kept], pa.timestamp("us", tz="UTC")),
                "last_value": pa.array([s["last_value"] for _, s in kept], pa.float64()),
            }
        )
        with registered(cur, "changed_rule_states", table):
            cur.execute(f"INSERT INTO rule_state SELECT {', '.join(typed(cur, 'rule_state', table.column_names))} "
                        "FROM changed_rule_states ORDER BY rule_id, subject_id "
                        "ON CONFLICT (rule_id, subject_id) DO UPDATE SET phase = excluded.phase, "
                        "since = excluded.since, clear_since = excluded.clear_since, "
                        "last_value = excluded.last_value")  # fmt: skip
