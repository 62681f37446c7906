"""A PostgreSQL database that several CityOps nodes share: a connection per thread, the same schema and queries as
the DuckDB file (store/postgres_sql.py translates what differs), and the store's data version.

Each thread gets a connection of its own in autocommit mode; `store.transaction` opens and ends its transactions
with BEGIN and COMMIT as on DuckDB. A connection that broke (the server restarted, a standby was promoted) is made
again at the thread's next `cursor()`: with a multi-host URL (`target_session_attrs=read-write`) libpq finds the
server that takes writes. The work that failed with it is the caller's to retry (the writer keeps its batch).

A cursor hands rows back in DuckDB's shapes: JSON as its text, numbers as int or float (never Decimal), timestamps
in UTC; `frame` and `fetchnumpy` give the column types DuckDB's Arrow path gives.

Every node keeps its own data version. A node that bumps it tells the others (NOTIFY on CHANGES_CHANNEL, with what
changed), and each node's listener bumps its own on hearing it: a wall open on one node follows what another node
stored or what a person did there. A listener that lost its connection says everything changed once it is back,
since it may have missed news meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import psycopg
import psycopg.adapt
import psycopg.errors
import pyarrow as pa
from psycopg.types.string import TextLoader

from store import journal
from store.database import CHANGES, Store
from store.postgres_sql import COMPAT_FUNCTIONS, ddl, to_postgres
from store.records import Decoded
from store.schema import MIGRATIONS

log = logging.getLogger(__name__)

# Held while migrating, so that nodes starting together migrate once (the key is arbitrary, CityOps' own).
MIGRATION_LOCK = 7_202_600_001
CHANGES_CHANNEL = "cityops_changes"  # payload: "<node> <kind>,<kind>…"


class NumberLoader(psycopg.adapt.Loader):
    """numeric as int when whole (sum and count of integers), else float: DuckDB's shapes, never Decimal."""

    def load(self, data) -> int | float:
        text = bytes(data)
        if b"." in text or b"e" in text or b"E" in text or b"N" in text or b"I" in text:
            return float(text)
        return int(text)


def _arrow_type(oid: int, types) -> pa.DataType | None:
    info = types.get(oid)
    if info is None:
        return None
    if oid == info.array_oid:
        element = _arrow_type(info.oid, types)
        return pa.list_(element) if element is not None else None
    return {
        "text": pa.string(), "varchar": pa.string(), "json": pa.string(), "jsonb": pa.string(),
        "bpchar": pa.string(), "name": pa.string(),
        "float8": pa.float64(), "float4": pa.float32(), "numeric": pa.float64(),
        "int8": pa.int64(), "int4": pa.int32(), "int2": pa.int16(), "bool": pa.bool_(),
        "timestamptz": pa.timestamp("us", tz="UTC"), "timestamp": pa.timestamp("us"), "date": pa.date32(),
        "bytea": pa.binary(),
    }.get(info.name)  # fmt: skip


# Arrow types of registered tables, as PostgreSQL column types.
_COLUMN_TYPES = {
    pa.string(): "text", pa.large_string(): "text", pa.float64(): "double precision", pa.float32(): "real",
    pa.int64(): "bigint", pa.int32(): "integer", pa.int16(): "smallint", pa.bool_(): "boolean",
    pa.binary(): "bytea", pa.date32(): "date", pa.list_(pa.string()): "text[]", pa.list_(pa.int64()): "bigint[]",
    pa.list_(pa.float64()): "double precision[]",
}  # fmt: skip


def _column_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "timestamptz" if arrow.tz else "timestamp"
    if pa.types.is_dictionary(arrow):
        return _column_type(arrow.value_type)
    if arrow in _COLUMN_TYPES:
        return _COLUMN_TYPES[arrow]
    if pa.types.is_null(arrow):
        return "text"
    raise TypeError(f"no PostgreSQL column type for {arrow}")


