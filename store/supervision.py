"""Supervision's SQL: each incident's figures taken from its timeline (`incident_figures`), the aggregates over them,
and the history of incidents and alerts, searched. What counts as acknowledged, dispatched or resolved, and how a
figure is read, is supervision/'s to say; this module is the statements.

One `Selection` narrows all three the same way, so a figure and the history behind it (its drill-down) always count
the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from store.alerts import Cursor
from store.database import frame, typed
from store.records import ENDED_STATES
from store.transaction import registered

# Where an incident's timeline says it left "new" for the work (acknowledged or given on), reached dispatch, and was
# resolved: the states an entry moves it into.
ACKNOWLEDGED = ("acknowledged", "dispatched", "in_progress", "resolved", "reopened", "returned")
DISPATCHED = ("dispatched", "in_progress", "resolved", "reopened")
FIGURE_COLUMNS = (
    "id", "opened_at", "closed_at", "state", "domain", "severity", "group_id", "district_id", "town_id", "grid_id",
    "centre_id", "department_id", "members", "acknowledged_at", "dispatched_at", "resolved_at",
    "ack_s", "dispatch_s", "resolve_s", "ack_ws", "dispatch_ws", "resolve_ws",
    "late_ack", "late_dispatch", "late_resolve", "returned", "reopened", "escalations",
)  # fmt: skip
FACTS_SQL = f"""
    WITH changed AS (SELECT id FROM incidents WHERE {{which}}),
    log AS (
        SELECT incident_id,
               min(ts) FILTER (WHERE to_state IN {ACKNOWLEDGED}) AS acknowledged_at,
               min(ts) FILTER (WHERE to_state IN {DISPATCHED}) AS dispatched_at,
               max(ts) FILTER (WHERE to_state = 'resolved' AND from_state IS DISTINCT FROM 'resolved') AS resolved_at,
               max(ts) FILTER (WHERE action = 'reopen') AS reopened_at,
               count(*) FILTER (WHERE action IN ('return', 'task_return')) AS returned,
               count(*) FILTER (WHERE action = 'reopen') AS reopened,
               count(*) FILTER (WHERE action IN ('escalate', 'task_escalate')) AS escalations
        FROM incident_log WHERE incident_id IN (SELECT id FROM changed) GROUP BY incident_id
    )
    SELECT i.id, i.opened_at, i.closed_at, i.state, i.domain, i.severity, i.group_id, i.district_id, i.town_id,
           i.grid_id, i.centre_id, i.department_id, i.members, log.acknowledged_at, log.dispatched_at,
           -- resolved by people, for good: not reopened since (the rules may close a reopened one by themselves)
           CASE WHEN i.state IN ('resolved', 'closed') AND log.resolved_at > coalesce(log.reopened_at, '-infinity')
                THEN log.resolved_at END AS resolved_at,
           list_contains(i.overdue_stages, 'acknowledge') AS late_ack,
           list_contains(i.overdue_stages, 'dispatch') AS late_dispatch,
           list_contains(i.overdue_stages, 'resolve') AS late_resolve,
           coalesce(log.returned, 0)::INTEGER AS returned, coalesce(log.reopened, 0)::INTEGER AS reopened,
           coalesce(log.escalations, 0)::INTEGER AS escalations
    FROM incidents i JOIN log ON log.incident_id = i.id
"""  # A stage's time (seconds from opening) is added by the caller, on the clock and in working time.


@dataclass(frozen=True)
class Selection:
    """What a figure or a history search covers: opened in [start, end), and each given part matching. `region`
    is a region at any level; `unit` an org unit (the centre or the department an incident was routed to);
    `state` a state, or "open" for any not ended; `scope` the region ids the asker sees (None: the whole city)."""

    start: datetime | None = None
    end: datetime | None = None
    domain: str | None = None
    rule: str | None = None
    severity: str | None = None
    region: str | None = None
    unit: str | None = None
    state: str | None = None
    overdue: bool | None = None
    text: str | None = None
    scope: frozenset[str] | None = field(default=None)


def incident_facts(cur: Cursor, after_log_id: int | None = None, changed_since: datetime | None = None
                   ) -> pd.DataFrame:  # fmt: skip
    """The incidents with a timeline entry numbered above `after_log_id` or changed since `changed_since` (every
    incident, for neither), with what their figures are made of (FIGURE_COLUMNS but the stage durations)."""
    if after_log_id is None:
        return frame(cur, FACTS_SQL.format(which="TRUE"))
    which = "id IN (SELECT incident_id FROM incident_log WHERE id > ?) OR updated_at >= ?"
    return frame(cur, FACTS_SQL.format(which=which), [after_log_id, changed_since])


def replace_facts(cur: Cursor, rows: pd.DataFrame) -> None:
    """Put these incidents' figure rows in place of the ones they had."""
    if rows.empty:
        return
    with registered(cur, "figure_rows", rows[list(FIGURE_COLUMNS)]):
        cur.execute("DELETE FROM incident_figures WHERE id IN (SELECT id FROM figure_rows)")
        cur.execute(
            f"INSERT INTO incident_figures ({', '.join(FIGURE_COLUMNS)}) "
            f"SELECT {', '.join(typed(cur, 'incident_figures', FIGURE_COLUMNS))} FROM figure_rows"
        )


