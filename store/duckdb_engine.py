"""The DuckDB file: opening it, migrating it, a cursor per thread.

DuckDB allows one process per file, so everything that touches the store runs as threads of one process, each
through its own cursor (sharing one connection across threads raises).

DuckDB invalidates the whole database after a fatal error (a checkpoint that hit a full disk): every later query
on that connection fails until it is opened again. `heal()` reopens it (the WAL replays what was committed), and
each thread's cursor follows the new connection.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from store.database import Store
from store.schema import MIGRATIONS
from store.transaction import transaction

log = logging.getLogger(__name__)


class DuckDBStore(Store):
    engine = "duckdb"
    failures = (duckdb.IOException, duckdb.FatalException, duckdb.ConnectionException, duckdb.OutOfMemoryException,
                OSError, MemoryError)  # fmt: skip

    def __init__(self, path: str | Path, memory_limit_mb: int | None = None):
        """`memory_limit_mb` bounds DuckDB's own memory (its default is 80% of the machine's); beyond it DuckDB
        evicts cached blocks and spills large queries to disk."""
        super().__init__()
        self.path = str(path)
        self.memory_limit_mb = memory_limit_mb
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = self._connect()
        self._generation = 0  # which connection the threads' cursors belong to
        self._reopening = threading.Lock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._migrate()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(self.path)
        connection.execute("SET TimeZone = 'UTC'")
        if self.memory_limit_mb:
            connection.execute(f"SET memory_limit = '{int(self.memory_limit_mb)}MB'")
        return connection

    def _migrate(self) -> None:
        con = self._connection
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            with transaction(con):
                sql = sql if isinstance(sql, str) else sql.get(self.engine, "")
                if sql.strip():
                    con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(UTC)])

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor on the database."""
        cur = getattr(self._local, "cursor", None)
        if cur is None or self._local.generation != self._generation:
            cur = self._connection.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cursor, self._local.generation = cur, self._generation
            self._cursors.append(cur)
        return cur

    def heal(self) -> bool:
        """Open the database again if a fatal error invalidated it; True when it works (again)."""
        with self._reopening:
            try:
                self.cursor().execute("SELECT 1").fetchall()
                return True
            except (duckdb.FatalException, duckdb.ConnectionException):
                pass
            # Every connection must be closed first: DuckDB hands a new connect() to the same path the instance it
            # still holds open, invalidated as it is.
            for closeable in (*self._cursors, self._connection):
                try:
                    closeable.close()
                except duckdb.Error as exc:
                    log.warning("closing the invalidated database: %s", exc)
            self._cursors.clear()
            self._generation += 1
            try:
                self._connection = self._connect()
            except duckdb.Error as exc:
                log.warning("the database cannot be opened again yet: %s", exc)
                return False  # still no room to replay the WAL: the next write or heal() tries again
            return True

    def memory(self) -> dict[str, int]:
        """What DuckDB holds, in MB: in memory by its own tags (of `memory_limit_mb`), and spilled to disk."""
        rows = (
            self.cursor()
            .execute("SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()")
            .fetchall()
        )
        used = {tag.lower(): round(held / 2**20) for tag, held, _ in rows if held >= 2**20}
        return {"total": round(sum(held for _, held, _ in rows) / 2**20), **used,
                "spilled": round(sum(spilled for _, _, spilled in rows) / 2**20)}  # fmt: skip

    def close(self) -> None:
        self._close_cursors()
        self._connection.close()

    def _close_cursors(self) -> None:
        for cur in self._cursors:
            try:
                cur.close()
            except duckdb.Error:  # still running a query in another thread: stop the query, then close
                cur.interrupt()
                for _ in range(50):  # an interrupted query takes a moment to unwind
                    time.sleep(0.1)
                    try:
                        cur.close()
                        break
                    except duckdb.ResourceInUseException:
                        cur.interrupt()
        self._cursors.clear()
