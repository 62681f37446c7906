"""Acting on alerts from the desk: the buttons the policy offers, the dialog for an action that asks for something
first, bulk acknowledgement, and refusals said in the officer's language. Every action goes through `perform`, the
desk's one call of the doors alerts.actions.act and act_on_incident (the policy, the lifecycle table and the audit
log are all behind them)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from dash import html, no_update

from access import policy
from access.policy import Principal
from alerts import by_hand, silences
from alerts.actions import MAX_SNOOZE, act, act_on_incident
from alerts.lifecycle import NOTE_REQUIRED, TransitionError, allowed_actions
from alerts.silences import REASON_MAX, Scope, SilenceError
from dashboard.i18n import N_
from dashboard.labels import ACTION_LABELS, ALERT_STATE_LABELS, DOMAIN_LABELS
from dashboard.navigation import record_id
from dashboard.pages.duty.desk import Desk, visible
from dashboard.pages.duty.units import suggested_unit
from dashboard.timefmt import local_time
from store import alerts as alert_store
from store import incidents as incident_store
from store.audit import Trail

# The keys of the console (assets/cityops_duty.js reads them from the buttons' data-key).
ACTION_KEYS = {"acknowledge": "a", "dispatch": "d", "start": "s", "resolve": "r", "close": "v", "reopen": "o",
               "return": "b", "cancel": "x", "snooze": "z", "escalate": "e", "comment": "c"}  # fmt: skip
REFUSALS = {
    "missing": N_("There is no such alert."),
    "unknown": N_("That action is not known."),
    "needs_note": N_("{action} needs a note saying why."),
    "own_close": N_("You resolved this yourself: say in a note how it was verified, or leave the close to another."),
    "note_long": N_("A note has at most {chars} characters."),
    "needs_unit": N_("{action} needs the unit to send it to."),
    "needs_time": N_("{action} needs a time to snooze for, up to {hours} hours."),
    "needs_step": N_("{action} needs the checklist step."),
    "snooze_new": N_("A new alert cannot be snoozed: acknowledge it first."),
    "not_allowed": N_("An alert that is {state} cannot be given “{action}”."),
    "forbidden": N_("Your role or districts do not allow “{action}” on this alert."),
}
# Alerts like the selected one (its rule in its district) put aside for a while, with a reason (alerts/silences.py).
SILENCE = "silence"
# Which alerts a silence set from an alert covers (silence_scope), as the dialog offers them.
SILENCE_SCOPES = {"device": N_("This device only"), "rule": N_("Alerts of this rule in this district"),
                  "domain": N_("Every alert of this domain in this district")}  # fmt: skip
SILENCE_REFUSALS = {
    "forbidden": N_("Your role or districts do not allow this silence."),
    "empty": N_("This alert has no district to silence."),
    "reason": N_("A silence needs a reason of at most {chars} characters."),
    "ends": N_("A silence lasts from 1 minute to 7 days."),
    "missing": N_("There is no such alert or silence."),
}
# What an incident opened by hand (alerts/by_hand.py) may be refused for, said for the officer.
OPEN_REFUSALS = {
    "forbidden": N_("Your role or districts do not allow opening an incident there."),
    "region": N_("Choose the district where it happens."),
    "domain": N_("Choose the incident's domain."),
    "severity": N_("Choose the incident's severity."),
    "title": N_("Say in a few words what happens (at most {n} characters)."),
    "description": N_("The description has at most {n} characters."),
}
# An action on the selected alert's whole incident, as its buttons and the dialog name it ("incident:close").
INCIDENT = "incident:"
INCIDENT_ACTIONS = ("acknowledge", "dispatch", "resolve", "close", "cancel", "comment")
# Actions that ask for something first (a unit, a time or a note) open the dialog; the others are done at once.
DIALOG_ACTIONS = frozenset({"dispatch", "snooze", "close"} | NOTE_REQUIRED)  # close: a note may be owed
# The longest snooze the dialog offers: as long as the one door allows.
MAX_SNOOZE_MINUTES = int(MAX_SNOOZE.total_seconds() // 60)
# The most alerts one bulk acknowledgement takes: more than anyone marks by hand, few enough that the desk answers
# within a callback's time (the list comes from the browser, so it is bounded here, not there).
BULK_LIMIT = 200


def refusal(exc: TransitionError, t, note_chars: int = 0) -> str:
    """A refused action, said in the officer's language."""
    template = REFUSALS.get(exc.code, REFUSALS["not_allowed"])
    return t(template, action=t(ACTION_LABELS.get(exc.action, exc.action)) if exc.action else "",
             state=t(ALERT_STATE_LABELS[exc.state]) if exc.state in ALERT_STATE_LABELS else exc.state,
             hours=f"{MAX_SNOOZE_MINUTES / 60:g}", chars=note_chars)  # fmt: skip


