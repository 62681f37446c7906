"""The alert instance's state machine: every (phase, reading) pair, with its durations passed and not yet passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.instances import (
    INACTIVE,
    Effect,
    Instance,
    Phase,
    Reading,
    from_stored,
    reading,
    step,
    stored,
)

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
FOR = timedelta(minutes=2)
CLEAR_FOR = timedelta(minutes=1)

START = {
    Phase.INACTIVE: INACTIVE,
    Phase.PENDING: Instance(Phase.PENDING, T0, None, 11.0),
    Phase.FIRING: Instance(Phase.FIRING, T0 - timedelta(minutes=10), None, 11.0),
    Phase.CLEARING: Instance(Phase.CLEARING, T0 - timedelta(minutes=10), T0, 11.0),
}

# (phase, reading) → (next phase, effect) a second after the start of its clock (no duration has passed) and an
# hour after (every one has).
H, C, B, U = Reading.HOLDS, Reading.CLEARS, Reading.BETWEEN, Reading.UNKNOWN
OFF, P, F, CL = Phase.INACTIVE, Phase.PENDING, Phase.FIRING, Phase.CLEARING
N, FIRE, REFIRE, CLEAR = Effect.NOTHING, Effect.FIRE, Effect.REFIRE, Effect.CLEAR
TABLE = {
    (OFF, H): ((P, N), (P, N)),  # a new instance starts pending now: `for` counts from here
    (OFF, C): ((OFF, N), (OFF, N)),
    (OFF, B): ((OFF, N), (OFF, N)),
    (OFF, U): ((OFF, N), (OFF, N)),
    (P, H): ((P, N), (F, FIRE)),
    (P, C): ((OFF, N), (OFF, N)),
    (P, B): ((OFF, N), (OFF, N)),
    (P, U): ((P, N), (P, N)),
    (F, H): ((F, REFIRE), (F, REFIRE)),
    (F, C): ((CL, N), (CL, N)),  # clearing starts now: `clear_for` counts from here
    (F, B): ((F, N), (F, N)),
    (F, U): ((F, N), (F, N)),
    (CL, H): ((F, REFIRE), (F, REFIRE)),
    (CL, C): ((CL, N), (OFF, CLEAR)),
    (CL, B): ((F, N), (F, N)),
    (CL, U): ((CL, N), (CL, N)),
}


def test_the_table_covers_every_pair():
    assert set(TABLE) == {(p, r) for p in Phase for r in Reading}


@pytest.mark.parametrize(("phase", "read"), sorted(TABLE, key=lambda k: (k[0].value, k[1].value)))
@pytest.mark.parametrize("later", [False, True], ids=["soon", "late"])
def test_every_phase_and_reading(phase, read, later):
    now = T0 + (timedelta(hours=1) if later else timedelta(seconds=1))
    after, effect = step(START[phase], read, now, 12.5, for_=FOR, clear_for=CLEAR_FOR)
    assert (after.phase, effect) == TABLE[(phase, read)][later]


def test_zero_durations_fire_and_clear_at_once():
    fired, effect = step(INACTIVE, Reading.HOLDS, T0, 12.5, for_=timedelta(0), clear_for=timedelta(0))
    assert (fired, effect) == (Instance(Phase.FIRING, T0, None, 12.5), Effect.FIRE)
    assert step(fired, Reading.CLEARS, T0, None, for_=timedelta(0), clear_for=timedelta(0)) == (INACTIVE, Effect.CLEAR)


def test_clocks_and_values():
    now = T0 + timedelta(seconds=30)
    pending, _ = step(INACTIVE, Reading.HOLDS, T0, 11.0, for_=FOR, clear_for=CLEAR_FOR)
    assert pending == Instance(Phase.PENDING, T0, None, 11.0)
    again, _ = step(pending, Reading.HOLDS, now, 11.5, for_=FOR, clear_for=CLEAR_FOR)
    assert again == Instance(Phase.PENDING, T0, None, 11.5), "pending keeps its start and takes the new value"
    firing = Instance(Phase.FIRING, T0, None, 11.0)
    clearing, _ = step(firing, Reading.CLEARS, now, 8.0, for_=FOR, clear_for=CLEAR_FOR)
    assert clearing == Instance(Phase.CLEARING, T0, now, 11.0), "clearing keeps the value the alert fired with"
    later = now + timedelta(seconds=10)
    assert step(clearing, Reading.CLEARS, later, 8.0, for_=FOR, clear_for=CLEAR_FOR)[0] is clearing
    assert step(clearing, Reading.BETWEEN, later, 9.5, for_=FOR, clear_for=CLEAR_FOR)[0] == firing
    assert step(firing, Reading.BETWEEN, later, 9.5, for_=FOR, clear_for=CLEAR_FOR)[0] is firing


def test_reading_of_an_evaluation():
    assert reading(True, False) is reading(True, True) is Reading.HOLDS  # `when` wins over the clear condition
    assert reading(False, True) is reading(None, True) is Reading.CLEARS
    assert reading(False, False) is Reading.BETWEEN
    assert reading(None, False) is Reading.UNKNOWN


def test_the_store_keeps_clearing_as_firing_with_its_clear_since():
    for instance in (START[Phase.PENDING], START[Phase.FIRING], START[Phase.CLEARING]):
        row = stored(instance)
        assert row["phase"] in ("pending", "firing")
        assert from_stored(row) == instance
