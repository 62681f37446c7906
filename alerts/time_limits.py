"""Time limits for each stage of an alert: acknowledge, dispatch, resolve.

The stage follows from the state; its clock starts at the action that opened it (the alert's creation, the
acknowledgement or return, the latest dispatch or reopening), read from the timeline. A breach marks the alert
overdue for that stage, raises its severity one level and says so in the timeline, once per stage. A snoozed
alert is left alone until its snooze ends. Limits come from the city's table by severity, or from the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.actions import step_up
from alerts.rules import Rule
from store import alerts as alert_store
from store.database import Store

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
    alert_id: int
    stage: str
    due: datetime
    overdue: bool


class TimeLimits:
    def __init__(self, table, rules: list[Rule]):
        """`table`: the city's limits (cityops.config.TimeLimits, minutes by stage and severity), or None."""
        self.table = table
        self.rules = {r.id: r for r in rules}

    def limit(self, rule_id: str, stage: str, severity: str) -> timedelta | None:
        rule = self.rules.get(rule_id)
        if rule is not None and rule.time_limits is not None and getattr(rule.time_limits, stage) is not None:
            return getattr(rule.time_limits, stage)
        if self.table is None:
            return None
        return timedelta(minutes=getattr(getattr(self.table, stage), severity))

    def deadlines(self, store: Store, now: datetime) -> list[Deadline]:
        """The running stage clock of every open alert that has one."""
        cur = store.cursor()
        alerts = [a for a in alert_store.raised_alerts(cur) if a["state"] in STAGE_OF_STATE]
        if not alerts:
            return []
        starts = alert_store.last_actions(cur, [a["id"] for a in alerts])
        out = []
        for alert in alerts:
            stage = STAGE_OF_STATE[alert["state"]]
            limit = self.limit(alert["rule_id"], stage, alert["severity"])
            opened = [starts[(alert["id"], a)] for a in STAGE_STARTS[stage] if (alert["id"], a) in starts]
            if limit is None or not opened:
                continue
            due = max(opened) + limit
            out.append(Deadline(alert["id"], stage, due, now > due))
        return out

    def check(self, store: Store, now: datetime | None = None) -> list[tuple[int, str]]:
        """Escalate alerts whose stage clock ran out; returns (alert id, stage) for each breach found now."""
        now = now or datetime.now(UTC)
        cur = store.cursor()
        breaches = []
        for deadline in self.deadlines(store, now):
            if not deadline.overdue:
                continue
            alert = alert_store.get(cur, deadline.alert_id)
            if deadline.stage in (alert["overdue_stages"] or []):
                continue  # once per stage
            if alert["snoozed_until"] is not None and alert["snoozed_until"] > now:
                continue
            severity = step_up(alert["severity"])
            alert_store.update(
                cur,
                alert["id"],
                {
                    "overdue_stages": [*(alert["overdue_stages"] or []), deadline.stage],
                    "severity": severity,
                    "updated_at": now,
                },
            )
            alert_store.log(
                cur, alert["id"], now, "time-limits", "overdue", alert["state"], alert["state"],
                f"{deadline.stage} time limit passed at {deadline.due.isoformat()}",
                {"stage": deadline.stage, "severity": severity},
            )  # fmt: skip
            breaches.append((alert["id"], deadline.stage))
        if breaches:
            store.bump_version()
        return breaches
