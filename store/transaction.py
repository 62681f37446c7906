"""One transaction on a cursor: committed when the block ends, rolled back when it raises; on either engine."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import duckdb
import psycopg
import psycopg.errors

T = TypeVar("T")
ERRORS = (duckdb.Error, psycopg.Error)


@contextlib.contextmanager
def transaction(cur) -> Iterator:
    """Everything the block writes through `cur` in one commit; a failing commit is rolled back too."""
    cur.execute("BEGIN")
    try:
        yield cur
        cur.execute("COMMIT")
    except BaseException:
        roll_back(cur)
        raise


@contextlib.contextmanager
def registered(cur, name: str, data) -> Iterator[str]:
    """`data` (an arrow table or a data frame) as the table `name` while the block runs. What the block raises is
    what the caller sees: in a transaction a conflict has aborted, unregistering fails too, and it hid the conflict
    from `retrying`."""
    cur.complete()  # DuckDB registers nothing while this cursor holds a half-fetched result (e.g. after fetchone)
    cur.register(name, data)
    try:
        yield name
    finally:
        with contextlib.suppress(*ERRORS):
            cur.unregister(name)


def roll_back(cur) -> None:
    """Roll back after a failure, keeping that failure: a failed COMMIT has ended the transaction already, and an
    invalidated database refuses the ROLLBACK too."""
    with contextlib.suppress(*ERRORS):
        cur.execute("ROLLBACK")


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` refused a transaction because another one changed the same rows, so that it may run again:
    DuckDB's optimistic "Conflict on update", PostgreSQL's serialization failure or deadlock."""
    if isinstance(exc, duckdb.TransactionException):
        return "Conflict" in str(exc)
    return isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected)


def retrying(work: Callable[[], T], attempts: int = 5) -> T:
    """Run `work`, one transaction of its own, again when the engine refuses it for a row another transaction
    changed meanwhile (the engine, the writer and the web threads may touch one alert, incident or feed at once).
    The one that loses tries again, a moment later."""
    for attempt in range(attempts):
        try:
            return work()
        except ERRORS as exc:
            if not is_conflict(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1) + random.random() * 0.01)
    raise AssertionError("unreachable")
