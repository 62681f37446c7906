"""Two `cityops run` nodes on one database of the test's PostgreSQL server and one mosquitto, for the tests of
several nodes (tests/reliability/test_two_nodes.py, tests/browser/test_two_nodes.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from cityops.broker import Mosquitto
from store.leadership import LEADER_LOCK
from tests.harness import CityOps
from tests.postgres_server import PASSWORD, PostgresServer


@contextlib.contextmanager
def two_nodes(postgres: PostgresServer, mosquitto: Mosquitto, folder: Path, database: str,
              standbys: tuple[PostgresServer, ...] = (), **configured) -> Iterator[dict[str, CityOps]]:  # fmt: skip
    """Nodes "a" and "b", not started, on `postgres` (or, with `standbys`, on whichever of them takes writes);
    `configured`: app_config.config's keywords."""
    postgres.psql(f"CREATE DATABASE {database}")
    url = postgres.url(database, hosts=[postgres, *standbys] if standbys else None)
    store = (f'engine = "postgresql"\nurl = "{url}"\npassword_env = "CITYOPS_DB_PASSWORD"\n'
             f'path = "{folder / "files"}"')  # fmt: skip
    made = {name: CityOps(folder / name, mosquitto.port, env={"CITYOPS_DB_PASSWORD": PASSWORD}, store=store,
                          node=name, **configured) for name in ("a", "b")}  # fmt: skip
    try:
        yield made
    finally:
        for node in made.values():
            node.kill()
        if not standbys:  # a failover's servers go with their test
            postgres.psql(f"DROP DATABASE {database} WITH (FORCE)")


def leader(postgres: PostgresServer, database: str) -> str | None:
    """The node holding the leader's lock now, as the database sees it."""
    return postgres.psql(
        "SELECT substr(a.application_name, 9) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        f"AND ((l.classid::BIGINT << 32) | l.objid::BIGINT) = {LEADER_LOCK}", database) or None  # fmt: skip
