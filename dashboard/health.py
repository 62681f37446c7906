"""/api/health: what a supervisor or a monitoring system asks of the running server — the feeds and their changes
of state, the counts in the store, the writer's backlog, the wall's snapshot and cells, and the process's memory as
the operating system sees it.

/healthz, which answers anyone for a load balancer, is in dashboard/app.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from flask import Flask, Response

from dashboard.snapshot import Snapshots
from store import feed_log, nodes, notifications, queries
from store.database import Store
from store.leadership import Leadership
from store.writer import Writer


def resident_mb(pid: int | str = "self") -> float | None:
    """A process's resident memory (VmRSS) in MB; None where /proc does not have it (not Linux, or it ended)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return None


def register(server: Flask, store: Store, writer: Writer | None, snapshots: Snapshots,
             leadership: Leadership | None = None) -> None:  # fmt: skip
    @server.get("/api/health")
    def health():
        feeds = queries.feed_status(store)
        body = {
            # Which node answered and which one leads (the one that runs the rules, time limits and jobs).
            "node": leadership.node if leadership else None,
            "leader": leadership.leader() if leadership else None,
            "nodes": [
                {**row, "started_at": row["started_at"].isoformat(), "seen_at": row["seen_at"].isoformat()}
                for row in nodes.listed(store.cursor())
            ],  # fmt: skip
            "data_version": store.data_version,
            "entities": queries.count(store, "entities"),
            "observations": queries.count(store, "observations"),
            "events": queries.count(store, "events"),
            "dead_letters": queries.count(store, "dead_letters"),
            # Deliveries of notifications by state: "dead" ones were given up (`cityops notifications replay`).
            "notifications": notifications.counts(store.cursor()),
            "writer": None if writer is None else writer.stats(),
            "snapshot": snapshots.stats(),
            "cells": dict(server.extensions["cityops_cells"]),
            "memory": {"rss_mb": resident_mb(), "store_mb": store.memory(), "store_limit_mb": store.memory_limit_mb},
            "feed_changes": [
                {"id": r.feed_id, "ts": r.ts.isoformat(), "state": r.state, "reason": r.reason}
                for r in feed_log.changes(store, datetime.now(UTC) - timedelta(days=1)).itertuples(index=False)
            ],
            "feeds": [
                {
                    "id": r.feed_id,
                    "state": r.state,
                    "reason": r.reason,
                    "messages": int(r.messages),
                    "errors": int(r.errors),
                    "discarded": int(r.discarded),
                    "suspect": int(r.suspect),
                }
                for r in feeds.itertuples(index=False)
            ],
        }
        return Response(orjson.dumps(body), mimetype="application/json")
