"""The alert lifecycle (数字城管 closed loop) as one table: (state, action) → next state.

    new ─acknowledge→ acknowledged ─dispatch→ dispatched ─start→ in_progress ─resolve→ resolved ─close→ closed
     │                   │                      │  └─return→ returned ─dispatch→ dispatched      └─reopen→ reopened
     └──────────── cancel (注销) from any state before the work starts; reopened goes back to work (返工)

Comments, snoozes and escalations leave the state as it is; they are still actions with a timeline entry.
Whether the condition still holds (active / cleared) is a separate flag, not a state.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.records import ALERT_STATES, OPEN_STATES

# States in which the alert has been taken up, so it may be snoozed.
ACKNOWLEDGED_STATES: frozenset[str] = OPEN_STATES - {"new"}

TRANSITIONS: dict[tuple[str, str], str] = {
    ("new", "acknowledge"): "acknowledged",
    ("new", "dispatch"): "dispatched",  # acknowledging and dispatching in one step
    ("new", "cancel"): "cancelled",
    ("acknowledged", "dispatch"): "dispatched",
    ("acknowledged", "cancel"): "cancelled",
    ("dispatched", "start"): "in_progress",
    ("dispatched", "resolve"): "resolved",
    ("dispatched", "return"): "returned",
    ("dispatched", "cancel"): "cancelled",
    ("in_progress", "resolve"): "resolved",
    ("in_progress", "return"): "returned",
    ("returned", "dispatch"): "dispatched",
    ("returned", "cancel"): "cancelled",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "reopened",
    ("reopened", "start"): "in_progress",
    ("reopened", "resolve"): "resolved",
    ("reopened", "return"): "returned",
}
# Actions that keep the state, and the states they are allowed in.
IN_PLACE: dict[str, frozenset[str]] = {
    "comment": frozenset(ALERT_STATES),
    "snooze": ACKNOWLEDGED_STATES,
    "escalate": OPEN_STATES,
    "check": OPEN_STATES,  # ticks (or unticks) one step of the alert's SOP checklist
}
ACTIONS: tuple[str, ...] = tuple(sorted({action for _, action in TRANSITIONS} | set(IN_PLACE)))
# How far along the loop each state is: an incident worked alert by alert is as far as its least advanced alert.
PROGRESS: dict[str, int] = {"new": 0, "acknowledged": 1, "returned": 2, "dispatched": 3, "reopened": 4,
                            "in_progress": 5, "resolved": 6, "closed": 7, "cancelled": 7}  # fmt: skip
# What the person must say for the action to be accepted.
NOTE_REQUIRED: frozenset[str] = frozenset({"resolve", "cancel", "return", "reopen", "comment"})


class TransitionError(ValueError):
    """An action that is refused; the message names why. `code` says which refusal it is (for the views, which say
    it in the reader's language): missing, unknown, needs_note, needs_unit, needs_time, needs_step, snooze_new,
    not_allowed; and forbidden, raised by alerts.actions.act when the principal's role or districts do not allow it."""

    def __init__(self, message: str, code: str = "not_allowed", action: str = "", state: str = ""):
        super().__init__(message)
        self.code, self.action, self.state = code, action, state


@dataclass(frozen=True)
class Transition:
    action: str
    from_state: str
    to_state: str


def transition(state: str, action: str, note: str = "") -> Transition:
    """The transition `action` makes from `state`, or TransitionError saying why it is refused."""
    if state not in ALERT_STATES:
        raise TransitionError(f"unknown state {state!r}", "unknown", action, state)
    if action not in ACTIONS:
        raise TransitionError(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}", "unknown", action, state)
    if action in NOTE_REQUIRED and not note.strip():
        raise TransitionError(f"'{action}' needs a note saying why", "needs_note", action, state)
    if action in IN_PLACE:
        if state not in IN_PLACE[action]:
            if action == "snooze" and state == "new":
                raise TransitionError(
                    "a new alert cannot be snoozed: acknowledge it first", "snooze_new", action, state
                )
            raise TransitionError(f"cannot {action} an alert that is {state}", "not_allowed", action, state)
        return Transition(action, state, state)
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = ", ".join(allowed_actions(state)) or "nothing"
        raise TransitionError(
            f"cannot {action} an alert that is {state}; allowed: {allowed}", "not_allowed", action, state
        )
    return Transition(action, state, target)


def least_advanced(states: list[str]) -> str | None:
    """The state of an incident whose alerts are in `states`: the least advanced of the open ones; closed once
    all have ended (cancelled if all were cancelled); None for no alerts."""
    if not states:
        return None
    if all(s in ("closed", "cancelled") for s in states):
        return "cancelled" if all(s == "cancelled" for s in states) else "closed"
    return min((s for s in states if s in OPEN_STATES), key=PROGRESS.__getitem__)


def allowed_actions(state: str) -> list[str]:
    """What can be done to an alert in `state`, in the order of the loop."""
    order = ("acknowledge", "dispatch", "start", "resolve", "close", "reopen", "return", "cancel", "snooze",
             "escalate", "comment", "check")  # fmt: skip
    return [a for a in order if (state, a) in TRANSITIONS or state in IN_PLACE.get(a, ())]