class PgCursor:
    """One thread's connection, with the DuckDB cursor's methods the store uses."""

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection
        self._cur = connection.cursor()
        self._registered: dict[str, tuple] = {}  # temporary tables made for `register`, by name: their columns
        self._column_types: dict[str, dict[str, str]] = {}

    def execute(self, sql: str, params: list | tuple | dict | None = None) -> PgCursor:
        query, values = to_postgres(sql, params)
        if query == "ROLLBACK":  # a temporary table made in the transaction is gone with it
            self._registered.clear()
        try:
            self._cur.execute(query, values)
        except psycopg.OperationalError:
            # The server went away (it died, or shut down for a failover), or refused for want of a resource: psycopg
            # does not always call the connection broken after a FATAL from the server. Closed, the thread's next
            # cursor() connects again, to whichever server takes writes then.
            self.close()
            raise
        return self

    @property
    def description(self):
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self):
        if self._cur.description is None:  # INSERT, UPDATE, DELETE: DuckDB answers with the rows they changed
            return (self._cur.rowcount,)
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple]:
        if self._cur.description is None:
            return [(self._cur.rowcount,)]
        return self._cur.fetchall()

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """The rows as a column of numbers or objects each; NULL as NaN in floats, masked in the others."""
        table = self._arrow()
        out = {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            values = column.to_numpy(zero_copy_only=False)
            if column.null_count and not pa.types.is_floating(column.type):
                values = np.ma.masked_array(values, mask=column.is_null().to_numpy(zero_copy_only=False))
            out[name] = values
        return out

    def arrow(self, sql: str, params: list | tuple | dict | None = None) -> pa.Table:
        self.execute(sql, params)
        return self._arrow()

    def _arrow(self) -> pa.Table:
        description = self._cur.description or []
        rows = self._cur.fetchall()
        types = self.connection.adapters.types
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in description]
        arrays = {}
        for column, values in zip(description, columns, strict=True):
            arrays[column.name] = pa.array(list(values), type=_arrow_type(column.type_code, types))
        return pa.table(arrays) if arrays else pa.table({})

    def register(self, name: str, data) -> None:
        """`data` (an arrow table or a data frame) as the temporary table `name`, written with COPY. The table is
        made once per connection and emptied for each use: making and dropping tables at every batch would bloat
        PostgreSQL's catalog."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        columns = tuple((field.name, _column_type(field.type)) for field in table.schema)
        if self._registered.get(name) != columns:
            self._cur.execute(f'DROP TABLE IF EXISTS pg_temp."{name}"')
            listed = ", ".join(f'"{column}" {kind}' for column, kind in columns)
            self._cur.execute(f'CREATE TEMPORARY TABLE "{name}" ({listed})')
            self._registered[name] = columns
        else:
            self._cur.execute(f'DELETE FROM pg_temp."{name}"')
        names = ", ".join(f'"{column}"' for column, _ in columns)
        with self._cur.copy(f'COPY pg_temp."{name}" ({names}) FROM STDIN') as copy:
            copy.set_types([kind for _, kind in columns])
            for row in zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True):
                copy.write_row(row)

    def unregister(self, name: str) -> None:
        if name in self._registered:
            self._cur.execute(f'DELETE FROM pg_temp."{name}"')

    def column_types(self, table: str) -> dict[str, str]:
        """A store table's columns and their types, as SQL names them (read once per connection)."""
        if table not in self._column_types:
            self._cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                              "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", [table])  # fmt: skip
            self._column_types[table] = dict(self._cur.fetchall())
        return self._column_types[table]

    def complete(self) -> None:
        """Nothing to do: DuckDB's cursor needs it between a half-read result and the next query."""

    def interrupt(self) -> None:
        self.connection.cancel_safe()

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.connection.close()