def clear_facts(cur: Cursor) -> None:
    cur.execute("DELETE FROM incident_figures")
    cur.execute("DELETE FROM figure_progress")


def progress(cur: Cursor, name: str) -> tuple[int, datetime, str] | None:
    """(last_log_id, ts, calendar) of the figures' last refresh, or None before the first."""
    return cur.execute("SELECT last_log_id, ts, calendar FROM figure_progress WHERE name = ?", [name]).fetchone()


def set_progress(cur: Cursor, name: str, last_log_id: int, now: datetime, calendar: str) -> None:
    cur.execute("INSERT INTO figure_progress VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "last_log_id = excluded.last_log_id, ts = excluded.ts, calendar = excluded.calendar",
                [name, last_log_id, now, calendar])  # fmt: skip


def last_log_id(cur: Cursor) -> int:
    return cur.execute("SELECT coalesce(max(id), 0) FROM incident_log").fetchone()[0]


def where(selection: Selection, *, time: str, rule: str, overdue: str, prefix: str = "",
          units: str = "centre_id, department_id") -> tuple[str, list]:  # fmt: skip
    """The WHERE clause (and its parameters) of a selection over a table whose columns are named as an incident's
    (after `prefix`), with `time`, `rule`, `overdue` and `units` the expressions for when it opened, its rule,
    whether it ran late and the org units it was routed to."""
    p = prefix
    parts, params = ["TRUE"], []

    def add(sql: str, *values) -> None:
        parts.append(sql)
        params.extend(values)

    if selection.start is not None:
        add(f"{time} >= ?", selection.start)
    if selection.end is not None:
        add(f"{time} < ?", selection.end)
    for column, value in ((f"{p}domain", selection.domain), (rule, selection.rule),
                          (f"{p}severity", selection.severity)):  # fmt: skip
        if value:
            add(f"{column} = ?", value)
    if selection.region:
        add(f"(? IN ({p}district_id, {p}town_id, {p}grid_id))", selection.region)
    if selection.unit:
        add(f"(? IN ({units}))", selection.unit)
    if selection.state == "open":
        add(f"{p}state NOT IN ({', '.join('?' * len(ENDED_STATES))})", *sorted(ENDED_STATES))
    elif selection.state:
        add(f"{p}state = ?", selection.state)
    if selection.overdue is not None:
        parts.append(overdue if selection.overdue else f"NOT ({overdue})")
    if selection.text:
        like = "%" + selection.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        add(f"({p}title_zh ILIKE ? ESCAPE '\\' OR {p}title_en ILIKE ? ESCAPE '\\')", like, like)
    if selection.scope is not None:
        ids = sorted(selection.scope)
        add(f"(list_contains(?, {p}district_id) OR list_contains(?, {p}town_id) OR list_contains(?, {p}grid_id))",
            ids, ids, ids)  # fmt: skip
    return " AND ".join(parts), params


FIGURES_WHERE = {"time": "opened_at", "rule": "group_id", "overdue": "(late_ack OR late_dispatch OR late_resolve)"}


def aggregate(cur: Cursor, selection: Selection, key: str | None, working: bool) -> pd.DataFrame:
    """The figures of the selected incidents, one row per value of the column `key` (one row for None): counts,
    MTTA and MTTR (median, p90; on the clock, or in working time), each stage's decided and on-time counts."""
    sql, params = where(selection, **FIGURES_WHERE)
    return frame(cur, aggregate_sql(key, working, f"SELECT * FROM incident_figures WHERE {sql}"), params)


