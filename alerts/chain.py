"""Work down the command chain and reports back up (派单 → 签收 → 到场 → 反馈 → 办结 → 核查 / 退回).

A centre gives an incident, or its part of one, to a unit below it (the city to a district's centre, a district to a
town's centre or to one of its departments) or to one of its own field workers (a town to a grid worker): a **task**.
The receiver signs for it (签收) within the receipt limit, may give it on down (a task of its own, the child of the
one it got), goes on site, sends feedback with photos and its position, and reports it done. A task whose children
are all reported is reported up by itself; the sender verifies (核查) what was reported, or returns it (退回) with a
reason. The incident follows its first tasks: dispatched when the first is given, in progress once someone is on
site, resolved when they are all reported, closed when they are all verified, reopened when one is returned.

A stage whose limit runs out (a task not signed for, or not reported, in time; the organisation's `time_limits`, in
working time where they say so) is raised to the centre above the receiver, and after as long again to the next one,
up to the city's: visible in their inboxes, the receiver still the one who owes it.

One door, as alerts.actions.act: each function asks who may do it, checks the task's state, writes the task and the
incident's timeline in one transaction, and records the attempt, done or refused, in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from access.policy import Principal, permission_allowed, place
from alerts.actions import move_incident
from alerts.lifecycle import TRANSITIONS
from alerts.org import Organisation
from alerts.working_time import Working, WorkingCalendar
from store import incidents as incident_store
from store import notifications
from store import tasks as task_store
from store.audit import Trail, attempted
from store.database import Store
from store.records import ENDED_STATES
from store.transaction import retrying, transaction

INSTRUCTION_MAX = 1000
NOTE_MAX = 2000
# What the receiver does, from which states, to which state (None: the state stays).
RECEIVER_ACTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "sign": (("sent",), "signed"),
    "on_site": (("signed", "returned"), "on_site"),
    "feedback": (("signed", "on_site", "returned"), None),
    "report": (("signed", "on_site", "returned"), "reported"),
}
SENDER_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "verify": (("reported",), "verified"),
    "return": (("reported",), "returned"),
}
TASK_ACTIONS: tuple[str, ...] = (*RECEIVER_ACTIONS, *SENDER_ACTIONS)
NEEDS_NOTE: frozenset[str] = frozenset({"report", "return"})


class ChainError(ValueError):
    """A refused step, said for people; `code`: missing, forbidden, target, state, needs_note, too_long, empty."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Position:
    lon: float
    lat: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Photo:
    """A photo already checked and stored by whoever received it (dashboard/uploads.py): its file's digest."""

    id: str
    media_type: str
    bytes: int
    width: int
    height: int
    name: str