def buttons(principal: Principal, alert: dict, t, chain: bool = False) -> list:
    """A button for each action the lifecycle allows from the alert's state and the policy allows the principal in
    its district, with its key. With the command `chain`, an incident's alert is dispatched with its incident,
    down the chain (the inbox), not from here."""
    return [
        html.Button(
            [t(ACTION_LABELS[a]), html.Kbd(ACTION_KEYS[a])],
            id={"type": "duty-act", "action": a},
            n_clicks=0,
            className=f"act act-{a}",
            **{"data-key": ACTION_KEYS[a], "data-action": a},
        )
        for a in allowed_actions(alert["state"])
        if a in ACTION_KEYS
        and policy.permission_allowed(principal, a, policy.place(alert))
        and not (chain and a == "dispatch" and alert["incident_id"] is not None)
    ] + (
        [
            html.Button(
                t("Silence alerts like this"),
                id={"type": "duty-act", "action": SILENCE},
                n_clicks=0,
                className="act act-silence",
                **{"data-action": SILENCE},
            )
        ]  # fmt: skip
        if alert["district_id"] and policy.permission_allowed(principal, "act", policy.place(alert))
        else []
    )


def incident_buttons(principal: Principal, incident: dict, t, chain: bool = False) -> list:
    """A button for each action the lifecycle allows the whole incident and the policy allows the principal (with
    the command `chain`, dispatching is giving it down the chain, on the inbox)."""
    return [
        html.Button(t(ACTION_LABELS[a]), id={"type": "duty-act", "action": INCIDENT + a}, n_clicks=0,
                    className=f"act act-{a} act-incident", **{"data-action": INCIDENT + a})
        for a in allowed_actions(incident["state"])
        if a in INCIDENT_ACTIONS and policy.permission_allowed(principal, a, policy.place(incident))
        and not (chain and a == "dispatch")
    ]  # fmt: skip


def perform(desk: Desk, principal: Principal, audit: Trail | None, alert_id: int, action: str, note: str = "",
            unit_id: str | None = None, minutes=None, scope: str | None = None, **step) -> None:  # fmt: skip
    """Every action of the duty desk, through the one door (alerts.actions.act, or act_on_incident for an action
    on the alert's whole incident). `minutes` is a snooze's length; ValueError if it is not a number. What the
    browser sends is checked here too: the dialog's limits are the browser's, and a request can carry anything."""
    note = note if isinstance(note, str) else ""
    base = action.removeprefix(INCIDENT)
    if len(note) > desk.note_chars:
        raise TransitionError(f"the note has {len(note)} characters", "note_long", base)
    if base == "dispatch" and unit_id is not None and (not isinstance(unit_id, str) or unit_id not in desk.units):
        raise TransitionError(f"there is no unit {unit_id!r}", "needs_unit", base)
    if base == "dispatch" and desk.org is not None and (action.startswith(INCIDENT) or _in_incident(desk, alert_id)):
        # With a command chain an incident goes down it, task by task (the inbox), not to a flat unit from here.
        raise TransitionError("an incident is given down the chain, on the inbox", "not_allowed", base)
    if action == SILENCE:
        alert = visible(desk, principal, alert_id)
        if alert is None:
            raise SilenceError(f"there is no alert {alert_id}", "missing")
        now = datetime.now(UTC)
        silences.add(desk.store, desk.regions, principal, silence_scope(alert, scope), note,
                     now + _minutes(minutes or 0), now=now, audit=audit)  # fmt: skip
        return
    if action.startswith(INCIDENT):
        alert = visible(desk, principal, alert_id)
        if alert is None or alert["incident_id"] is None or base not in INCIDENT_ACTIONS:
            raise TransitionError(f"alert {alert_id} has no incident to {base}", "missing", base)
        act_on_incident(desk.store, principal, int(alert["incident_id"]), base, now=datetime.now(UTC), audit=audit,
                        note=note, unit_id=unit_id)  # fmt: skip
        return
    act(
        desk.store,
        principal,
        alert_id,
        action,
        now=datetime.now(UTC),
        audit=audit,
        note=note,
        unit_id=unit_id,
        snooze_for=_minutes(minutes) if action == "snooze" and minutes else None,
        **step,
    )


