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


def test_a_batch_whose_evaluation_loses_a_conflict_is_evaluated_again(open_store, demo_regions):
    """The rule engine's evaluation of a batch conflicts with someone else's write to the same alert (an officer's
    action, the time limits): it used to be lost with a traceback ("a batch listener failed"), the alert keeping its
    old value until another reading came."""
    from alerts.rules import parse_rule_file
    from tests.app_config import RULES
    from tests.rule_city import City

    book = parse_rule_file(RULES)
    city = City(open_store("s"), demo_regions, book.rules, book)
    try:
        city.entity("g1")
        city.value("g1", water_level=12.5)
        [alert] = city.alerts()
        city.at(minutes=10)  # long enough for a reading to refresh the firing alert
        other = city.store.cursor()  # this thread's: the engine writes from the writer's thread
        other.execute("BEGIN")
        other.execute("UPDATE alerts SET last_value = 0 WHERE id = ?", [alert["id"]])  # holds the value
        # Released a moment after the batch reaches the engine, which meanwhile finds the row held.
        release = threading.Timer(0.03, lambda: other.execute("COMMIT"))
        city.writer.listeners.insert(0, lambda _batch: release.start())
        city.value("g1", water_level=12.9)
        release.join()
        assert city.alerts()[0]["last_value"] == 12.9
    finally:
        city.close()
