"""The store: one interface over two engines, and the data version that tells readers what changed.

`DuckDBStore` (store/duckdb_engine.py) is one embedded file, owned by one process: the default, what `make run` uses.
`PostgresStore` (store/postgres_engine.py) is a PostgreSQL server that several CityOps nodes share. Both hand each
thread a cursor of its own with the same few methods (execute, fetchone, fetchall, fetchnumpy, description), and
every query in `store/` is written once, in the SQL both engines understand (store/postgres_sql.py says what is
translated on the way to PostgreSQL and which DuckDB functions it is given).

The data version is bumped after each commit (the writer's, an action's), saying what changed (CHANGES); readers
compare versions instead of re-querying, and read again only what changed (`changed_since`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa

from store.records import Decoded

# What a new data version can say changed, so that a reader keeping a copy reads again only that part:
# readings (`latest`, observations), entities (their description or place), events, feeds (a feed's state),
# handling (alerts, incidents, their actions and clocks, silences, directives, notifications), and alert_values (only
# the latest value of open alerts whose condition still holds: what an alert's detail shows, no list).
CHANGES = ("readings", "entities", "events", "feeds", "handling", "alert_values")


class Store:
    """What every engine offers; an engine adds its connections (`cursor`, `heal`, `close`, `memory`)."""

    engine: str
    # Where this node keeps the files beside the store (photos, reports, its control socket): the DuckDB file's
    # path, or for PostgreSQL the node's state folder's `cityops.store` (no such file is made).
    path: str
    # Errors that say the store, not the data, failed (a full disk, a lost connection): keep the work, try again.
    failures: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self._version = 0
        self._changed_at = dict.fromkeys(CHANGES, 0)  # the version at which each kind of data last changed
        self._version_changed = threading.Condition()

    def cursor(self):
        """This thread's own cursor on the database."""
        raise NotImplementedError

    def heal(self) -> bool:
        """Connect again if the connection broke; True when it works (again)."""
        raise NotImplementedError

    def memory(self) -> dict[str, int]:
        """What the engine holds in this process, in MB."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def record_batch(self, cur, records: Decoded) -> None:
        """Note what a batch stored, in its transaction, for the rule engine of whichever node leads: PostgreSQL
        keeps a journal (store/journal.py); one DuckDB process hands its batches to its engine directly."""

    def make_partitions(self, times: Iterable[datetime]) -> None:
        """Make room for observations taken at `times`, before a transaction writes them: PostgreSQL keeps a
        partition per day (UTC); DuckDB needs nothing."""

    def share_file(self, name: str, data: bytes) -> None:
        """Keep a file's bytes where every node finds them (store/kept_files.py): PostgreSQL keeps them in a table;
        one DuckDB process has its folder, which is enough."""

    def shared_file(self, name: str) -> bytes | None:
        """The bytes another node kept under `name` with share_file; None if none did (or no other node can)."""
        return None

    @property
    def data_version(self) -> int:
        return self._version

    def bump_version(self, *changed: str) -> int:
        """A new data version, after a commit that changed `changed` (of CHANGES; none named: everything)."""
        unknown = set(changed) - set(CHANGES)
        if unknown:
            raise ValueError(f"not a kind of change: {sorted(unknown)} (one of {CHANGES})")
        return self._bump(changed)

    def _bump(self, changed: tuple[str, ...] | set[str]) -> int:
        with self._version_changed:
            self._version += 1
            for kind in changed or CHANGES:
                self._changed_at[kind] = self._version
            self._version_changed.notify_all()
            return self._version

    def changed_since(self, version: int) -> set[str]:
        """What changed after data version `version` (of CHANGES)."""
        with self._version_changed:
            return {kind for kind, at in self._changed_at.items() if at > version}

    def wait_for_version(self, newer_than: int, timeout: float, cancel: threading.Event | None = None) -> int:
        """Block until the data version passes `newer_than`, the timeout, or cancel_wait(cancel); returns the
        current version."""
        cancelled = cancel.is_set if cancel is not None else lambda: False
        with self._version_changed:
            self._version_changed.wait_for(lambda: self._version > newer_than or cancelled(), timeout=timeout)
            return self._version

    def cancel_wait(self, cancel: threading.Event) -> None:
        """Set `cancel` and wake the wait_for_version calls given it (a thread told to stop)."""
        with self._version_changed:
            cancel.set()
            self._version_changed.notify_all()


def arrow(cur, sql: str, params: list | dict | None = None) -> pa.Table:
    """A query's rows as an Arrow table, with the same column types on either engine."""
    if not isinstance(cur, duckdb.DuckDBPyConnection):
        return cur.arrow(sql, params)
    cur.complete()  # .sql() refuses to run while this cursor holds a half-fetched result (e.g. after fetchone)
    return cur.sql(sql, params=params).to_arrow_table()


def frame(cur, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame, with the same column types on either engine. Through Arrow: DuckDB 2.0's own
    .df() trips pandas 3 deprecations."""
    return arrow(cur, sql, params).to_pandas()


def typed(cur, table: str, columns: Sequence[str], source: str = "") -> list[str]:
    """The values that put `columns` (of `source`, a registered table) into `table`'s columns of the same
    names: on PostgreSQL each cast to its column's type, since it takes no text into JSON nor a column of NULLs (text,
    in a registered table) into a number; on DuckDB as they are."""
    prefix = f"{source}." if source else ""
    if isinstance(cur, duckdb.DuckDBPyConnection):
        return [prefix + column for column in columns]
    types = cur.column_types(table)
    return [f"CAST({prefix}{column} AS {types[column]})" for column in columns]


def records(cur) -> list[dict]:
    """The rows of the cursor's last query, each a dict by column name."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