def _in_incident(desk: Desk, alert_id: int) -> bool:
    alert = alert_store.get(desk.store.cursor(), alert_id) if isinstance(alert_id, int) else None
    return alert is not None and alert["incident_id"] is not None


def silence_scope(alert: dict, choice: str | None) -> Scope:
    """The scope of a silence set from an alert: its device (or feed, or warning) only, its rule's alerts in its
    district (also what anything else the browser sends means), or every alert of its domain there."""
    if choice == "device":
        return Scope(entity_ids=(alert["subject_id"],), region_id=alert["district_id"])
    if choice == "domain":
        return Scope(domain=alert["domain"], region_id=alert["district_id"])
    return Scope(rule_id=alert["rule_id"], region_id=alert["district_id"])


def _minutes(value) -> timedelta:
    """A number of minutes as typed; ValueError for what is not one (how long alerts.actions.act decides)."""
    minutes = float(value)
    if not math.isfinite(minutes) or abs(minutes) > 1e9:
        raise ValueError(f"not a number of minutes: {value!r}")
    return timedelta(minutes=minutes)


def done(action: str, t) -> str:
    if action == SILENCE:
        return t("Silenced: alerts in its scope are recorded, not raised, until the silence ends.")
    if action.startswith(INCIDENT):
        return t("Done for the whole incident: {action}", action=t(ACTION_LABELS[action.removeprefix(INCIDENT)]))
    return t("Done: {action}", action=t(ACTION_LABELS[action]))


def not_done(exc: TransitionError, t) -> str:
    return t("Not done: {reason}", reason=refusal(exc, t))


def press(desk: Desk, principal: Principal, audit: Trail | None, alert_id: int, action: str, t) -> tuple:
    """A button pressed: an action that asks for something first opens the dialog (the unit to send it to
    suggested), the others are done at once. In the order of the callback's outputs: the dialog's class, title,
    unit, minutes and silence scope fields' style, unit and note, its message, the action it is for, and the
    desk's message."""
    if action == SILENCE:
        return ("duty-dialog", t("Silence alerts like this"), {"display": "none"}, {}, {}, None, "", "", SILENCE,
                no_update)  # fmt: skip
    base = action.removeprefix(INCIDENT)
    if base in DIALOG_ACTIONS and base in ACTION_LABELS:
        alert = visible(desk, principal, alert_id)
        suggested = suggested_unit(desk.units, alert) if alert else None
        title = t(ACTION_LABELS[base])
        if action.startswith(INCIDENT):
            title = t("{action}: the whole incident", action=title)
        return ("duty-dialog", title,
                {} if base == "dispatch" else {"display": "none"},
                {} if base == "snooze" else {"display": "none"},
                {"display": "none"}, suggested, "", "", action, no_update)  # fmt: skip
    try:
        perform(desk, principal, audit, alert_id, action)
        message = done(action, t)
    except TransitionError as exc:
        message = not_done(exc, t)
    return "duty-dialog hidden", no_update, no_update, no_update, no_update, no_update, no_update, "", None, message


