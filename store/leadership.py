"""Which node leads, and each node's heartbeat.

What must run once in a city runs on the leader alone: the rule engine, the time limits and escalations, the
feeds' silence checks and the scheduled jobs (figures, reports, roll-ups, retention). On PostgreSQL the leader is
the node that holds LEADER_LOCK, an advisory lock taken on a connection of its own: the server lets go of it the
moment that connection ends (the node died, or lost the database), and the other nodes, trying every `every_s`, take
it over. A node that finds its lock's connection broken stops leading at once, before it connects again; and what
the leader writes is fenced besides (store/journal.py), so that a node that only believes it leads writes nothing.
With DuckDB there is one process, and it leads.

Every `every_s` each node also writes its heartbeat (store/nodes.py): when it was seen, whether it leads, where its
web app listens and how far its writer is behind. `cityops status` and /api/health read them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from store import nodes
from store.database import Store

log = logging.getLogger(__name__)

LEADER_LOCK = 7_202_600_002  # CityOps' own key among the database's advisory locks


def leader_now(cur) -> str | None:
    """The node that holds the leader's lock now, by the name its connection gives (PostgreSQL); None: nobody."""
    row = cur.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND ((l.classid::BIGINT << 32) | l.objid::BIGINT) = ?",
        [LEADER_LOCK],
    ).fetchone()
    return row[0].removeprefix("cityops ") if row else None


class Leadership:
    def __init__(self, store: Store, node: str, *, web: str | None = None,
                 writer_stats: Callable[[], dict] | None = None,
                 on_change: Callable[[bool], None] | None = None, every_s: float = 1.0):  # fmt: skip
        """`on_change(True)` when this node starts to lead, `on_change(False)` when it stops (both called from the
        leadership's thread)."""
        self.store, self.node, self.web = store, node, web
        self.writer_stats = writer_stats or (lambda: None)
        self.on_change = on_change or (lambda leading: None)
        self.every_s = every_s
        self.started_at = datetime.now(UTC)
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._lock_connection: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="cityops-leadership", daemon=True)

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    def leader(self) -> str | None:
        """The node that leads now: this one, or on PostgreSQL whoever holds the lock (None: nobody, a failover)."""
        if self.leading or self.store.engine == "duckdb":
            return self.node if self.leading else None
        return leader_now(self.store.cursor())

    def start(self) -> None:
        if self.store.engine == "duckdb":
            self._lead(True)  # before the scheduler's first jobs, which the leader alone runs
        self._thread.start()

    def wait_until_leading(self, timeout: float) -> bool:
        return self._leading.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._let_go()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # the database is away: keep trying, leading nothing meanwhile
                log.warning("leadership: %s", exc)
                self._let_go()
            self._stop.wait(self.every_s)

    def _step(self) -> None:
        if self.store.engine == "duckdb":
            self._lead(True)
        elif self.leading:
            self._lock_connection.execute("SELECT 1")  # raises when the connection, and with it the lock, is gone
        else:
            if self._lock_connection is None or self._lock_connection.closed:
                self._lock_connection = self.store.connect()
            got = self._lock_connection.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK]).fetchone()[0]
            self._lead(bool(got))
        nodes.heartbeat(self.store.cursor(), self.node, self.started_at, datetime.now(UTC), self.leading, self.web,
                        self.writer_stats())  # fmt: skip

    def _lead(self, leading: bool) -> None:
        if leading == self.leading:
            return
        if leading:
            self._leading.set()
        else:
            self._leading.clear()
        log.info("node %s %s", self.node, "leads" if leading else "no longer leads")
        try:
            self.on_change(leading)
        except Exception:
            log.exception("what follows a change of leader failed")
            if leading:  # a leader that could not take up its work (the database went away meanwhile) lets go
                self._let_go()

    def _let_go(self) -> None:
        self._lead(False)
        connection, self._lock_connection = self._lock_connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()  # the server lets go of the lock with it
