"""Stores for the contract tests: the same test against the DuckDB file and against a PostgreSQL database.

A test asks for `open_store` (tests/conftest.py), parametrized over both engines, and calls it for each store it
needs: `open_store()` makes a new one, `open_store("a")` opens store "a" again (as after a restart). PostgreSQL's
databases are copies of a template migrated once per server, so a new database costs a file copy, not a migration.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from store.database import Store
from store.duckdb_engine import DuckDBStore
from store.postgres_engine import PostgresStore
from tests.postgres_server import PASSWORD, PostgresServer

ENGINES = ("duckdb", "postgresql")
TEMPLATE = "cityops_template"
_numbers = itertools.count()


def prepare_template(server: PostgresServer) -> None:
    """The migrated database every test's database is copied from."""
    server.psql(f"CREATE DATABASE {TEMPLATE}")
    PostgresStore(server.url(TEMPLATE), password=PASSWORD, listen=False).close()


class StoreMaker:
    """Opens stores of one engine for one test, by name, and closes them all at its end."""

    def __init__(self, engine: str, folder: Path, server: PostgresServer | None):
        """`engine`: which of ENGINES it opens."""
        self.engine, self.folder, self.server = engine, folder, server
        self.opened: list[Store] = []
        self._databases: dict[str, str] = {}

    def __call__(self, name: str | None = None, node: str = "test") -> Store:
        name = name or f"s{next(_numbers)}"
        if self.engine == "duckdb":
            store = DuckDBStore(self.folder / f"{name}.duckdb")
        else:
            if name not in self._databases:
                database = "t{}_{}".format(next(_numbers), "".join(c if c.isalnum() else "_" for c in name.lower()))
                self.server.psql(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE}")
                self._databases[name] = database
            store = PostgresStore(self.server.url(self._databases[name]), password=PASSWORD,
                                  path=self.folder / f"{name}.store", node=node)  # fmt: skip
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()
        for database in self._databases.values():
            self.server.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
