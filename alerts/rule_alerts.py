"""What rules write to their alerts: the effects of an instance's step, and severity steps.

FIRE opens an alert with the rule's texts filled in for its subject (or, when one is still open for the same
(rule, subject), fires that one again: one open alert per subject); REFIRE refreshes the open alert (its value,
active again if it had cleared, a higher severity when a `step_up` threshold is crossed); CLEAR marks it cleared.
Each change is written to the alert's timeline as the actor `rules`. `escalate_unhandled` raises alerts left
`new` longer than a rule's `unhandled_for`. The writes join the caller's transaction; `changed` says whether any
was made, so that readers are told once it is committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.rules import Rule
from alerts.subjects import Subject, Subjects
from store import alerts as alert_store
from store.database import Store
from store.records import severity_rank

# A firing alert's last value is refreshed at most this often when nothing else about it changes.
REFRESH_FIRING = timedelta(minutes=1)


class RuleAlerts:
    def __init__(self, store: Store, subjects: Subjects):
        self._store = store
        self._subjects = subjects
        self._touched: dict[tuple[str, str], datetime] = {}  # when each firing alert was last refreshed
        self.changed = False  # an alert was written in the current transaction

    def fire(self, rule: Rule, subject_id: str, value: float | None, now: datetime, subject: Subject | None,
             where: tuple | None) -> None:  # fmt: skip
        """Open the alert; `where` (lon, lat, district) places it when its subject has no place of its own."""
        cur = self._store.cursor()
        existing = alert_store.open_alert(cur, rule.id, subject_id)
        if existing is not None:  # still open from before (cleared meanwhile, or restarted): one alert per subject
            self.refire(rule, subject_id, value, now, existing)
            return
        severity = severity_for(rule, rule.severity, value, subject.attributes if subject else {})
        fields = texts(rule, subject_id, value, subject)
        lon, lat, district = (subject.lon, subject.lat, subject.district_id) if subject else (None, None, None)
        if where is not None:
            lon, lat, district = where
        alert_id = alert_store.insert(
            cur,
            {
                "rule_id": rule.id, "subject_id": subject_id, "domain": rule.domain, "severity": severity,
                "initial_severity": rule.severity, "state": "new", "condition": "active", **fields,
                "unit_type": rule.unit, "sop": rule.sop, "district_id": district, "lon": lon, "lat": lat,
                "last_value": value, "first_fired_at": now, "last_fired_at": now, "created_at": now,
                "updated_at": now,
            },
        )  # fmt: skip
        alert_store.log(cur, alert_id, now, "rules", "fire", None, "new", "",
                        {"value": value, "severity": severity, "metrics": rule.when.metrics()})  # fmt: skip
        self.changed = True

    def refire(self, rule: Rule, subject_id: str, value: float | None, now: datetime,
               alert: dict | None = None) -> None:  # fmt: skip
        key = (rule.id, subject_id)
        touched = self._touched.get(key)
        may_step_up = any(s.above is not None or s.below is not None for s in rule.step_up)
        if alert is None and not may_step_up and touched is not None and now - touched < REFRESH_FIRING:
            return  # nothing new to say
        cur = self._store.cursor()
        alert = alert or alert_store.open_alert(cur, rule.id, subject_id)
        if alert is None:
            return
        self._touched[key] = now
        fields: dict[str, Any] = {"last_value": value, "last_fired_at": now, "updated_at": now}
        if alert["condition"] == "cleared":
            fields.update(condition="active", cleared_at=None, fire_count=int(alert["fire_count"]) + 1)
            alert_store.log(cur, alert["id"], now, "rules", "refire", alert["state"], alert["state"], "",
                            {"value": value})  # fmt: skip
        higher = severity_for(rule, alert["severity"], value, self._subjects.attributes(subject_id))
        if higher != alert["severity"]:
            fields["severity"] = higher
            alert_store.log(cur, alert["id"], now, "rules", "escalate", alert["state"], alert["state"],
                            "threshold crossed", {"severity": higher, "value": value})  # fmt: skip
        alert_store.update(cur, alert["id"], fields)
        self.changed = True

    def clear(self, rule: Rule, subject_id: str, now: datetime) -> None:
        cur = self._store.cursor()
        alert = alert_store.open_alert(cur, rule.id, subject_id)
        if alert is None or alert["condition"] == "cleared":
            return
        alert_store.update(cur, alert["id"], {"condition": "cleared", "cleared_at": now, "updated_at": now})
        alert_store.log(cur, alert["id"], now, "rules", "clear", alert["state"], alert["state"])
        self.changed = True

    def forget(self, key: tuple[str, str] | None = None) -> None:
        """Drop what is remembered of refreshing one instance's alert (it went inactive), or of all (rollback)."""
        if key is None:
            self._touched.clear()
        else:
            self._touched.pop(key, None)

    def escalate_unhandled(self, rules: list[Rule], now: datetime) -> None:
        stepping = {r.id: r for r in rules if any(s.unhandled_for for s in r.step_up)}
        if not stepping:
            return
        cur = self._store.cursor()
        for alert in alert_store.open_alerts(cur):
            rule = stepping.get(alert["rule_id"])
            if rule is None or alert["state"] != "new":
                continue
            age = now - alert["created_at"]
            for up in rule.step_up:
                if up.unhandled_for and age >= up.unhandled_for and _higher(up.severity, alert["severity"]):
                    alert_store.update(cur, alert["id"], {"severity": up.severity, "updated_at": now})
                    alert_store.log(cur, alert["id"], now, "rules", "escalate", "new", "new",
                                    f"unhandled for {up.unhandled_for}", {"severity": up.severity})  # fmt: skip
                    alert["severity"] = up.severity
                    self.changed = True


def severity_for(rule: Rule, current: str, value: float | None, attributes: dict[str, Any]) -> str:
    """The severity after value steps: the highest of `current` and every step whose threshold is crossed."""
    best = current
    if value is None:
        return best
    for up in rule.step_up:
        ref = up.above if up.above is not None else up.below
        if ref is None:
            continue
        limit = ref.resolve(attributes)
        if limit is None:
            continue
        crossed = value >= limit if up.above is not None else value <= limit
        if crossed and _higher(up.severity, best):
            best = up.severity
    return best


def texts(rule: Rule, subject_id: str, value: float | None, subject: Subject | None) -> dict[str, str]:
    """The rule's title and message in both languages, filled in for the subject and the value."""
    values = _Template(subject.attributes if subject else {})
    values.update(
        id=subject_id,
        name=subject.name if subject else subject_id,
        value="" if value is None else (f"{value:.2f}".rstrip("0").rstrip(".")),
    )
    return {
        "title_zh": rule.title.zh_CN.format_map(values),
        "title_en": rule.title.en.format_map(values),
        "message_zh": rule.message.zh_CN.format_map(values),
        "message_en": rule.message.en.format_map(values),
    }


class _Template(dict):
    """Placeholders the subject lacks are left as they are written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _higher(a: str, b: str) -> bool:
    return severity_rank(a) < severity_rank(b)
