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
