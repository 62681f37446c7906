"""What people do to alerts: each action checked against the lifecycle table and written to the timeline."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.lifecycle import TransitionError, transition
from store import alerts as alert_store
from store.database import Store
from store.records import SEVERITIES, severity_rank


def act(
    store: Store,
    alert_id: int,
    action: str,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    unit_id: str | None = None,
    snooze_for: timedelta | None = None,
    step: int | None = None,
    done: bool = True,
) -> dict:
    """Apply `action` to the alert; returns the updated alert. Raises TransitionError with a message for people."""
    cur = store.cursor()
    cur.execute("BEGIN")
    try:
        alert = alert_store.get(cur, alert_id)
        if alert is None:
            raise TransitionError(f"there is no alert {alert_id}", "missing", action)
        move = transition(alert["state"], action, note)
        fields: dict = {"state": move.to_state, "updated_at": now}
        details: dict = {}
        if action == "dispatch":
            if not unit_id:
                raise TransitionError("'dispatch' needs the unit to send it to", "needs_unit", action, alert["state"])
            fields["unit_id"] = details["unit_id"] = unit_id
        if action == "snooze":
            if snooze_for is None or snooze_for <= timedelta(0):
                raise TransitionError("'snooze' needs a time to snooze for", "needs_time", action, alert["state"])
            fields["snoozed_until"] = now + snooze_for
            details["until"] = fields["snoozed_until"].isoformat()
        if action == "check":
            if step is None or step < 0:
                raise TransitionError("'check' needs the checklist step", "needs_step", action, alert["state"])
            details.update(step=step, done=done)
        if action == "escalate":
            fields["severity"] = details["severity"] = step_up(alert["severity"])
        alert_store.update(cur, alert_id, fields)
        alert_store.log(cur, alert_id, now, actor, action, move.from_state, move.to_state, note, details)
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    store.bump_version()
    return alert_store.get(cur, alert_id)


def checked_steps(timeline: list[dict]) -> set[int]:
    """The SOP checklist steps ticked, and not unticked since, in an alert's timeline (store.alerts.timeline)."""
    done: set[int] = set()
    for entry in timeline:
        if entry["action"] == "check":
            step = entry["details"].get("step")
            (done.add if entry["details"].get("done", True) else done.discard)(step)
    return done


def step_up(severity: str) -> str:
    """One colour higher (blue → yellow → orange → red); red stays red."""
    index = severity_rank(severity)
    return SEVERITIES[max(0, index - 1)]
