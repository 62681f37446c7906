"""Several nodes on one PostgreSQL database: each hears what the others changed, and nothing twice."""

import time

import pytest

from store import journal, nodes
from store.database import CHANGES
from store.journal import NotLeading
from store.leadership import Leadership, leader_now
from store.transaction import transaction
from tests.rule_city import City
from tests.unit.test_rule_engine import THRESHOLD, rule

pytestmark = pytest.mark.parametrize("open_store", ["postgresql"], indirect=True)


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_change_on_one_node_is_news_on_the_other_with_what_changed(open_store):
    a, b = open_store("city", node="a"), open_store("city", node="b")
    time.sleep(0.3)  # both listen
    seen_a, seen_b = a.data_version, b.data_version
    a.bump_version("handling")
    assert wait_until(lambda: b.data_version > seen_b), "node b never heard of node a's change"
    assert b.changed_since(seen_b) == {"handling"}
    time.sleep(0.3)
    assert a.data_version == seen_a + 1, "a node hears its own news once, not again from the server"
    seen_a, seen_b = a.data_version, b.data_version
    b.bump_version()  # everything
    assert wait_until(lambda: a.data_version > seen_a)
    assert a.changed_since(seen_a) == set(CHANGES)


def test_a_node_that_lost_its_connection_takes_everything_as_changed_once_back(open_store, postgres):
    a = open_store("city", node="a")
    time.sleep(0.3)
    seen = a.data_version
    postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cityops a'")
    assert wait_until(lambda: a.data_version > seen, timeout=15), "the listener did not come back"
    assert a.changed_since(seen) == set(CHANGES)
    assert a.cursor().execute("SELECT 1").fetchone() == (1,), "a thread's broken connection is made again"


def test_one_node_leads_and_another_takes_over_within_seconds_when_it_goes(open_store):
    a, b = open_store("city", node="a"), open_store("city", node="b")
    changes = []
    first = Leadership(a, "a", on_change=lambda leading: changes.append(("a", leading)), every_s=0.2)
    second = Leadership(b, "b", on_change=lambda leading: changes.append(("b", leading)), every_s=0.2)
    first.start()
    assert first.wait_until_leading(10)
    second.start()
    time.sleep(1)
    assert not second.leading and leader_now(a.cursor()) == "a"
    assert {n["id"]: n["leader"] for n in nodes.listed(a.cursor())} == {"a": True, "b": False}
    started = time.monotonic()
    first.stop()  # its lock's connection ends with it, as when the process dies
    assert second.wait_until_leading(10), "nobody took over"
    assert time.monotonic() - started < 3
    assert leader_now(a.cursor()) == "b"
    assert changes == [("a", True), ("a", False), ("b", True)]
    second.stop()


def test_the_leaders_engine_evaluates_what_every_node_stored_once_across_a_change_of_leader(
        open_store, demo_regions):  # fmt: skip
    rules = rule(THRESHOLD)
    leader = City(open_store("city", node="a"), demo_regions, rules, journal=True)
    other = City(open_store("city", node="b"), demo_regions, rules, journal=True)
    other.journal, following = None, other.journal  # b does not lead yet: it stores, and its engine waits
    try:
        leader.entity("g1")
        other.value("g1", level=11)  # stored by node b: the leader reads it from the journal
        leader.journal.catch_up()
        leader.at(minutes=2)
        other.at(minutes=2).value("g1", level=11.5)
        assert leader.journal.catch_up() == 1
        [alert] = leader.alerts()
        assert alert["state"] == "new" and alert["last_value"] == 11.5
        stale = journal.position(leader.store.cursor())
        # Node b leads now: its engine takes up the instances and the journal where a left them.
        other.engine.resume()
        other.journal = following
        other.at(minutes=1).value("g1", level=12)  # caught up by b's own reader
        assert other.journal.read == 1, "b reads from where a left the journal: nothing a read is read again"
        [alert] = other.alerts()
        assert alert["last_value"] == 12 and alert["fire_count"] == 1
        # a, still believing it leads, cannot move the position any more.
        with pytest.raises(NotLeading), transaction(leader.store.cursor()):
            journal.advance(leader.store.cursor(), stale, journal.Position(stale.xact, stale.id + 1))
    finally:
        leader.close()
        other.close()