class PostgresStore(Store):
    engine = "postgresql"
    failures = (psycopg.OperationalError, psycopg.errors.AdminShutdown, psycopg.errors.ReadOnlySqlTransaction,
                psycopg.errors.DiskFull, psycopg.errors.OutOfMemory, OSError, MemoryError)  # fmt: skip

    memory_limit_mb = None  # the server's memory is the server's

    def __init__(self, url: str, *, password: str | None = None, path: str | Path = "cityops.store",
                 node: str = "cityops", listen: bool = True):  # fmt: skip
        """`node` names this process to the others (and in pg_stat_activity); `listen`: follow the other nodes'
        changes (a tool that only reads or writes once needs not)."""
        super().__init__()
        self.url = url
        self._password = password
        self.path = str(path)
        self.node = node
        self._local = threading.local()
        self._cursors: list[PgCursor] = []
        self._cursors_lock = threading.Lock()
        self._partitions: set[date] = set()  # days whose partition of observations is known to exist
        self._migrate()
        self._closing = threading.Event()
        self._listener = None
        if listen:
            self._listener = threading.Thread(target=self._listen, name="cityops-store-listener", daemon=True)
            self._listener.start()

    def connect(self, **kwargs) -> psycopg.Connection:
        """A new connection of this store's, in autocommit mode, giving DuckDB's shapes back."""
        extra = {"password": self._password} if self._password else {}
        connection = psycopg.connect(self.url, autocommit=True, application_name=f"cityops {self.node}"[:63],
                                     **extra, **kwargs)  # fmt: skip
        connection.execute("SET TimeZone = 'UTC'")
        # JIT compiles a query whose estimated cost is high (a roll-up over a generated series of hours is estimated
        # at a thousand rows a series): a second or more spent to save milliseconds on the store's queries.
        connection.execute("SET jit = off")
        for json_type in ("json", "jsonb"):
            connection.adapters.register_loader(json_type, TextLoader)
        connection.adapters.register_loader("numeric", NumberLoader)
        return connection

    def _migrate(self) -> None:
        with self.connect() as con:
            con.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
            try:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
                )
                con.execute(COMPAT_FUNCTIONS)
                done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
                for version, name, sql in MIGRATIONS:
                    if version in done:
                        continue
                    with con.transaction():
                        sql = ddl(sql) if isinstance(sql, str) else sql.get(self.engine, "")
                        if sql.strip():
                            con.execute(sql)
                        con.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                                    [version, name, datetime.now(UTC)])  # fmt: skip
            finally:
                con.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])

    def cursor(self) -> PgCursor:
        cur = getattr(self._local, "cursor", None)
        if cur is None or cur.connection.broken or cur.connection.closed:
            if cur is not None:
                self._forget(cur)
            cur = PgCursor(self.connect())
            self._local.cursor = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    def _forget(self, cur: PgCursor) -> None:
        cur.close()
        with self._cursors_lock:
            if cur in self._cursors:
                self._cursors.remove(cur)

    def record_batch(self, cur, records: Decoded) -> None:
        if records.entities or records.observations or records.events:
            journal.record(cur, self.node, sorted({e.id for e in records.entities}),
                           sorted({o.entity_id for o in records.observations}),
                           sorted({e.id for e in records.events}))  # fmt: skip

    def make_partitions(self, times: Iterable[datetime]) -> None:
        missing = {t.astimezone(UTC).date() for t in times} - self._partitions
        if missing:  # in a statement of its own: inside the batch's transaction it would lock out other writers
            self.cursor().execute("SELECT observation_partition(d) FROM unnest(?::date[]) AS days(d)",
                                  [sorted(missing)])  # fmt: skip
            self._partitions |= missing

    def share_file(self, name: str, data: bytes) -> None:
        self.cursor().execute("INSERT INTO kept_files (name, data) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                              [name, data])  # fmt: skip

    def shared_file(self, name: str) -> bytes | None:
        row = self.cursor().execute("SELECT data FROM kept_files WHERE name = ?", [name]).fetchone()
        return bytes(row[0]) if row else None

    def heal(self) -> bool:
        try:
            self.cursor().execute("SELECT 1").fetchall()
            return True
        except psycopg.Error as exc:
            log.warning("the database does not answer yet: %s", exc)
            return False

    def memory(self) -> dict[str, int]:
        return {"total": 0}  # the server's memory is the server's; this process holds no cache of it

    def bump_version(self, *changed: str) -> int:
        version = super().bump_version(*changed)
        try:
            self.cursor().execute("SELECT pg_notify(?, ?)", [CHANGES_CHANNEL, f"{self.node} {','.join(changed)}"])
        except psycopg.Error as exc:  # the others catch up when their listener connects again, or at their next news
            log.warning("could not tell the other nodes of a change: %s", exc)
        return version

    def _listen(self) -> None:
        heard_before = False
        while not self._closing.is_set():
            try:
                with self.connect() as connection:
                    connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    if heard_before:
                        self._bump(CHANGES)  # what was news while we were away is not known: all of it
                    heard_before = True
                    while not self._closing.is_set():
                        for note in connection.notifies(timeout=0.5, stop_after=100):
                            node, _, kinds = note.payload.partition(" ")
                            if node != self.node:
                                self._bump([k for k in kinds.split(",") if k in CHANGES] or CHANGES)
            except psycopg.Error as exc:
                if not self._closing.is_set():
                    log.warning("listening to the other nodes failed (trying again): %s", exc)
                    self._closing.wait(1.0)

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.join(5)
        with self._cursors_lock:
            cursors, self._cursors = self._cursors, []
        for cur in cursors:
            cur.close()
