"""Accounts, sessions, display tokens, sign-in throttling and the audit log in the shared PostgreSQL database.

With several nodes (store.engine = "postgresql") a session opened on one node must hold on the others, a revoked
display token nowhere, and the audit log be one; so these tables move from each node's SQLite file into the
database the nodes share. `Accounts` keeps its SQL (SQLite's); this connection gives it the few sqlite3 methods it
uses and translates on the way: `?`, the column `user` (a reserved word here), `BEGIN IMMEDIATE` (an advisory lock
for the transaction, so that the throttle's read and write are one step across nodes too).
"""

from __future__ import annotations

import re

import psycopg

from store.postgres_sql import to_postgres

# The same tables as store/accounts.py SCHEMA and store/sign_in_throttle.py SCHEMA, in PostgreSQL's words.
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, districts TEXT NOT NULL DEFAULT '[]', password TEXT NOT NULL,
    must_change INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0, language TEXT,
    created_at DOUBLE PRECISION NOT NULL, changed_at DOUBLE PRECISION NOT NULL,
    unit TEXT, by_task INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, seen_at DOUBLE PRECISION NOT NULL, address TEXT
);
CREATE TABLE IF NOT EXISTS displays (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION, seen_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts);
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DO $$ BEGIN
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE IF NOT EXISTS sign_in_failures (
    key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS sign_in_failures_last ON sign_in_failures (last_at);
CREATE TABLE IF NOT EXISTS devices (
    token_hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL
);
"""
THROTTLE_LOCK = 7_202_600_003
_USER = re.compile(r'(?<![\w."])user(?![\w"])')


class Row(tuple):
    """A row by position or by column name, as sqlite3.Row (and dict(row) works)."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _rows(cursor):
    names = tuple(column.name for column in cursor.description or ())
    kind = type("Row", (Row,), {"names": names, "__slots__": ()})
    return lambda values: kind(values)


class AccountsConnection:
    """One thread's connection, answering Accounts' sqlite3 calls: execute (a cursor back), and `with` for a
    transaction (committed at its end, rolled back when it raises)."""

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection

    def execute(self, sql: str, params=()):
        if sql.strip() == "BEGIN IMMEDIATE":  # already in the `with` block's transaction
            sql, params = "SELECT pg_advisory_xact_lock(?)", [THROTTLE_LOCK]
        query, values = to_postgres(_USER.sub('"user"', sql), list(params))
        cur = self.connection.cursor(row_factory=_rows)
        try:
            cur.execute(query, values)
        except psycopg.OperationalError:
            self.connection.close()  # the server went away: the next db() connects again (store.postgres_engine)
            raise
        return cur

    def executescript(self, script: str) -> None:
        self.connection.execute(script)

    def __enter__(self) -> AccountsConnection:
        self.connection.execute("BEGIN")
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self.connection.execute("ROLLBACK" if kind is not None else "COMMIT")

    @property
    def broken(self) -> bool:
        return self.connection.broken or self.connection.closed

    def close(self) -> None:
        self.connection.close()