def confirm(desk: Desk, principal: Principal, audit: Trail | None, alert_id: int, action: str, unit_id: str | None,
            minutes, note: str | None, t, scope: str | None = None) -> tuple:  # fmt: skip
    """The dialog confirmed: the dialog's class, its message and the desk's message. A refusal keeps the dialog
    open and says what is missing. `scope`: which alerts a silence covers (SILENCE_SCOPES)."""
    try:
        perform(desk, principal, audit, alert_id, action, note or "", unit_id, minutes, scope=scope)
    except TransitionError as exc:
        return no_update, refusal(exc, t, desk.note_chars), no_update
    except SilenceError as exc:
        return no_update, t(SILENCE_REFUSALS[exc.code], chars=REASON_MAX), no_update
    except ValueError:
        return no_update, t("Minutes must be a number."), no_update
    return "duty-dialog hidden", "", done(action, t)


def open_by_hand(desk: Desk, principal: Principal, audit: Trail | None, domain, region_id, severity, title,
                 description, t) -> str:  # fmt: skip
    """An incident opened from a phone call, through its door; what to tell the officer."""
    try:
        by_hand.open_incident(desk.store, desk.regions, principal, domain=domain, region_id=region_id,
                              severity=severity, title=title if isinstance(title, str) else "",
                              description=description if isinstance(description, str) else "",
                              description_max=desk.note_chars, now=datetime.now(UTC), audit=audit,
                              org=desk.org)  # fmt: skip
    except by_hand.OpenError as exc:
        limit = by_hand.TITLE_MAX if exc.code == "title" else desk.note_chars
        return t("Not done: {reason}", reason=t(OPEN_REFUSALS[exc.code], n=limit))
    return t("Incident opened: {title}", title=title.strip())


def silences_in_force(desk: Desk, principal: Principal, t, lang: str, current: bool = False) -> list:
    """The silences in force in the principal's districts (the whole city's for one of no region): what, why, by
    whom, until when, and a button that ends it for whoever may."""
    rows = []
    now = datetime.now(UTC)
    # The snapshot's, not a query of each tab's (`current`: one that holds what was just done).
    for silence in (s for s in desk.snapshots.get(current=current).silences if s["ends_at"] > now):
        district = policy.region_place(desk.regions, silence["region_id"]) if silence["region_id"] else None
        if not policy.permission_allowed(principal, "view", district):
            continue
        region = desk.regions.get(silence["region_id"]) if silence["region_id"] else None
        scope = " · ".join(x for x in (silence["rule_id"], silence["domain"] and t(DOMAIN_LABELS.get(
            silence["domain"], silence["domain"])), region.name(lang) if region else t("City"),
            ", ".join(silence["entity_ids"])) if x)  # fmt: skip
        until = local_time(silence["ends_at"], desk.tz, "%m-%d %H:%M")
        ends = policy.permission_allowed(principal, "act", district)
        rows.append(html.Li([
            html.Span(scope, className="silence-scope"),
            html.Span(t("until {time}", time=until), className="silence-until"),
            html.Span(f"{silence['reason']} — {silence['created_by']}", className="silence-reason"),
            html.Button(t("End"), id={"type": "duty-silence-end", "id": int(silence["id"])}, n_clicks=0)
            if ends else None,
        ]))  # fmt: skip
    return [html.Summary(t("Silences in force: {n}", n=len(rows))), html.Ul(rows)] if rows else []


def end_silence(desk: Desk, principal: Principal, audit: Trail | None, silence_id, t) -> str:
    try:
        if not isinstance(silence_id, int) or isinstance(silence_id, bool):
            raise SilenceError(f"there is no silence {silence_id!r}", "missing")
        silences.end(desk.store, desk.regions, principal, silence_id, now=datetime.now(UTC), audit=audit)
    except SilenceError as exc:
        return t("Not done: {reason}", reason=t(SILENCE_REFUSALS[exc.code], chars=REASON_MAX))
    return t("The silence has ended: its alerts still active are raised.")


