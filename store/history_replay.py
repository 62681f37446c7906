"""A store file's history, read for a replay (`cityops rules test`): the file is attached read-only to an in-memory
store, and its readings and events are copied into it one time slice at a time, as the writer would have stored
them; what the replay raised (alerts by rule, incidents by group) is read back from the in-memory store."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from store.records import Event, Observation

Cursor = duckdb.DuckDBPyConnection


def attach(cur: Cursor, store_path: str) -> None:
    """Attach the file read-only as `history`; duckdb.Error when it cannot be read (or a running cityops holds it)."""
    cur.execute(f"ATTACH '{store_path}' AS history (READ_ONLY)")


def last_record_at(cur: Cursor) -> datetime | None:
    """When the newest reading or event happened; None when the history holds neither."""
    return cur.execute(
        "SELECT greatest((SELECT max(ts) FROM history.observations), (SELECT max(ts) FROM history.events))"
    ).fetchone()[0]


def copy_entities(cur: Cursor) -> None:
    cur.execute("INSERT INTO entities SELECT * FROM history.entities")


def copy_readings(cur: Cursor, low: datetime, high: datetime) -> list[Observation]:
    """The readings of (low, high], stored as the writer stores them (observations and latest values), and
    returned in time order for the rule engine."""
    rows = cur.execute(
        "SELECT entity_id, metric, value, unit, ts, feed_id, msg_id, quality FROM history.observations "
        "WHERE ts > ? AND ts <= ? AND quality <> 'suspect' ORDER BY ts",
        [low, high],
    ).fetchall()
    if not rows:
        return []
    cur.execute(
        "INSERT INTO observations BY NAME SELECT * FROM history.observations WHERE ts > ? AND ts <= ?",
        [low, high],
    )
    cur.execute(
        """
        INSERT INTO latest
        SELECT entity_id, metric, arg_max(value, ts), arg_max(unit, ts), max(ts), arg_max(quality, ts), now()
        FROM history.observations WHERE ts > ? AND ts <= ? AND quality <> 'suspect' GROUP BY entity_id, metric
        ON CONFLICT (entity_id, metric) DO UPDATE SET
            value = excluded.value, unit = excluded.unit, ts = excluded.ts, quality = excluded.quality,
            written_at = excluded.written_at
        """,
        [low, high],
    )
    return [Observation(*row) for row in rows]


# The events table's columns as store.records.Event names them, in its field order (the rest default).
_EVENT_COLUMNS = (
    "id, feed_id, msg_id, domain, type, ts, lon, lat, title, description, severity, entity_id, "
    "coalesce(source_ref, ''), coalesce(raw, ''), district_id, town_id, grid_id, area, expires_at, "
    "coalesce(refs, []), coalesce(details, '{}')"
)


def copy_events(cur: Cursor, low: datetime, high: datetime) -> list[Event]:
    """The events of (low, high] by when they happened, stored as the writer stores them (received when they were),
    and returned in time order for the rule engine's count rules."""
    rows = cur.execute(
        f"SELECT {_EVENT_COLUMNS} FROM history.events WHERE ts > ? AND ts <= ? ORDER BY ts, id", [low, high]
    ).fetchall()
    if not rows:
        return []
    cur.execute(
        """
        INSERT OR IGNORE INTO events
        SELECT id, feed_id, msg_id, domain, type, ts, lon, lat, district_id, town_id, grid_id, severity, title,
               description, entity_id, source_ref, raw, received_at, area, expires_at, refs, details
        FROM history.events WHERE ts > ? AND ts <= ?
        """,
        [low, high],
    )
    return [Event(*row[:-1], details=json.loads(row[-1])) for row in rows]


def alerts_by_rule(cur: Cursor, first: int = 3) -> list[tuple[str, int, list[tuple[datetime, str, str]]]]:
    """Each rule that raised alerts: its id, how many, and the first few (when, subject, English title)."""
    out = []
    for (rule_id,) in cur.execute("SELECT DISTINCT rule_id FROM alerts ORDER BY rule_id").fetchall():
        earliest = cur.execute(
            "SELECT first_fired_at, subject_id, title_en FROM alerts WHERE rule_id = ? ORDER BY first_fired_at LIMIT ?",
            [rule_id, first],
        ).fetchall()
        count = cur.execute("SELECT count(*) FROM alerts WHERE rule_id = ?", [rule_id]).fetchone()[0]
        out.append((rule_id, count, earliest))
    return out


def incidents_by_group(cur: Cursor, first: int = 3) -> list[tuple[str, int, int, int, list[tuple[datetime, int, str]]]]:
    """Each group that opened incidents: its id, how many, their raised and their inhibited members all together,
    and the first few (opened when, raised members, English title)."""
    out = []
    totals = cur.execute(
        "SELECT group_id, count(*), sum(members), sum(inhibited) FROM incidents GROUP BY group_id ORDER BY group_id"
    ).fetchall()
    for group_id, count, members, inhibited in totals:
        earliest = cur.execute(
            "SELECT opened_at, members, title_en FROM incidents WHERE group_id = ? ORDER BY opened_at, id LIMIT ?",
            [group_id, first],
        ).fetchall()
        out.append((group_id, count, int(members), int(inhibited), earliest))
    return out
