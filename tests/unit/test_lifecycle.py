"""The transition table: every allowed transition works, every other (state, action) pair is refused."""

import itertools

import pytest

from alerts.lifecycle import ACTIONS, IN_PLACE, NOTE_REQUIRED, TRANSITIONS, TransitionError, transition
from store.records import ALERT_STATES as STATES


def test_the_closed_loop_path():
    path = [
        ("new", "acknowledge"),
        ("acknowledged", "dispatch"),
        ("dispatched", "start"),
        ("in_progress", "resolve"),
        ("resolved", "close"),
    ]
    state = "new"
    for expected_from, action in path:
        assert state == expected_from
        state = transition(state, action, note="done").to_state
    assert state == "closed"


@pytest.mark.parametrize(("state", "action"), sorted(TRANSITIONS))
def test_every_allowed_transition(state, action):
    t = transition(state, action, note="because")
    assert (t.from_state, t.to_state) == (state, TRANSITIONS[(state, action)])


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (s, a)
        for s, a in itertools.product(STATES, ACTIONS)
        if (s, a) not in TRANSITIONS and s not in IN_PLACE.get(a, ())
    ],
)
def test_every_other_pair_is_refused_naming_state_and_action(state, action):
    with pytest.raises(TransitionError) as err:
        transition(state, action, note="because")
    assert action in str(err.value) and (state in str(err.value) or action == "snooze")


def test_terminal_states_allow_only_comments():
    for state in ("closed", "cancelled"):
        assert [a for a in ACTIONS if (state, a) in TRANSITIONS or state in IN_PLACE.get(a, ())] == ["comment"]


def test_notes_are_required_where_a_reason_matters():
    for action in NOTE_REQUIRED:
        state = next(s for s in STATES if (s, action) in TRANSITIONS or s in IN_PLACE.get(action, ()))
        with pytest.raises(TransitionError, match="needs a note"):
            transition(state, action, note="  ")


def test_snooze_only_after_acknowledgement():
    with pytest.raises(TransitionError, match="acknowledge it first"):
        transition("new", "snooze")
    assert transition("acknowledged", "snooze").to_state == "acknowledged"


def test_the_store_counts_as_open_the_states_the_lifecycle_calls_open(open_store):
    from alerts.lifecycle import ACTIONS, transition
    from store import alerts as alert_store
    from store.records import OPEN_STATES
    from tests.alert_rows import new_alert

    # Open is what the loop has not ended: an open state has a way on; closed and cancelled have none.
    assert {s for s in STATES if any(_allowed(transition, s, a) for a in ACTIONS if a != "comment")} == OPEN_STATES
    store = open_store("open")
    for state in STATES:
        new_alert(store, state=state)
    assert {a["state"] for a in alert_store.open_alerts(store.cursor())} == OPEN_STATES
    store.close()


def _allowed(transition, state: str, action: str) -> bool:
    try:
        transition(state, action, "why")
    except ValueError:
        return False
    return True


def test_checklist_steps_follow_the_last_tick_of_each():
    from alerts.actions import checked_steps

    def check(step: int, done: bool) -> dict:
        return {"action": "check", "details": {"step": step, "done": done}}

    timeline = [{"action": "fire", "details": {}}, check(0, True), check(2, True), check(0, False), check(1, True)]
    assert checked_steps(timeline) == {1, 2}
    assert checked_steps([]) == set()
