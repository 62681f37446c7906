"""The nodes serving the city: each one's heartbeat, and the list `cityops status` and /api/health show."""

from __future__ import annotations

import json
from datetime import datetime

from store.database import records


def heartbeat(cur, node: str, started_at: datetime, now: datetime, leader: bool, web: str | None,
              writer: dict | None) -> None:  # fmt: skip
    cur.execute(
        "INSERT INTO nodes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, "
        "seen_at = excluded.seen_at, leader = excluded.leader, web = excluded.web, writer = excluded.writer",
        [node, started_at, now, leader, web, json.dumps(writer) if writer is not None else None],
    )


def listed(cur) -> list[dict]:
    """Every node that ever beat, newest heartbeat first, its writer's figures as a dict."""
    cur.execute("SELECT id, started_at, seen_at, leader, web, writer FROM nodes ORDER BY seen_at DESC, id")
    rows = records(cur)
    for row in rows:
        row["writer"] = json.loads(row["writer"]) if row["writer"] else None
    return rows


def status(store, leader: str | None) -> dict:
    """What `cityops status` shows: the database, the leader, and each node with how long ago it was seen and how far
    its writer is behind (`leader`: as the leadership says, store.leadership)."""
    cur = store.cursor()
    if store.engine == "postgresql":
        version, standby, size, host, port = cur.execute(
            "SELECT current_setting('server_version'), pg_is_in_recovery(), pg_database_size(current_database()), "
            "inet_server_addr()::TEXT, inet_server_port()"
        ).fetchone()
        database = {"engine": "postgresql", "server": f"{host or 'local'}:{port}", "version": version,
                    "role": "standby" if standby else "primary", "size_mb": round(size / 2**20)}  # fmt: skip
    else:
        database = {"engine": "duckdb", "path": store.path}
    now = cur.execute("SELECT now()").fetchone()[0]
    out = []
    for row in listed(cur):
        writer = row["writer"] or {}
        seen_s_ago = round((now - row["seen_at"]).total_seconds(), 1)
        out.append({"id": row["id"], "leads": row["id"] == leader, "seen_s_ago": seen_s_ago, "web": row["web"],
                    "lag_s": writer.get("lag_s"), "queued": writer.get("queued"),
                    "messages_per_s": writer.get("messages_per_s"),
                    "started_at": row["started_at"].isoformat()})  # fmt: skip
    return {"database": database, "leader": leader, "nodes": out}


def printed(status: dict) -> str:
    """`status` as lines for a terminal."""
    db = status["database"]
    where = (
        f"{db['server']} (PostgreSQL {db['version']}, {db['role']}, {db['size_mb']:,} MB)"
        if db["engine"] == "postgresql"
        else f"{db['path']} (DuckDB)"
    )
    lines = [f"database: {where}", f"leader:   {status['leader'] or 'none (a failover is under way)'}", "nodes:"]
    for n in status["nodes"]:
        lines.append(f"  {n['id']:<20} {'leads' if n['leads'] else '     '}  seen {n['seen_s_ago']:>7.1f} s ago  "
                     f"lag {n['lag_s'] if n['lag_s'] is not None else '-':>6} s  queued {n['queued'] or 0:>6}  "
                     f"{n['messages_per_s'] or 0:>8} msg/s  web {n['web'] or '-'}")  # fmt: skip
    return "\n".join(lines)
