"""Read queries used by the dashboard (and later the rules). No business logic: rows in, rows out."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd

from store.alerts import OPEN_CONDITION, SEVERITY_ORDER
from store.database import Store, frame, records


def entity_descriptions(store: Store) -> pd.DataFrame:
    """Every entity, placed or not, in order of domain and id: its place, its levels (alerts.levels: whether it has
    any, their direction, each colour's threshold, the metric they apply to) and its warning level (gauges)."""
    return frame(
        store.cursor(),
        """
        SELECT id, feed_id, domain, kind, name, lon, lat, district_id, town_id, grid_id,
               coalesce(json_type(attributes->'levels') = 'OBJECT'
                        AND len(json_keys(attributes->'levels')) > 0, false) AS has_levels,
               coalesce(attributes->>'$.levels.direction' = 'below', false) AS below,
               TRY_CAST(attributes->>'$.levels.red' AS DOUBLE) AS red,
               TRY_CAST(attributes->>'$.levels.orange' AS DOUBLE) AS orange,
               TRY_CAST(attributes->>'$.levels.yellow' AS DOUBLE) AS yellow,
               TRY_CAST(attributes->>'$.levels.blue' AS DOUBLE) AS blue,
               attributes->>'$.levels.metric' AS levels_metric,
               TRY_CAST(attributes->>'$.warning_level' AS DOUBLE) AS warning_level
        FROM entities ORDER BY domain, id
        """,
    )


def latest_written_since(store: Store, since_us: int | None) -> dict[str, np.ndarray]:
    """The rows of `latest` written after `since_us` (microseconds since the epoch; None: all of them), as arrays:
    entity_id, metric, value (NaN for none), and when it was measured (`ts_us`) and written (`written_us`), in
    microseconds since the epoch. Arrays, not a frame: the wall reads these several times a second."""
    where = "" if since_us is None else "WHERE epoch_us(written_at) > $since"
    columns = (
        store.cursor()
        .execute(
            f"SELECT entity_id, metric, value, epoch_us(ts) AS ts_us, epoch_us(written_at) AS written_us "
            f"FROM latest {where}",
            {} if since_us is None else {"since": since_us},
        )
        .fetchnumpy()
    )
    columns["value"] = np.ma.filled(np.ma.asarray(columns["value"], dtype=float), np.nan)
    return columns


def events_since(store: Store, since: datetime) -> dict[str, int]:
    rows = (
        store.cursor()
        .execute("SELECT domain, count(*) FROM events WHERE ts >= $since GROUP BY domain", {"since": since})
        .fetchall()
    )
    return dict(rows)


def latest_events(store: Store, limit: int = 12) -> pd.DataFrame:
    """The newest events; a warning's cancel with the title of the warning it cancels (`cancels`), since a Cancel
    often carries no text of its own (CAP: no info)."""
    return frame(
        store.cursor(),
        """
        WITH latest AS (
            SELECT id, feed_id, domain, type, ts, severity, title, district_id, refs FROM events
            ORDER BY ts DESC, id LIMIT $n
        ), cancelled AS (
            SELECT l.id, max_by(e.title, e.ts) AS cancels
            FROM (SELECT id, feed_id, unnest(refs) AS ref FROM latest WHERE type = 'cap_cancel') AS l
            JOIN events AS e ON e.id = l.feed_id || ':' || l.ref AND e.type <> 'cap_cancel'
            GROUP BY l.id
        )
        SELECT latest.id, domain, type, ts, severity, title, district_id, cancels
        FROM latest LEFT JOIN cancelled USING (id) ORDER BY ts DESC, latest.id
        """,
        {"n": limit},
    )


def feed_status(store: Store) -> pd.DataFrame:
    return frame(
        store.cursor(),
        "SELECT feed_id, state, reason, changed_at, last_message_at, messages, errors, discarded, suspect "
        "FROM feed_status ORDER BY feed_id",
    )


def count(store: Store, table: str) -> int:
    if table not in {"entities", "observations", "events", "dead_letters", "latest"}:
        raise ValueError(f"not a table of the store: {table}")
    return store.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def open_alerts(store: Store) -> pd.DataFrame:
    """Open alerts, worst first: severity, then overdue, then newest."""
    return frame(
        store.cursor(),
        f"""
        SELECT id, rule_id, subject_id, domain, severity, state, condition, title_zh, title_en, message_zh,
               message_en, unit_type, unit_id, sop, district_id, town_id, grid_id, lon, lat, last_value, fire_count,
               created_at,
               updated_at, snoozed_until, overdue_stages, incident_id
        FROM alerts
        WHERE {OPEN_CONDITION} AND suppressed_by IS NULL   -- recorded inside their incident, never raised
        ORDER BY {SEVERITY_ORDER},
                 len(overdue_stages) DESC, created_at DESC, id DESC
        """,
    )


def open_incidents(store: Store) -> pd.DataFrame:
    """Open incidents, worst first, then the newest: what people handle, with their members' area (GeoJSON)."""
    return frame(
        store.cursor(),
        f"""
        SELECT id, group_id, region_level, region_id, domain, severity, state, title_zh, title_en, district_id,
               lon, lat, area, members, active_members, inhibited, opened_at, last_member_at, overdue_stages,
               snoozed_until, unit_id
        FROM incidents
        WHERE {OPEN_CONDITION}
        ORDER BY {SEVERITY_ORDER}, last_member_at DESC, id DESC
        """,
    )


def entity(store: Store, entity_id: str) -> dict | None:
    """One entity with its attributes (parsed) and place, or None."""
    cur = store.cursor()
    cur.execute(
        "SELECT id, feed_id, domain, kind, name, lon, lat, district_id, town_id, grid_id, attributes, first_seen "
        "FROM entities WHERE id = $id",
        {"id": entity_id},
    )
    rows = records(cur)
    if not rows:
        return None
    out = rows[0]
    out["attributes"] = json.loads(out["attributes"]) if out["attributes"] else {}
    return out


def latest_values(store: Store, entity_id: str) -> pd.DataFrame:
    return frame(
        store.cursor(),
        "SELECT metric, value, unit, ts, quality FROM latest WHERE entity_id = $id ORDER BY metric",
        {"id": entity_id},
    )


def history(store: Store, entity_id: str, since: datetime) -> pd.DataFrame:
    """One entity's observations since `since`, oldest first (the drill-down chart), suspect ones with their reason."""
    return frame(
        store.cursor(),
        "SELECT metric, ts, value, unit, quality, quality_reason FROM observations WHERE entity_id = $id "
        "AND ts >= $since ORDER BY metric, ts",
        {"id": entity_id, "since": since},
    )


def region_daily(store: Store, level: str, region_ids: list[str], since: date, timezone: str) -> pd.DataFrame:
    """Per day (the city's days) and metric, the readings of a region's devices (those placed at `level` in one of
    `region_ids`, as layers.regions.RegionIndex.stored gives them): how many, their mean, min and max.

    From the daily summaries, plus what was received since they were last rolled up; never a scan of a year of raw
    observations (bench/history.py measures both).
    """
    column = {"district": "district_id", "town": "town_id", "grid": "grid_id"}[level]
    return frame(
        store.cursor(),
        f"""
        WITH members AS (SELECT id FROM entities WHERE {column} IN (SELECT unnest($regions))),
        summarised AS (SELECT coalesce(max(until), '-infinity'::TIMESTAMPTZ) AS until FROM summary_progress
                       WHERE name = 'observations'),
        days AS (
            SELECT d.day, d.metric, d.n, d.sum, d.min, d.max FROM observations_daily d
            WHERE d.entity_id IN (SELECT id FROM members) AND d.day >= $since
            UNION ALL
            SELECT timezone($tz, o.ts)::DATE, o.metric, count(o.value), sum(o.value), min(o.value), max(o.value)
            FROM observations o
            WHERE o.entity_id IN (SELECT id FROM members)
                AND o.received_at >= (SELECT until FROM summarised) AND o.quality <> 'suspect'
                AND timezone($tz, o.ts)::DATE >= $since
            GROUP BY 1, 2
        )
        SELECT day, metric, sum(n)::BIGINT AS readings, sum(sum) / nullif(sum(n), 0) AS mean, min(min) AS min,
               max(max) AS max
        FROM days GROUP BY day, metric ORDER BY day, metric
        """,
        {"regions": region_ids, "since": since, "tz": timezone},
    )


def alerts_of(store: Store, subject_id: str, since: datetime) -> pd.DataFrame:
    """Alerts about one subject that were open at some moment since `since` (their periods shade the chart)."""
    return frame(
        store.cursor(),
        """
        SELECT id, rule_id, severity, state, title_zh, title_en, first_fired_at, cleared_at, updated_at
        FROM alerts WHERE subject_id = $id AND coalesce(cleared_at, now()) >= $since
        ORDER BY first_fired_at
        """,
        {"id": subject_id, "since": since},
    )


def entities_in(store: Store, level: str, region_ids: list[str], limit: int = 500) -> pd.DataFrame:
    """The entities placed at `level` in one of `region_ids` (RegionIndex.stored), by domain and name; `name_en`,
    the English name its feed gave (feeds/decoders/base.py parse_name), or None."""
    column = {"district": "district_id", "town": "town_id", "grid": "grid_id"}[level]
    return frame(
        store.cursor(),
        f"SELECT id, domain, kind, name, json_extract_string(attributes, '$.name_en') AS name_en FROM entities "
        f"WHERE {column} IN (SELECT unnest($ids)) "
        "ORDER BY domain, name LIMIT $n",
        {"ids": region_ids, "n": limit},
    )


def alerts_raised_since(store: Store, since: datetime) -> pd.DataFrame:
    """Every alert raised since `since`: its domain, district and when (the tablet's trend)."""
    return frame(
        store.cursor(),
        "SELECT domain, district_id, created_at FROM alerts WHERE created_at >= $since AND suppressed_by IS NULL "
        "ORDER BY created_at",
        {"since": since},
    )
