"""One transaction on a cursor: committed when the block ends, rolled back when it raises."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import duckdb

T = TypeVar("T")


@contextlib.contextmanager
def transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything the block writes through `cur` in one commit; a failing commit is rolled back too."""
    cur.execute("BEGIN")
    try:
        yield cur
        cur.execute("COMMIT")
    except BaseException:
        roll_back(cur)
        raise


@contextlib.contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, data) -> Iterator[str]:
    """`data` (an arrow table or a data frame) as the view `name` while the block runs. What the block raises is
    what the caller sees: in a transaction a conflict has aborted, unregistering fails too, and it hid the conflict
    from `retrying`."""
    cur.register(name, data)
    try:
        yield name
    finally:
        with contextlib.suppress(duckdb.Error):
            cur.unregister(name)


def roll_back(cur: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure, keeping that failure: a failed COMMIT has ended the transaction already, and an
    invalidated database refuses the ROLLBACK too."""
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


def retrying(work: Callable[[], T], attempts: int = 5) -> T:
    """Run `work`, one transaction of its own, again when DuckDB refuses it for a row another transaction changed
    meanwhile ("Conflict on update": the engine, the writer and the web threads may touch one alert, incident or
    feed at once). DuckDB's concurrency is optimistic: the one that loses tries again, a moment later."""
    for attempt in range(attempts):
        try:
            return work()
        except duckdb.TransactionException as exc:
            if "Conflict" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1) + random.random() * 0.01)
    raise AssertionError("unreachable")