def aggregate_sql(key: str | None, working: bool, rows: str) -> str:
    """The figures over `rows` (a query of incident_figures' columns); also the benchmark's baseline, given the
    facts computed from the raw timeline instead."""
    w = "ws" if working else "s"
    group = f"{key}" if key else "NULL"
    stages = ", ".join(
        f"count(*) FILTER (WHERE {done} IS NOT NULL OR {late}) AS {name}_decided, "
        f"count(*) FILTER (WHERE {done} IS NOT NULL AND NOT {late}) AS {name}_on_time"
        for name, done, late in (("ack", "acknowledged_at", "late_ack"), ("dispatch", "dispatched_at", "late_dispatch"),
                                 ("resolve", "resolved_at", "late_resolve"))
    )  # fmt: skip
    return f"""
        SELECT {group} AS key, count(*) AS incidents,
               count(*) FILTER (WHERE state NOT IN {tuple(sorted(ENDED_STATES))}) AS open,
               count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_{w}) AS mtta_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY ack_{w}) AS mtta_p90,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_{w}) AS mttr_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_{w}) AS mttr_p90,
               {stages},
               count(*) FILTER (WHERE late_ack OR late_dispatch OR late_resolve) AS overdue,
               coalesce(sum(returned), 0) AS returned, coalesce(sum(reopened), 0) AS reopened,
               coalesce(sum(escalations), 0) AS escalations
        FROM ({rows}) AS figures GROUP BY 1 ORDER BY incidents DESC, key
    """


INCIDENT_WHERE = {"time": "opened_at", "rule": "group_id", "overdue": "len(overdue_stages) > 0"}
ALERT_WHERE = {"time": "a.created_at", "rule": "a.rule_id", "prefix": "a.", "units": "i.centre_id, i.department_id",
               "overdue": "(len(a.overdue_stages) > 0 OR coalesce(len(i.overdue_stages), 0) > 0)"}  # fmt: skip
INCIDENT_FIELDS = (
    "id", "opened_at", "closed_at", "state", "severity", "domain", "group_id", "title_zh", "title_en",
    "district_id", "town_id", "grid_id", "centre_id", "department_id", "members", "overdue_stages",
)  # fmt: skip
ALERT_FIELDS = ("a.id", "a.created_at", "a.cleared_at", "a.state", "a.severity", "a.domain", "a.rule_id", "a.title_zh",
                "a.title_en", "a.district_id", "a.town_id", "a.grid_id", "a.incident_id", "a.overdue_stages",
                "i.centre_id", "i.department_id")  # fmt: skip


def history(cur: Cursor, kind: str, selection: Selection, *, offset: int = 0, limit: int | None = 50
            ) -> tuple[int, pd.DataFrame]:  # fmt: skip
    """Incidents (`kind` "incidents") or alerts ("alerts") ever raised that the selection takes, newest first: how
    many in all, and the page from `offset` (all of them for limit None). An alert takes a unit through its
    incident's."""
    if kind == "incidents":
        sql, params = where(selection, **INCIDENT_WHERE)
        source, fields, order = f"incidents WHERE {sql}", ", ".join(INCIDENT_FIELDS), "opened_at DESC, id DESC"
    else:
        sql, params = where(selection, **ALERT_WHERE)
        source = f"alerts a LEFT JOIN incidents i ON i.id = a.incident_id WHERE a.suppressed_by IS NULL AND {sql}"
        fields, order = ", ".join(ALERT_FIELDS), "a.created_at DESC, a.id DESC"
    total = cur.execute(f"SELECT count(*) FROM {source}", params).fetchone()[0]
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    return total, frame(cur, f"SELECT {fields} FROM {source} ORDER BY {order}{page}", params)


def rule_names(cur: Cursor) -> list[str]:
    """The rules (and rule groups) incidents were ever opened by, for the history's filter."""
    return [r for (r,) in cur.execute("SELECT DISTINCT group_id FROM incidents ORDER BY 1").fetchall()]


def shift_items(cur: Cursor, start: datetime, end: datetime, scope: frozenset[str] | None) -> pd.DataFrame:
    """The incidents a shift [start, end) saw, in scope: opened in it, ended in it, or still open at its end (as
    they stand now), each with its overdue stages."""
    sql, params = where(Selection(scope=scope), **INCIDENT_WHERE)
    return frame(cur, f"""
        SELECT id, opened_at, closed_at, state, severity, domain, title_zh, title_en, district_id, town_id, grid_id,
               region_id, overdue_stages
        FROM incidents
        WHERE {sql} AND opened_at < ?
          AND (opened_at >= ? OR closed_at IS NULL OR closed_at >= ?)
        ORDER BY opened_at, id
    """, [*params, end, start, start])  # fmt: skip
