"""One transaction on a cursor: committed when the block ends, rolled back when it raises."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb


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


def roll_back(cur: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure, keeping that failure: a failed COMMIT has ended the transaction already, and an
    invalidated database refuses the ROLLBACK too."""
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")