class Chain:
    def __init__(self, store: Store, org: Organisation, calendar: WorkingCalendar | None = None):
        self.store = store
        self.org = org
        self.calendar = calendar

    # -- who sees what -----------------------------------------------------------------------------------------

    def sees_incident(self, principal: Principal, incident: dict) -> bool:
        """An incident in the principal's regions, or one given to their unit (or to them) down the chain."""
        if permission_allowed(principal, "view", place(incident)):
            return True
        if principal.unit is None:
            return False
        units = [principal.unit] if self._whole_unit(principal) else []
        return task_store.given_to(self.store.cursor(), incident["id"], units, principal.name)

    def inbox(self, principal: Principal) -> list[dict]:
        """The open tasks the principal sees: given to them; and unless they are a centre's field worker (a grid
        worker), those given to their unit, raised to it, or given by it."""
        if principal.unit is None or not principal.can("tasks"):
            return []
        return task_store.inbox(self.store.cursor(), principal.unit, principal.name, self._whole_unit(principal))

    def _whole_unit(self, principal: Principal) -> bool:
        return self.org.whole_unit(principal.role, principal.unit)

    def targets(self, principal: Principal) -> list[tuple[str, str | None]]:
        """Whom the principal's unit may give a task to: (unit, None) for a unit below it, (unit, account) for one
        of its field workers."""
        if principal.unit is None or not principal.can("act"):
            return []
        return [(u.id, None) for u in self.org.below(principal.unit)] + [
            (principal.unit, p.account) for p in self.org.workers(principal.unit)
        ]

    # -- the doors -----------------------------------------------------------------------------------------------

    def dispatch(self, principal: Principal, incident_id: int, *, to_unit: str, to_person: str | None = None,
                 instruction: str = "", now: datetime, audit: Trail | None,
                 request: str | None = None) -> int:  # fmt: skip
        """Give an incident to a unit below the principal's, or to one of its field workers; the new task's id."""
        target = f"incident {incident_id}"

        def work() -> int:
            return retrying(lambda: self._dispatch(principal, incident_id, to_unit, to_person, instruction.strip(),
                                                   now, request))  # fmt: skip

        task_id = attempted(audit, principal.actor, principal.role, "task dispatch", target, work, ChainError,
                            done=lambda t: (f"task {t}", f"{target} to {to_person or to_unit}"))  # fmt: skip
        self.store.bump_version("handling")
        return task_id

    def act(self, principal: Principal, task_id: int, action: str, *, now: datetime, audit: Trail | None,
            note: str = "", position: Position | None = None, photos: tuple[Photo, ...] = (),
            request: str | None = None) -> dict:  # fmt: skip
        """Take one step on a task (TASK_ACTIONS); the task as it is after it."""

        def work() -> dict:
            return retrying(lambda: self._act(principal, task_id, action, now, note.strip(), position, photos,
                                              request))  # fmt: skip

        task = attempted(audit, principal.actor, principal.role, f"task {action}", f"task {task_id}", work,
                         ChainError, done=lambda t: (f"task {task_id}", note.strip()[:200]))  # fmt: skip
        self.store.bump_version("handling")
        return task

    def escalate(self, now: datetime) -> list[tuple[int, str]]:
        """Raise every task whose stage ran out to the next centre up; (task id, the unit it went to) of each."""
        raised: list[tuple[int, str]] = []

        def work() -> None:
            raised.clear()
            cur = self.store.cursor()
            with transaction(cur):
                for task in task_store.running_clocks(cur, now):
                    raised.extend(self._raise(cur, task, now))

        retrying(work)
        if raised:
            self.store.bump_version("handling")
        return raised

    # -- inside the transaction ----------------------------------------------------------------------------------

    def _dispatch(self, principal: Principal, incident_id: int, to_unit: str, to_person: str | None,
                  instruction: str, now: datetime, request: str | None) -> int:  # fmt: skip
        if len(instruction) > INSTRUCTION_MAX:
            raise ChainError(f"an instruction has {INSTRUCTION_MAX} characters at most", "too_long")
        cur = self.store.cursor()
        with transaction(cur):
            incident = incident_store.get(cur, incident_id)
            if incident is None or not self.sees_incident(principal, incident):
                raise ChainError(f"there is no incident {incident_id} for this principal", "missing")
            done = task_store.request_done(cur, request)
            if done is not None:
                return done
            if not principal.can("act") or principal.unit is None:
                raise ChainError(f"{principal.name} gives no tasks (no unit of the organisation, or no right to "
                                 "act)", "forbidden")  # fmt: skip
            if (to_unit, to_person) not in self.targets(principal):
                raise ChainError(f"{to_person or to_unit} is not below {principal.unit}", "target")
            if incident["state"] in ENDED_STATES:
                raise ChainError(f"incident {incident_id} is {incident['state']}", "state")
            tasks = task_store.of_incident(cur, incident_id)
            given = [t for t in tasks if t["to_unit"] == principal.unit and t["to_person"] is None]
            held = [t for t in given if t["state"] in ("signed", "on_site", "returned")]
            if not held:
                self._may_give_first(principal, incident, unsigned=any(t["state"] == "sent" for t in given))
            due = self._due(now, "receipt", incident["severity"])
            task_id = task_store.insert(cur, {
                "incident_id": incident_id, "parent_id": held[-1]["id"] if held else None,
                "from_unit": principal.unit, "to_unit": to_unit, "to_person": to_person, "state": "sent",
                "instruction": instruction, "sent_by": principal.name, "sent_at": now, "stage_due": due,
                "escalate_at": due, "updated_at": now,
            })  # fmt: skip
            details = {"task": task_id, "from": principal.unit, "to": to_unit, "person": to_person,
                       "request": request, **({"due": due.isoformat()} if due else {})}  # fmt: skip
            if not held and (incident["state"], "dispatch") in TRANSITIONS:
                move_incident(cur, incident, principal.actor, "dispatch", now, instruction, unit_id=to_unit,
                              details={"task": task_id})  # fmt: skip
                incident = incident_store.get(cur, incident_id)
            _log(cur, incident, now, principal.actor, "dispatch", instruction, details)
            task_store.remember_request(cur, request, task_id, now)
        return task_id

    def _may_give_first(self, principal: Principal, incident: dict, unsigned: bool) -> None:
        """ChainError unless the principal's unit gives the incident first (gives_first), and no task given to it
        for the incident waits to be signed for."""
        if unsigned or not gives_first(self.org, principal, incident):
            raise ChainError(f"incident {incident['id']} is {incident['centre_id'] or 'the city'}'s to give; "
                             f"{principal.unit} gives what it was given, once signed for", "forbidden")  # fmt: skip

    def _act(self, principal: Principal, task_id: int, action: str, now: datetime, note: str,
             position: Position | None, photos: tuple[Photo, ...], request: str | None) -> dict:  # fmt: skip
        if action not in TASK_ACTIONS:
            raise ChainError(f"no task action {action!r}; they are {', '.join(TASK_ACTIONS)}", "missing")
        if len(note) > NOTE_MAX:
            raise ChainError(f"a note has {NOTE_MAX} characters at most", "too_long")
        cur = self.store.cursor()
        with transaction(cur):
            task = task_store.get(cur, task_id)
            if task_store.request_done(cur, request) is not None and task is not None:
                return task
            to_state = self._allowed(cur, principal, task, task_id, action)
            if action in NEEDS_NOTE and not note:
                raise ChainError(f"'{action}' needs a note saying what was done, or why", "needs_note")
            if action == "feedback" and not note and not photos:
                raise ChainError("feedback is a note, a photo, or both", "empty")
            incident = incident_store.get(cur, task["incident_id"])
            fields = self._moved(task, action, to_state, principal, now, incident["severity"])
            if fields:
                task_store.update(cur, task_id, fields)
            for photo in photos:
                task_store.add_attachment(cur, {
                    "id": photo.id, "task_id": task_id, "incident_id": task["incident_id"],
                    "media_type": photo.media_type, "bytes": photo.bytes, "width": photo.width,
                    "height": photo.height, "name": photo.name, "uploaded_by": principal.name, "uploaded_at": now,
                })  # fmt: skip
            details = {"task": task_id, "to": task["to_person"] or task["to_unit"], "request": request,
                       **({"photos": [p.id for p in photos]} if photos else {}),
                       **({"lon": position.lon, "lat": position.lat, "accuracy_m": position.accuracy_m}
                          if position else {})}  # fmt: skip
            _log(cur, incident, now, principal.actor, action, note, details)
            task_store.remember_request(cur, request, task_id, now)
            self._follow(cur, task_store.get(cur, task_id), action, principal.actor, now, note)
        return task_store.get(cur, task_id)

    def may(self, principal: Principal, task_id: int, action: str) -> None:
        """ChainError unless the principal may take this step on the task now (asked before a photo is kept)."""
        if action not in TASK_ACTIONS:
            raise ChainError(f"no task action {action!r}; they are {', '.join(TASK_ACTIONS)}", "missing")
        cur = self.store.cursor()
        self._allowed(cur, principal, task_store.get(cur, task_id), task_id, action)

    def _allowed(self, cur, principal: Principal, task: dict | None, task_id: int, action: str) -> str | None:
        """The state the step takes the task to; ChainError when the principal may not take it now."""
        if task is None or not self._party(principal, task):
            raise ChainError(f"there is no task {task_id} for this principal", "missing")
        if incident_store.get(cur, task["incident_id"])["state"] in ENDED_STATES:
            raise ChainError(f"the incident of task {task_id} has ended", "state")
        receiver = action in RECEIVER_ACTIONS
        if receiver and not self._receives(principal, task):
            raise ChainError(f"only the receiver of task {task_id} may {action} it", "forbidden")
        if not receiver and not (principal.unit == task["from_unit"] and principal.can("act")):
            raise ChainError(f"only the sender of task {task_id} may {action} it", "forbidden")
        states, to_state = RECEIVER_ACTIONS[action] if receiver else SENDER_ACTIONS[action]
        if task["state"] not in states:
            raise ChainError(f"task {task_id} is {task['state']}: it cannot be given {action}", "state")
        return to_state

    def _party(self, principal: Principal, task: dict) -> bool:
        """Whether the principal has anything to do with the task: its receiver, its sender, or above either."""
        if principal.unit is None:
            return False
        if not self._whole_unit(principal):  # a grid worker: the tasks given to them, not their centre's
            return task["to_person"] == principal.name
        if self._receives(principal, task) or principal.unit in (task["from_unit"], task["escalated_to"]):
            return True
        return principal.role != "field_worker" and any(u.id == principal.unit for u in self.org.chain(task["to_unit"]))

    def _receives(self, principal: Principal, task: dict) -> bool:
        if task["to_person"] is not None:
            return principal.name == task["to_person"]
        return principal.unit == task["to_unit"] and self._whole_unit(principal) and principal.can("tasks")

    def _moved(self, task: dict, action: str, to_state: str | None, principal: Principal, now: datetime,
               severity: str) -> dict:  # fmt: skip
        if to_state is None:
            return {}
        fields: dict = {"state": to_state, "updated_at": now}
        if action == "sign":
            due = self._due(now, "report", severity)
            fields.update(signed_by=principal.name, signed_at=now, stage_due=due, escalate_at=due, escalated_to=None)
        elif action == "report":
            fields.update(reported_at=now, stage_due=None, escalate_at=None, escalated_to=None)
        elif action == "verify":
            fields.update(verified_at=now)
        elif action == "return":
            due = self._due(now, "report", severity)
            fields.update(reported_at=None, stage_due=due, escalate_at=due)
        return fields

    def _follow(self, cur, task: dict, action: str, actor: str, now: datetime, note: str) -> None:
        """What a step means above the task: a report goes up once all its siblings are reported; the incident
        follows its first tasks."""
        incident = incident_store.get(cur, task["incident_id"])
        if action == "on_site" and incident["state"] == "dispatched":
            move_incident(cur, incident, actor, "start", now, details={"task": task["id"]})
        if action == "report":
            self._report_up(cur, task, actor, now, note)
        if action == "verify":
            self._verify_down(cur, task, actor, now)
        if action == "return":
            self._withdraw_up(cur, task, actor, now, note)
        if task["parent_id"] is None and action in ("report", "verify", "return"):
            self._incident_follows(cur, task["incident_id"], actor, now, note)

    def _verify_down(self, cur, task: dict, actor: str, now: datetime) -> None:
        """What was reported below a verified task is verified with it."""
        for child in task_store.children(cur, task["id"]):
            if child["state"] == "reported":
                task_store.update(cur, child["id"], {"state": "verified", "verified_at": now, "updated_at": now})
                _log(
                    cur,
                    incident_store.get(cur, child["incident_id"]),
                    now,
                    actor,
                    "verify",
                    "",
                    {"task": child["id"], "to": child["to_person"] or child["to_unit"], "with_task": task["id"]},
                )
                self._verify_down(cur, child, actor, now)

    def _withdraw_up(self, cur, task: dict, actor: str, now: datetime, note: str) -> None:
        """A task returned below a task that went up as reported takes that report back: the work is not done."""
        parent = task_store.get(cur, task["parent_id"]) if task["parent_id"] is not None else None
        if parent is None or parent["state"] != "reported":
            return
        incident = incident_store.get(cur, parent["incident_id"])
        due = self._due(now, "report", incident["severity"])
        task_store.update(cur, parent["id"], {"state": "signed", "reported_at": None, "stage_due": due,
                                              "escalate_at": due, "updated_at": now})  # fmt: skip
        _log(cur, incident, now, actor, "withdraw", note, {"task": parent["id"], "to": parent["to_unit"],
                                                           "from_task": task["id"]})  # fmt: skip
        self._withdraw_up(cur, parent, actor, now, note)
        if parent["parent_id"] is None:
            self._incident_follows(cur, parent["incident_id"], actor, now, note)

    def _report_up(self, cur, task: dict, actor: str, now: datetime, note: str) -> None:
        parent = task_store.get(cur, task["parent_id"]) if task["parent_id"] is not None else None
        if parent is None or parent["state"] not in RECEIVER_ACTIONS["report"][0]:
            return
        if any(t["state"] not in ("reported", "verified") for t in task_store.children(cur, parent["id"])):
            return
        task_store.update(cur, parent["id"], {"state": "reported", "reported_at": now, "stage_due": None,
                                              "escalate_at": None, "escalated_to": None,
                                              "updated_at": now})  # fmt: skip
        incident = incident_store.get(cur, parent["incident_id"])
        _log(cur, incident, now, actor, "report", note, {"task": parent["id"], "to": parent["to_unit"],
                                                         "from_task": task["id"]})  # fmt: skip
        self._report_up(cur, task_store.get(cur, parent["id"]), actor, now, note)
        if parent["parent_id"] is None:
            self._incident_follows(cur, parent["incident_id"], actor, now, note)

    def _incident_follows(self, cur, incident_id: int, actor: str, now: datetime, note: str) -> None:
        states = {t["state"] for t in task_store.of_incident(cur, incident_id) if t["parent_id"] is None}
        incident = incident_store.get(cur, incident_id)
        if states <= {"verified"}:
            steps = ("resolve", "close")
        elif states <= {"reported", "verified"}:
            steps = ("start", "resolve") if incident["state"] == "dispatched" else ("resolve",)
        elif incident["state"] == "resolved":  # reported, then returned or taken back below: not done after all
            steps = ("reopen",)
        else:
            steps = ()
        for step in steps:
            incident = incident_store.get(cur, incident_id)
            if (incident["state"], step) in TRANSITIONS:
                move_incident(cur, incident, actor, step, now, note or step)

    def _raise(self, cur, task: dict, now: datetime) -> list[tuple[int, str]]:
        above = ([task["to_unit"]] if task["to_person"] else []) + [u.id for u in self.org.chain(task["to_unit"])[1:]
                                                                    if u.kind == "centre"]  # fmt: skip
        at = above.index(task["escalated_to"]) + 1 if task["escalated_to"] in above else 0
        if at >= len(above):
            task_store.update(cur, task["id"], {"escalate_at": None})
            return []
        holder = above[at]
        stage = "receipt" if task["state"] == "sent" else "report"
        limit = self.org.file.time_limits.of(stage, task["severity"])
        again = self._after(task["escalate_at"], limit) if limit is not None and at + 1 < len(above) else None
        task_store.update(cur, task["id"], {"escalated_to": holder, "escalate_at": again, "updated_at": now})
        incident = incident_store.get(cur, task["incident_id"])
        owner = task["to_person"] or task["to_unit"]
        _log(cur, incident, now, "time-limits", "escalate", f"{stage} time limit passed",
             {"task": task["id"], "stage": stage, "to": holder, "owner": owner,
              "due": task["stage_due"].isoformat() if task["stage_due"] else None})  # fmt: skip
        notifications.tell(cur, key=f"task:{task['id']}:{stage}:raised:{holder}", event="escalation", now=now,
                           incident=incident, task_id=task["id"], title_zh=incident["title_zh"],
                           title_en=incident["title_en"], units=[holder, task["to_unit"]],
                           details={"stage": stage, "to": holder, "owner": owner})  # fmt: skip
        return [(task["id"], holder)]

    def _due(self, start: datetime, stage: str, severity: str) -> datetime | None:
        limit = self.org.file.time_limits.of(stage, severity)
        return self._after(start, limit) if limit is not None else None

    def _after(self, start: datetime, limit: timedelta | Working) -> datetime:
        if isinstance(limit, Working):
            if self.calendar is None:
                raise ChainError("the organisation's time limits count working time: give the city's working "
                                 "calendar ([alerts] calendar)", "state")  # fmt: skip
            return self.calendar.due(start, limit)
        return start + limit


def gives_first(org: Organisation, principal: Principal, incident: dict) -> bool:
    """Whether the principal's unit may give the incident without a task of its own for it: the centre it was
    routed to, or one above that centre (the city taking over from a district), within the principal's scope."""
    owner = incident["centre_id"]
    above_owner = owner is None or any(u.id == principal.unit for u in org.chain(owner))
    return principal.unit is not None and above_owner and permission_allowed(principal, "dispatch", place(incident))


def _log(cur, incident: dict, now: datetime, actor: str, action: str, note: str, details: dict) -> None:
    """A task's step in its incident's timeline (the incident's state stays as it is; its views read it anew)."""
    incident_store.update(cur, incident["id"], {"updated_at": now})
    incident_store.log(cur, incident["id"], now, actor, f"task_{action}", incident["state"], incident["state"],
                       note, {k: v for k, v in details.items() if v is not None})  # fmt: skip