def tick_step(desk: Desk, principal: Principal, audit: Trail | None, alert_id: int, ticked: list | None,
              done_before: list | None, t) -> str | None:  # fmt: skip
    """One checklist step ticked or unticked (the difference between `ticked` and `done_before`), recorded in the
    timeline; None when not exactly one step changed."""
    ticked = [s for s in ticked if isinstance(s, int) and not isinstance(s, bool)] if isinstance(ticked, list) else []
    done_before = done_before if isinstance(done_before, list) else []
    changed = set(ticked) ^ set(done_before)
    if len(changed) != 1:
        return None
    step = changed.pop()
    try:
        alert = visible(desk, principal, alert_id)  # another's district's: the one door refuses it as absent
        sop = desk.sops.get(alert["sop"]) if alert and alert["sop"] else None
        if alert is not None and not (isinstance(step, int) and sop is not None and 0 <= step < len(sop.steps)):
            raise TransitionError(f"the alert's checklist has no step {step!r}", "needs_step", "check")
        perform(desk, principal, audit, alert_id, "check", step=step, done=step in ticked)
    except TransitionError as exc:
        return not_done(exc, t)
    return t("Checklist step {n} recorded.", n=int(step) + 1)


def bulk_acknowledge(desk: Desk, principal: Principal, audit: Trail | None, checked: list, t) -> str:
    """Acknowledges what every marked row stands for, as far as it may: an alert's whole incident (once, however
    many of its alerts are marked), else the alert itself (in no incident, in one the principal does not see whole,
    or in one acknowledged before it joined); says how many, and why each other one was refused."""
    ids = marked_ids(checked)
    if not ids:
        return t("Mark alerts with Space first.")
    if not policy.permission_allowed(principal, "acknowledge"):
        # A role that acknowledges nowhere is refused once, not once for each alert it names.
        if audit is not None:
            named = ", ".join(f"alert {i}" for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            audit.record(principal.actor, "alert acknowledge", named, "refused", f"not allowed for {principal.role}",
                         role=principal.role)  # fmt: skip
        return not_done(TransitionError("", "forbidden", "acknowledge"), t)
    if len(ids) > BULK_LIMIT:
        return t("At most {n} alerts can be acknowledged at once.", n=BULK_LIMIT)
    acknowledged, refused, incidents = 0, [], set()
    for alert_id in ids:
        alert = visible(desk, principal, alert_id)
        incident_id = alert["incident_id"] if alert is not None else None
        if incident_id is not None and incident_id in incidents:
            continue  # acknowledged with its incident
        whole = incident_id is not None and _acknowledges_whole(desk, principal, int(incident_id))
        try:
            perform(desk, principal, audit, alert_id, INCIDENT + "acknowledge" if whole else "acknowledge")
            acknowledged += 1
            if whole:
                incidents.add(incident_id)
        except TransitionError as exc:
            refused.append(f"#{alert_id}: {refusal(exc, t)}")
    message = t("Acknowledged {n}.", n=acknowledged)
    return message + (" " + t("Not done: {reason}", reason="; ".join(refused)) if refused else "")


def _acknowledges_whole(desk: Desk, principal: Principal, incident_id: int) -> bool:
    """Whether acknowledging an alert of this incident acknowledges the incident: it is the principal's whole (not a
    city-wide one seen from a district) and may still be acknowledged (not acknowledged before the alert joined)."""
    incident = incident_store.get(desk.store.cursor(), incident_id)
    return (incident is not None and policy.permission_allowed(principal, "view", policy.place(incident))
            and "acknowledge" in allowed_actions(incident["state"]))  # fmt: skip


def marked_ids(checked) -> list[int]:
    """The marked alerts' ids as the browser sent them: whole numbers, each once, in order; anything else is not an
    alert's id and is left out."""
    if not isinstance(checked, list):
        return []
    return list(dict.fromkeys(i for i in map(record_id, checked) if i is not None))
