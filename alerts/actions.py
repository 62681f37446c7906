"""What people do to alerts, through one door: `act` asks the access policy whether this principal may take this
action on this alert, checks it against the lifecycle table, writes the alert and its timeline entry, and records
the attempt — done or refused — in the audit log. The duty desk, a command or an API call all come through here."""

from __future__ import annotations

from datetime import datetime, timedelta

from access.policy import Principal, permission_allowed
from alerts.lifecycle import TransitionError, transition
from store import alerts as alert_store
from store.audit import Trail
from store.database import Store
from store.records import SEVERITIES, severity_rank
from store.transaction import transaction

# The longest snooze: an alert put aside longer than a shift's day is an alert forgotten.
MAX_SNOOZE = timedelta(hours=24)


def act(
    store: Store,
    principal: Principal,
    alert_id: int,
    action: str,
    *,
    now: datetime,
    audit: Trail | None,
    note: str = "",
    unit_id: str | None = None,
    snooze_for: timedelta | None = None,
    step: int | None = None,
    done: bool = True,
) -> dict:
    """Apply `action` to the alert for `principal`; returns the updated alert. Raises TransitionError with a
    message for people (code "forbidden" when the principal's role or districts do not allow it). `audit` is where
    the attempt is recorded (None: nowhere, for tests and tools that keep no audit log)."""
    target = f"alert {alert_id}"
    try:
        alert = _apply(store, principal, alert_id, action, now, note, unit_id, snooze_for, step, done)
    except TransitionError as exc:
        if audit is not None:
            audit.record(principal.actor, f"alert {action}", target, "refused", str(exc), role=principal.role)
        raise
    if audit is not None:
        detail = note or (f"unit {unit_id}" if unit_id else "")
        audit.record(principal.actor, f"alert {action}", target, detail=detail, role=principal.role)
    return alert


def _apply(store: Store, principal: Principal, alert_id: int, action: str, now: datetime, note: str,
           unit_id: str | None, snooze_for: timedelta | None, step: int | None, done: bool) -> dict:  # fmt: skip
    cur = store.cursor()
    with transaction(cur):
        alert = alert_store.get(cur, alert_id)
        if alert is None:
            raise TransitionError(f"there is no alert {alert_id}", "missing", action)
        if not permission_allowed(principal, "view", alert["district_id"]):
            # Another district's alert is as good as absent: the refusal says no more than for one that is not
            # there (the audit log, which only administrators read, says where it was).
            raise TransitionError(f"alert {alert_id} is in district {alert['district_id']}, outside the "
                                  f"principal's districts", "missing", action)  # fmt: skip
        if not permission_allowed(principal, action, alert["district_id"]):
            raise TransitionError(
                f"{action} is not allowed for {principal.role} in district {alert['district_id']}",
                "forbidden", action, alert["state"],
            )  # fmt: skip
        move = transition(alert["state"], action, note)
        fields: dict = {"state": move.to_state, "updated_at": now}
        details: dict = {}
        if action == "dispatch":
            if not unit_id:
                raise TransitionError("'dispatch' needs the unit to send it to", "needs_unit", action, alert["state"])
            fields["unit_id"] = details["unit_id"] = unit_id
        if action == "snooze":
            if snooze_for is None or not timedelta(0) < snooze_for <= MAX_SNOOZE:
                raise TransitionError(f"'snooze' needs a time to snooze for, {MAX_SNOOZE} at most", "needs_time",
                                      action, alert["state"])  # fmt: skip
            fields["snoozed_until"] = now + snooze_for
            details["until"] = fields["snoozed_until"].isoformat()
        if action == "check":
            if step is None or step < 0:
                raise TransitionError("'check' needs the checklist step", "needs_step", action, alert["state"])
            details.update(step=step, done=done)
        if action == "escalate":
            fields["severity"] = details["severity"] = step_up(alert["severity"])
        alert_store.update(cur, alert_id, fields)
        alert_store.log(cur, alert_id, now, principal.actor, action, move.from_state, move.to_state, note, details)
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
    return SEVERITIES[max(0, severity_rank(severity) - 1)]
