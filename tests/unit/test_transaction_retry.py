"""Two transactions that change one row: DuckDB refuses the second ("Conflict on update"); `retrying` runs it again
once the first has committed, and lets any other error through at once."""

from __future__ import annotations

import threading

import duckdb
import pytest

from store.transaction import retrying, transaction


def test_the_loser_of_a_conflict_tries_again_and_gets_through(tmp_path):
    db = duckdb.connect(str(tmp_path / "t.duckdb"))
    db.execute("CREATE TABLE feeds (id VARCHAR PRIMARY KEY, n INTEGER)")
    db.execute("INSERT INTO feeds VALUES ('f', 0)")
    first, second = db.cursor(), db.cursor()
    first.execute("BEGIN")
    first.execute("UPDATE feeds SET n = n + 1 WHERE id = 'f'")  # holds the row until it commits
    tries = []

    def bump() -> None:
        tries.append(1)
        with transaction(second):
            second.execute("UPDATE feeds SET n = n + 10 WHERE id = 'f'")

    releaser = threading.Timer(0.03, lambda: first.execute("COMMIT"))
    releaser.start()
    retrying(bump)
    releaser.join()
    assert len(tries) >= 2  # refused at least once while the first held the row
    assert db.execute("SELECT n FROM feeds").fetchone()[0] == 11


def test_another_error_is_not_tried_again(tmp_path):
    tries = []

    def broken() -> None:
        tries.append(1)
        raise duckdb.CatalogException("no such table")

    with pytest.raises(duckdb.CatalogException):
        retrying(broken)
    assert tries == [1]
