"""The feed health table: every (state, event) pair, applied to a real store, does what NEXT says, and the table
drawn in the module's docstring is the one in force."""

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from store import feed_health
from store.feed_health import NEXT, FeedEvent, FeedState
from tests.stores import ENGINES, StoreMaker

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
PAIRS = sorted(itertools.product(FeedState, FeedEvent))
FEED_NUMBERS = itertools.count()


@pytest.fixture(scope="module", params=ENGINES)
def store(request, tmp_path_factory):
    """One store of each engine for the module: each test makes feeds of its own in it."""
    server = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    maker = StoreMaker(request.param, tmp_path_factory.mktemp("health"), server)
    yield maker()
    maker.close()


def feed_in(store, state: FeedState) -> tuple[str, object]:
    """A new feed in `state` since T0, with reason 'before'; its id and a cursor."""
    cur = store.cursor()
    feed_id = f"f{next(FEED_NUMBERS)}-{state}"
    if state is not FeedState.UNKNOWN:
        cur.execute("INSERT INTO feed_status VALUES ($feed, $state, 'before', $t0, $t0, 0, 0, 0, 0)",
                    {"feed": feed_id, "state": state.value, "t0": T0})  # fmt: skip
    return feed_id, cur


def row(cur, feed_id):
    return cur.execute("SELECT state, reason, changed_at FROM feed_status WHERE feed_id = ?", [feed_id]).fetchone()


def logged(cur, feed_id):
    return cur.execute("SELECT state, reason FROM feed_log WHERE feed_id = ?", [feed_id]).fetchall()


def test_the_table_has_every_pair():
    assert set(NEXT) == set(PAIRS)
    assert all(NEXT[s, e] is not FeedState.UNKNOWN for s, e in PAIRS)  # nothing makes a feed unheard of again


@pytest.mark.parametrize(("state", "event"), PAIRS)
def test_every_pair_applied_to_the_store(store, state, event):
    feed_id, cur = feed_in(store, state)
    result = feed_health.record(cur, feed_id, event, "because", T1)
    after = NEXT[state, event]
    if after is None:  # nothing new: the row (or its absence) and the log stay as they were
        assert result is None
        assert row(cur, feed_id) == (None if state is FeedState.UNKNOWN else (state.value, "before", T0))
        assert logged(cur, feed_id) == []
        return
    reason = "" if after is FeedState.OK else "because"  # an ok feed has no reason
    assert (result.before, result.after, result.changed) == (state, after, after != state)
    assert row(cur, feed_id) == (after.value, reason, T1 if after != state else T0)
    assert logged(cur, feed_id) == ([(after.value, reason)] if after != state else [])


def test_every_pair_applied_in_one_call_does_what_each_alone_does(store):
    """record_all, as the writer calls it once per batch for all its feeds: the same rows, logs and results."""
    together = [(feed_in(store, state)[0], state, event) for state, event in PAIRS]
    alone = [(feed_in(store, state)[0], state, event) for state, event in PAIRS]
    cur = store.cursor()
    reports = [feed_health.Report(f, e, "because", messages=2) for f, _, e in together]
    results = feed_health.record_all(cur, reports, T1)
    for (f, _, e), (g, _, _), result in zip(together, alone, results, strict=True):
        assert result == feed_health.record(cur, g, e, "because", T1, messages=2)
        assert row(cur, f) == row(cur, g) and logged(cur, f) == logged(cur, g)
        counted = cur.execute("SELECT messages FROM feed_status WHERE feed_id IN (?, ?)", [f, g]).fetchall()
        assert counted == ([] if row(cur, g) is None else [(2,), (2,)])


def test_a_down_feed_comes_back_only_by_its_messages_or_its_answers():
    assert {e for e in FeedEvent if NEXT[FeedState.DOWN, e] is FeedState.OK} == {
        FeedEvent.STORED, FeedEvent.ANSWERED, FeedEvent.POLL_RECOVERED}  # fmt: skip
    # Garbage, or a failed poll after silence, shows it alive but sick; nothing else moves it.
    assert {e for e in FeedEvent if NEXT[FeedState.DOWN, e] is FeedState.DEGRADED} == {
        FeedEvent.UNDECODABLE, FeedEvent.POLL_FAILED}  # fmt: skip


def test_silence_and_losing_the_broker_make_any_feed_down_and_a_regained_broker_says_nothing():
    for state in FeedState:
        assert NEXT[state, FeedEvent.BROKER_LOST] is FeedState.DOWN
        assert NEXT[state, FeedEvent.SILENT] in (FeedState.DOWN, None)
        assert NEXT[state, FeedEvent.BROKER_BACK] is None


def test_messages_received_before_an_outage_do_not_end_it_but_are_counted(store):
    feed_id, cur = feed_in(store, FeedState.DOWN)
    result = feed_health.record(cur, feed_id, FeedEvent.STORED, "", T1, received_at=T0 - timedelta(seconds=1),
                                last_message_at=T0 - timedelta(seconds=1), messages=3)  # fmt: skip
    assert (result.before, result.after) == (FeedState.DOWN, FeedState.DOWN)
    assert row(cur, feed_id) == ("down", "before", T0)
    assert cur.execute("SELECT messages FROM feed_status WHERE feed_id = ?", [feed_id]).fetchone() == (3,)
    # Received after it went down: the feed is back.
    feed_health.record(cur, feed_id, FeedEvent.STORED, "", T1, received_at=T1, messages=1)
    assert row(cur, feed_id) == ("ok", "", T1)


def test_the_docstring_draws_the_table_in_force():
    lines = feed_health.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["event", "sent"])
    columns = [FeedState(name) for name in lines[start].split("from:")[1].split()]
    drawn = {}
    for line in itertools.takewhile(str.strip, lines[start + 1 :]):
        event = FeedEvent(re.split(r"\s{2,}", line.strip())[0])
        for state, cell in zip(columns, line.split()[-len(columns) :], strict=True):
            drawn[state, event] = None if cell == "-" else FeedState(cell)
    assert drawn == NEXT
