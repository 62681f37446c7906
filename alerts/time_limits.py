"""Time limits for each stage of what people handle: acknowledge, dispatch, resolve.

People handle incidents, so the clock runs on the incident: its stage follows from its state, and the stage's clock
starts when the incident entered it (opened, acknowledged or returned, dispatched or reopened), read from its
timeline. An alert inside an incident runs no clock of its own; the views show it its incident's. An alert in no
incident (from a store older than incidents) keeps its own clock, started at the action that opened its stage.

A breach marks the incident (or the alert) overdue for that stage, raises its severity one level and says so in the
timeline, once per stage. A snoozed one is left alone until its snooze ends. Limits come from the city's table by
severity, or from the rule; an incident takes the strictest of its group's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.actions import step_up
from alerts.rules import Rule, RuleError, RuleFile
from alerts.working_time import Working, WorkingCalendar
from store import alerts as alert_store
from store import incidents as incident_store
from store import notifications
from store.database import Store
from store.transaction import retrying, transaction

# Which stage an alert in each state is in, and which timeline actions start that stage's clock.
STAGE_OF_STATE: dict[str, str] = {
    "new": "acknowledge",
    "acknowledged": "dispatch",
    "returned": "dispatch",
    "dispatched": "resolve",
    "in_progress": "resolve",
    "reopened": "resolve",
}
STAGE_STARTS: dict[str, tuple[str, ...]] = {
    "acknowledge": ("fire",),
    "dispatch": ("acknowledge", "return"),
    "resolve": ("dispatch", "reopen"),
}


@dataclass(frozen=True)
class Deadline:
    id: int  # the incident's, or the alert's
    stage: str
    due: datetime
    overdue: bool
    incident: bool = False


def check_working_time(rules: list[Rule], calendar: WorkingCalendar | None) -> None:
    """RuleError when a rule counts its time limits in working time and the city keeps no calendar."""
    if calendar is not None:
        return
    for rule in rules:
        limits = rule.time_limits
        stages = [s for s in STAGE_STARTS if limits is not None and isinstance(getattr(limits, s), Working)]
        if stages:
            raise RuleError(f"rule {rule.id} counts its time limits in working time ({stages[0]}: "
                            f"{getattr(limits, stages[0])}); give the city's working calendar: "
                            "[alerts] calendar = \"calendar.yaml\"")  # fmt: skip


class TimeLimits:
    def __init__(self, table, rules: list[Rule], book: RuleFile | None = None,
                 calendar: WorkingCalendar | None = None):  # fmt: skip
        """`table`: the city's limits (cityops.config.TimeLimits, minutes by stage and severity), or None; `book`:
        the rule file, whose groups say which rules' limits an incident takes; `calendar`: the city's working days
        and hours, for limits a rule gives in working time (4wh, 2wd)."""
        self.table = table
        self.calendar = calendar
        self.set_rules(rules, book)

    def set_rules(self, rules: list[Rule], book: RuleFile | None = None) -> None:
        """Take new rules (RuleError when one counts in working time and the city keeps no calendar)."""
        check_working_time(rules, self.calendar)
        self.rules = {r.id: r for r in rules}
        self.groups = {g.id: g.rules for g in book.groups} if book else {}

    def due(self, started: datetime, limit: timedelta | Working) -> datetime:
        """When a stage that started at `started` runs out of `limit` (clock or working time)."""
        if isinstance(limit, Working):
            return self.calendar.due(started, limit)
        return started + limit

    def limit(self, rule_id: str, stage: str, severity: str) -> timedelta | Working | None:
        rule = self.rules.get(rule_id)
        if rule is not None and rule.time_limits is not None and getattr(rule.time_limits, stage) is not None:
            return getattr(rule.time_limits, stage)
        if self.table is None:
            return None
        return timedelta(minutes=getattr(getattr(self.table, stage), severity))

    def incident_due(self, group_id: str, stage: str, severity: str, started: datetime) -> datetime | None:
        """When the stage runs out by the strictest limit of the group's rules (a rule's own group has the
        rule's id): the earliest of their deadlines, whether each counts on the clock or in working time."""
        limits = [self.limit(r, stage, severity) for r in self.groups.get(group_id, [group_id])]
        return min((self.due(started, x) for x in limits if x is not None), default=None)

    def deadlines(self, store: Store, now: datetime) -> list[Deadline]:
        """The running stage clock of every open incident, and of every open alert in none, that has one."""
        cur = store.cursor()
        out = []
        incidents = [i for i in incident_store.open_incidents(cur) if i["state"] in STAGE_OF_STATE]
        changes = incident_store.state_changes(cur, [i["id"] for i in incidents])
        for incident in incidents:
            stage = STAGE_OF_STATE[incident["state"]]
            entered = [ts for ts, before, after in changes.get(incident["id"], ())
                       if STAGE_OF_STATE.get(after) == stage and STAGE_OF_STATE.get(before) != stage]  # fmt: skip
            started = entered[-1] if entered else incident["opened_at"] if stage == "acknowledge" else None
            due = self.incident_due(incident["group_id"], stage, incident["severity"], started) if started else None
            if due is not None:
                out.append(Deadline(incident["id"], stage, due, now > due, incident=True))
        alerts = [a for a in alert_store.own_clocks(cur) if a["state"] in STAGE_OF_STATE]
        starts = alert_store.last_actions(cur, [a["id"] for a in alerts]) if alerts else {}
        for alert in alerts:
            stage = STAGE_OF_STATE[alert["state"]]
            limit = self.limit(alert["rule_id"], stage, alert["severity"])
            opened = [starts[(alert["id"], a)] for a in STAGE_STARTS[stage] if (alert["id"], a) in starts]
            if limit is None or not opened:
                continue
            due = self.due(max(opened), limit)
            out.append(Deadline(alert["id"], stage, due, now > due))
        return out

    def check(self, store: Store, now: datetime | None = None) -> list[Deadline]:
        """Escalate the incidents and alerts whose stage clock ran out; the deadlines breached now."""
        now = now or datetime.now(UTC)
        breaches = []
        for deadline in self.deadlines(store, now):
            if deadline.overdue and retrying(lambda d=deadline: self._breach(store, d, now)):
                breaches.append(deadline)
        if breaches:
            store.bump_version("handling")
        return breaches

    def _breach(self, store: Store, deadline: Deadline, now: datetime) -> bool:
        """Mark one stage overdue, in one transaction with its timeline entry and its notification; False when it
        was marked before or is snoozed."""
        cur = store.cursor()
        with transaction(cur):
            kind = incident_store if deadline.incident else alert_store
            row = kind.get(cur, deadline.id)
            if deadline.stage in (row["overdue_stages"] or []):
                return False  # once per stage
            if row["snoozed_until"] is not None and row["snoozed_until"] > now:
                return False
            severity = step_up(row["severity"])
            kind.update(cur, row["id"], {"overdue_stages": [*(row["overdue_stages"] or []), deadline.stage],
                                         "severity": severity, "updated_at": now})  # fmt: skip
            kind.log(
                cur, row["id"], now, "time-limits", "overdue", row["state"], row["state"],
                f"{deadline.stage} time limit passed at {deadline.due.isoformat()}",
                {"stage": deadline.stage, "severity": severity},
            )  # fmt: skip
            if deadline.incident:
                notifications.tell(cur, key=f"incident:{row['id']}:overdue:{deadline.stage}", event="overdue",
                                   now=now, incident={**row, "severity": severity}, title_zh=row["title_zh"],
                                   title_en=row["title_en"], units=[row.get("centre_id"), row.get("department_id")],
                                   details={"stage": deadline.stage, "due": deadline.due.isoformat()})  # fmt: skip
            return True
