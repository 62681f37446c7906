"""What people do to alerts and incidents, through one door: `act` asks the access policy whether this principal may
take this action on this alert, checks it against the lifecycle table, writes the alert and its timeline entry, and
records the attempt — done or refused — in the audit log. `act_on_incident` does the same for an incident and its
members. The duty desk, a command or an API call all come through here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from access.policy import Principal, permission_allowed, place
from alerts.lifecycle import PROGRESS, Transition, TransitionError, least_advanced, transition
from store import alerts as alert_store
from store import incidents as incident_store
from store.audit import Trail, attempted
from store.database import Store
from store.records import ENDED_STATES, OPEN_STATES, SEVERITIES, severity_rank
from store.transaction import retrying, transaction

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
    detail = note or (f"unit {unit_id}" if unit_id else "")
    return _through_the_door(audit, principal, "alert", alert_id, action, lambda: (
        _apply(store, principal, alert_id, action, now, note, unit_id, snooze_for, step, done), detail))  # fmt: skip


def _apply(store: Store, principal: Principal, alert_id: int, action: str, now: datetime, note: str,
           unit_id: str | None, snooze_for: timedelta | None, step: int | None, done: bool) -> dict:  # fmt: skip
    cur = store.cursor()
    with transaction(cur):
        alert = alert_store.get(cur, alert_id)
        if alert is None:
            raise TransitionError(f"there is no alert {alert_id}", "missing", action)
        if not permission_allowed(principal, "view", place(alert)):
            # Another district's alert is as good as absent: the refusal says no more than for one that is not
            # there (the audit log, which only administrators read, says where it was).
            raise TransitionError(f"alert {alert_id} is in district {alert['district_id']}, outside the "
                                  f"principal's districts", "missing", action)  # fmt: skip
        if not permission_allowed(principal, action, place(alert)):
            raise TransitionError(
                f"{action} is not allowed for {principal.role} in district {alert['district_id']}",
                "forbidden", action, alert["state"],
            )  # fmt: skip
        fields, details, move = _moved(alert, action, now, note, unit_id, snooze_for, step, done)
        second_eyes(alert_store.timeline(cur, alert_id) if action == "close" else [], principal.actor, action, note)
        alert_store.update(cur, alert_id, fields)
        alert_store.log(cur, alert_id, now, principal.actor, action, move.from_state, move.to_state, note, details)
        if alert["incident_id"] is not None and not alert["suppressed_by"]:
            if "severity" in fields:
                incident_store.raise_severity(cur, alert["incident_id"], fields["severity"], now)
            if move.from_state != move.to_state:
                incident_store.recount(cur, [alert["incident_id"]], now)
                _follow(cur, alert["incident_id"], principal, now)
    store.bump_version("handling")
    return alert_store.get(cur, alert_id)


def _follow(cur: alert_store.Cursor, incident_id: int, principal: Principal, now: datetime) -> None:
    """An incident worked alert by alert moves on as far as its least advanced alert (lifecycle.least_advanced):
    forward only, so that a new alert joining it does not take it back, and never out of an end."""
    incident = incident_store.get(cur, incident_id)
    state = least_advanced(incident_store.member_states(cur, incident_id))
    if incident is None or state is None or incident["state"] in ENDED_STATES:
        return
    if PROGRESS[state] <= PROGRESS[incident["state"]]:
        return
    incident_store.update(cur, incident_id, {"state": state, "updated_at": now,
                                             **({"closed_at": now} if state in ENDED_STATES else {})})  # fmt: skip
    incident_store.log(cur, incident_id, now, principal.actor, "follow", incident["state"], state)


def act_on_incident(
    store: Store,
    principal: Principal,
    incident_id: int,
    action: str,
    *,
    now: datetime,
    audit: Trail | None,
    note: str = "",
    unit_id: str | None = None,
    snooze_for: timedelta | None = None,
) -> dict:
    """Apply `action` to an incident and to each of its open, raised members that the lifecycle lets take it (a
    member already resolved is not resolved again); returns the updated incident. The same policy, lifecycle and
    audit as `act`; a checklist step belongs to one alert, not to an incident."""

    def work() -> tuple[dict, str]:
        incident, moved = _apply_to_incident(store, principal, incident_id, action, now, note, unit_id, snooze_for)
        return incident, "; ".join(x for x in (note, f"unit {unit_id}" if unit_id else "", f"{moved} alerts") if x)

    return _through_the_door(audit, principal, "incident", incident_id, action, work)


def _through_the_door(audit: Trail | None, principal: Principal, kind: str, record_id: int, action: str,
                      work: Callable[[], tuple[dict, str]]) -> dict:  # fmt: skip
    """Run one action's transaction (again when it loses a write conflict) and record the attempt in the audit
    log, done (with the detail `work` gives) or refused (with why)."""
    target = f"{kind} {record_id}"
    record, _ = attempted(audit, principal.actor, principal.role, f"{kind} {action}", target,
                          lambda: retrying(work), TransitionError, done=lambda r: (target, r[1]))  # fmt: skip
    return record


def _apply_to_incident(store: Store, principal: Principal, incident_id: int, action: str, now: datetime, note: str,
                       unit_id: str | None, snooze_for: timedelta | None) -> tuple[dict, int]:  # fmt: skip
    cur = store.cursor()
    with transaction(cur):
        incident = incident_store.get(cur, incident_id)
        # An incident of no district (the whole city's) is for the whole city's principals, as an alert would be.
        if incident is None or not permission_allowed(principal, "view", place(incident)):
            raise TransitionError(f"there is no incident {incident_id} for this principal", "missing", action)
        if not permission_allowed(principal, action, place(incident)):
            raise TransitionError(f"{action} is not allowed for {principal.role} on incident {incident_id}",
                                  "forbidden", action, incident["state"])  # fmt: skip
        if action == "check":
            raise TransitionError("a checklist step is ticked on an alert", "unknown", action, incident["state"])
        moved = move_incident(cur, incident, principal.actor, action, now, note, unit_id, snooze_for)
    store.bump_version("handling")
    return incident_store.get(cur, incident_id), moved


def move_incident(cur: alert_store.Cursor, incident: dict, actor: str, action: str, now: datetime, note: str = "",
                  unit_id: str | None = None, snooze_for: timedelta | None = None,
                  details: dict | None = None) -> int:  # fmt: skip
    """Apply `action` to an incident and to those of its open, raised members the lifecycle lets take it, once the
    door has let the actor do it; how many members moved. TransitionError when the incident cannot take it."""
    incident_id = incident["id"]
    fields, entry, move = _moved(incident, action, now, note, unit_id, snooze_for, None, True)
    second_eyes(incident_store.timeline(cur, incident_id) if action == "close" else [], actor, action, note)
    incident_store.update(cur, incident_id, {**fields, **({"closed_at": now} if move.to_state in ENDED_STATES
                                                          else {})})  # fmt: skip
    incident_store.log(cur, incident_id, now, actor, action, move.from_state, move.to_state, note,
                       {**entry, **(details or {})})  # fmt: skip
    moved = 0
    for member in incident_store.members(cur, incident_id):
        if member["suppressed_by"] or member["state"] not in OPEN_STATES:
            continue
        try:
            fields, entry, step = _moved(member, action, now, note, unit_id, snooze_for, None, True)
        except TransitionError:
            continue  # this member is past the step (or not yet at it): it keeps its own state
        alert_store.update(cur, member["id"], fields)
        alert_store.log(cur, member["id"], now, actor, action, step.from_state, step.to_state, note,
                        {**entry, "incident": incident_id})  # fmt: skip
        moved += 1
    if move.to_state in ENDED_STATES:
        # Alerts that could not take the last step (one that joined late) leave the ended incident: the rule
        # engine places them again at its next tick, in an incident of their own.
        incident_store.release_open_members(cur, incident_id)
    incident_store.recount(cur, [incident_id], now)
    return moved


def _moved(record: dict, action: str, now: datetime, note: str, unit_id: str | None, snooze_for: timedelta | None,
           step: int | None, done: bool) -> tuple[dict, dict, Transition]:  # fmt: skip
    """What `action` changes of an alert or an incident (`record`): its new fields, its timeline entry's details,
    and the transition; TransitionError when the lifecycle or the action's own needs refuse it."""
    move = transition(record["state"], action, note)
    fields: dict = {"state": move.to_state, "updated_at": now}
    details: dict = {}
    if action == "dispatch":
        if not unit_id:
            raise TransitionError("'dispatch' needs the unit to send it to", "needs_unit", action, record["state"])
        fields["unit_id"] = details["unit_id"] = unit_id
    if action == "snooze":
        if snooze_for is None or not timedelta(0) < snooze_for <= MAX_SNOOZE:
            raise TransitionError(f"'snooze' needs a time to snooze for, {MAX_SNOOZE} at most", "needs_time",
                                  action, record["state"])  # fmt: skip
        fields["snoozed_until"] = now + snooze_for
        details["until"] = fields["snoozed_until"].isoformat()
    if action == "check":
        if step is None or step < 0:
            raise TransitionError("'check' needs the checklist step", "needs_step", action, record["state"])
        details.update(step=step, done=done)
    if action == "escalate":
        fields["severity"] = details["severity"] = step_up(record["severity"])
    return fields, details, move


def second_eyes(timeline: list[dict], actor: str, action: str, note: str) -> None:
    """Verify-and-close (核查结案) is a second person's check of the work: one who resolved it themselves says in a
    note how it was verified, or leaves the close to another (TransitionError "own_close")."""
    if action != "close" or note.strip():
        return
    resolver = next((e["actor"] for e in reversed(timeline) if e["action"] == "resolve"), None)
    if resolver == actor:
        raise TransitionError("closing what you resolved yourself needs a note saying how it was verified",
                              "own_close", action, "resolved")  # fmt: skip


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
