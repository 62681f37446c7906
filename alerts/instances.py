"""An alert instance: where one (rule, subject) stands, and the one pure function that moves it.

As in Prometheus' alerting rules, every (rule, subject) is in one phase. `step` takes the instance and what the
latest evaluation read, and returns the next instance and the effect on the stored alert; it reads no clock and
writes nothing, so the whole machine is this table (`for` and `clear_for` are the rule's durations):

    phase \\ reading  HOLDS                       CLEARS                          BETWEEN             UNKNOWN
    inactive         pending; firing + FIRE      inactive                        inactive            inactive
                     at once if `for` is 0
    pending          firing + FIRE once `for`    inactive                        inactive            pending
                     has passed since it began
    firing           firing + REFIRE             clearing; inactive + CLEAR      firing              firing
                                                 at once if `clear_for` is 0
    clearing         firing + REFIRE             inactive + CLEAR once           firing: clearing    clearing
                                                 `clear_for` has passed          starts over

The readings: HOLDS, the rule's `when` holds; CLEARS, its clear condition holds (by default: `when` does not) and
`when` does not; BETWEEN, neither (the hysteresis band between the firing and the clear level); UNKNOWN, the data
to decide `when` is missing and the clear condition does not hold. The effects: FIRE opens an alert (or fires
again the one still open from before), REFIRE refreshes the open alert (value, severity, active again), CLEAR marks
it cleared. An alert's own lifecycle (acknowledged, dispatched, …) is another machine: alerts/lifecycle.py.

`rule_state` in the store keeps every instance that is not inactive. It has always stored a clearing instance as
`firing` with its `clear_since`; `stored` and `from_stored` convert at that boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any


class Phase(Enum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    CLEARING = "clearing"


class Reading(Enum):
    HOLDS = "holds"
    CLEARS = "clears"
    BETWEEN = "between"
    UNKNOWN = "unknown"


class Effect(Enum):
    NOTHING = "nothing"
    FIRE = "fire"
    REFIRE = "refire"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class Instance:
    phase: Phase
    since: datetime | None = None  # when the condition began to hold (pending's start); kept while firing
    clear_since: datetime | None = None  # when the clear condition began to hold (clearing only)
    last_value: float | None = None  # the deciding value when the condition last held

    def clocks(self) -> tuple:
        """What the store must hear of when it changes (a new last value alone is not worth a write)."""
        return self.phase, self.since, self.clear_since


INACTIVE = Instance(Phase.INACTIVE)


def reading(holds: bool | None, clears: bool) -> Reading:
    """The reading of one evaluation: `holds` is None when the data to decide `when` is missing."""
    if holds:
        return Reading.HOLDS
    if clears:
        return Reading.CLEARS
    return Reading.UNKNOWN if holds is None else Reading.BETWEEN


def step(
    instance: Instance, read: Reading, now: datetime, value: float | None, *, for_: timedelta, clear_for: timedelta
) -> tuple[Instance, Effect]:
    """The next instance and the effect on the stored alert; `value` is the deciding value of this reading.
    Returns `instance` itself when nothing changes."""
    phase, since = instance.phase, instance.since
    if read is Reading.HOLDS:
        if phase is Phase.INACTIVE or phase is Phase.PENDING:
            since = now if phase is Phase.INACTIVE else since
            if now - since >= for_:
                return Instance(Phase.FIRING, since, None, value), Effect.FIRE
            return Instance(Phase.PENDING, since, None, value), Effect.NOTHING
        return Instance(Phase.FIRING, since, None, value), Effect.REFIRE
    if read is Reading.CLEARS:
        if phase is Phase.INACTIVE or phase is Phase.PENDING:
            return INACTIVE, Effect.NOTHING
        clear_since = instance.clear_since or now
        if now - clear_since >= clear_for:
            return INACTIVE, Effect.CLEAR
        if clear_since == instance.clear_since:
            return instance, Effect.NOTHING
        return Instance(Phase.CLEARING, since, clear_since, instance.last_value), Effect.NOTHING
    if read is Reading.BETWEEN:
        if phase is Phase.CLEARING:
            return Instance(Phase.FIRING, since, None, instance.last_value), Effect.NOTHING
        return (instance if phase is Phase.FIRING else INACTIVE), Effect.NOTHING
    return instance, Effect.NOTHING


def stored(instance: Instance) -> dict[str, Any]:
    """The instance as a row of `rule_state` (never an inactive one: those are deleted)."""
    phase = Phase.FIRING if instance.phase is Phase.CLEARING else instance.phase
    return {"phase": phase.value, "since": instance.since, "clear_since": instance.clear_since,
            "last_value": instance.last_value}  # fmt: skip


def from_stored(row: dict[str, Any]) -> Instance:
    """A row of `rule_state` as an instance."""
    phase = Phase(row["phase"])
    if phase is Phase.FIRING and row["clear_since"] is not None:
        phase = Phase.CLEARING
    return Instance(phase, row["since"], row["clear_since"], row["last_value"])
