"""The DuckDB file: opening it, migrating it, a cursor per thread, and the data version.

DuckDB allows one process per file, so everything that touches the store runs as threads of one process, each
through its own cursor (sharing one connection across threads raises). The data version is bumped by the writer
after each commit; readers compare versions instead of re-querying.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from store.schema import MIGRATIONS


class Store:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(self.path)
        self._connection.execute("SET TimeZone = 'UTC'")
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._version = 0
        self._version_changed = threading.Condition()
        self._migrate()

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
            con.execute("BEGIN")
            try:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(UTC)])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor on the database."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._connection.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cursor = cur
            self._cursors.append(cur)
        return cur

    @property
    def data_version(self) -> int:
        return self._version

    def bump_version(self) -> int:
        with self._version_changed:
            self._version += 1
            self._version_changed.notify_all()
            return self._version

    def wait_for_version(self, newer_than: int, timeout: float) -> int:
        """Block until the data version passes `newer_than` (or the timeout); returns the current version."""
        with self._version_changed:
            self._version_changed.wait_for(lambda: self._version > newer_than, timeout=timeout)
            return self._version

    def close(self) -> None:
        for cur in self._cursors:
            try:
                cur.close()
            except duckdb.Error:  # still running a query in another thread: stop the query, then close
                cur.interrupt()
                time.sleep(0.1)
                cur.close()
        self._cursors.clear()
        self._connection.close()


def frame(cur: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame. Through Arrow: DuckDB 2.0's own .df() trips pandas 3 deprecations."""
    cur.complete()  # .sql() refuses to run while this cursor holds a half-fetched result (e.g. after fetchone)
    return cur.sql(sql, params=params).to_arrow_table().to_pandas()


def records(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """The rows of the cursor's last query, each a dict by column name."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
