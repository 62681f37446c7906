"""What rules write to their alerts: the effects of an instance's step, and severity steps.

FIRE opens an alert with the rule's texts filled in for its subject (or, when one is still open for the same
(rule, subject), fires that one again: one open alert per subject); REFIRE refreshes the open alert (its value,
active again if it had cleared, a higher severity when a `step_up` threshold is crossed); CLEAR marks it cleared.
Each change is written to the alert's timeline as the actor `rules`. `escalate_unhandled` raises alerts left
`new` longer than a rule's `unhandled_for`. The writes join the caller's transaction; `changed` says whether any
was made, so that readers are told once it is committed.

Alerts opened in one evaluation are written together by `flush`, at its end: placed in their incidents
(alerts/incidents.py), then inserted with their timeline in a few statements whatever their number, since a storm
opens them by the thousand. An incident follows its members: their worst severity, how many are active.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.incidents import Incidents
from alerts.rules import Rule
from alerts.subjects import Subject, Subjects
from store import alerts as alert_store
from store import incidents as incident_store
from store.database import Store
from store.records import severity_rank

# A firing alert's last value is refreshed at most this often when nothing else about it changes.
REFRESH_FIRING = timedelta(minutes=1)


class RuleAlerts:
    def __init__(self, store: Store, subjects: Subjects, incidents: Incidents):
        self._store = store
        self._subjects = subjects
        self.incidents = incidents
        self._touched: dict[tuple[str, str], datetime] = {}  # when each firing alert was last refreshed
        self._opening: dict[tuple[str, str], tuple[Rule, dict[str, Any]]] = {}  # fired, written at `flush`
        self._refiring: dict[tuple[str, str], tuple[Rule, float | None, dict | None]] = {}  # … fired again
        self._clearing: dict[tuple[str, str], dict | None] = {}  # … cleared, with why for the timeline
        # Incidents whose members changed: their counts are taken again from the alerts table at `flush`.
        self._recount: set[int | None] = set()
        self.changed = False  # an alert was written in the current transaction, in something the views show
        # … or only an open alert's latest value refreshed (store.database.CHANGES' "alert_values")
        self.refreshed = False

    def fire(self, rule: Rule, subject_id: str, value: float | None, now: datetime, subject: Subject | None,
             where: tuple | None, fields: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Open the alert (at `flush`); `where` (lon, lat, district, town, grid) places it when its subject has no
        place of its own; `fields` are what an official warning says of itself (alerts/warnings.py)."""
        severity = severity_for(rule, rule.severity, value, subject.attributes if subject else {})
        place = (subject.lon, subject.lat, subject.district_id, subject.town_id, subject.grid_id) if subject else (
            None, None, None, None, None)  # fmt: skip
        if where is not None:
            place = where
        lon, lat, district, town, grid = place
        self._opening[(rule.id, subject_id)] = (rule, {
            "rule_id": rule.id, "subject_id": subject_id, "domain": rule.domain, "severity": severity,
            "initial_severity": rule.severity, "state": "new", "condition": "active",
            **texts(rule, subject_id, value, subject), "unit_type": rule.unit, "sop": rule.sop,
            "district_id": district, "town_id": town, "grid_id": grid, "lon": lon, "lat": lat, "last_value": value,
            "first_fired_at": now, "last_fired_at": now, "created_at": now, "updated_at": now,
            "incident_id": None, "suppressed_by": None, "area": None, "expires_at": None,
        })  # fmt: skip
        if fields:
            self._opening[(rule.id, subject_id)][1].update(fields, initial_severity=fields["severity"])

    def flush(self, now: datetime) -> None:
        """Write what this evaluation fired: an alert still open from before (cleared meanwhile, or left by a
        restart) fires again, one alert per subject; the others are placed in incidents and inserted."""
        cur = self._store.cursor()
        opening, self._opening = self._opening, {}
        for key, existing in alert_store.open_alerts_of(cur, list(opening)).items():
            rule, row = opening.pop(key)
            self._refiring[key] = (rule, row["last_value"], existing)
        if self._refiring:
            self._write_refires(cur, now)
        if self._clearing:
            self._write_clears(cur, now)
        if opening:
            self._write_new(cur, opening, now)
        recount, self._recount = self._recount - {None}, set()
        incident_store.recount(cur, sorted(recount), now)

    def _write_new(self, cur: alert_store.Cursor, opening: dict, now: datetime) -> None:
        rows = [row for _, row in opening.values()]
        for row, alert_id in zip(rows, alert_store.new_ids(cur, "alert_ids", len(rows)), strict=True):
            row["id"] = alert_id
        self._recount |= self.incidents.place(cur, rows, now)
        alert_store.insert_many(cur, rows)
        alert_store.log_many(cur, [
            {"alert_id": row["id"], "ts": now, "actor": "rules", "action": "fire", "from_state": None,
             "to_state": "new", "note": row["suppressed_by"] or "",
             "details": {"value": row["last_value"], "severity": row["severity"], "metrics": rule.when.metrics(),
                         "incident": row["incident_id"]}}
            for rule, row in opening.values()
        ])  # fmt: skip
        self.changed = True

    def refire(self, rule: Rule, subject_id: str, value: float | None, now: datetime,
               alert: dict | None = None) -> None:  # fmt: skip
        """The condition holds again or still: refresh the open alert (at `flush`, with the others of this
        evaluation) when there is something new to say."""
        key = (rule.id, subject_id)
        if key in self._opening:  # fired in this evaluation, not written yet
            self._opening[key][1].update(last_value=value, last_fired_at=now)
            return
        touched = self._touched.get(key)
        may_step_up = any(s.above is not None or s.below is not None for s in rule.step_up)
        if alert is None and not may_step_up and touched is not None and now - touched < REFRESH_FIRING:
            return  # nothing new to say
        self._refiring[key] = (rule, value, alert)

    def _write_refires(self, cur: alert_store.Cursor, now: datetime) -> None:
        """The open alerts fired again in this evaluation, in a few statements whatever their number: their value,
        active again if they had cleared, and a higher severity when a step's threshold is crossed."""
        refiring, self._refiring = self._refiring, {}
        missing = [key for key, (_, _, alert) in refiring.items() if alert is None]
        found = alert_store.open_alerts_of(cur, missing)
        updates, log, worse = [], [], {}
        for key, (rule, value, alert) in refiring.items():
            alert = alert or found.get(key)
            if alert is None:
                continue
            self._touched[key] = now
            row = {**alert, "last_value": value, "last_fired_at": now, "updated_at": now}
            shown = False  # what the views list changes: active again, or a higher severity
            if alert["condition"] == "cleared":
                shown = True
                row.update(condition="active", cleared_at=None, fire_count=int(alert["fire_count"]) + 1)
                log.append(_entry(alert, now, "refire", details={"value": value}))
                self._recount.add(alert["incident_id"])
            higher = severity_for(rule, alert["severity"], value, self._subjects.attributes(key[1]))
            if higher != alert["severity"]:
                shown = True
                row["severity"] = higher
                log.append(_entry(alert, now, "escalate", "threshold crossed", {"severity": higher, "value": value}))
                if _raised(alert):
                    worse[alert["incident_id"]] = min(worse.get(alert["incident_id"], higher), higher,
                                                      key=severity_rank)  # fmt: skip
            self.changed = self.changed or shown
            updates.append(row)
        alert_store.refresh_many(cur, updates)
        alert_store.log_many(cur, log)
        for incident_id, severity in worse.items():
            incident_store.raise_severity(cur, incident_id, severity, now)
        self.refreshed = self.refreshed or bool(updates)

    def clear(self, rule: Rule, subject_id: str, now: datetime, why: dict | None = None) -> None:
        """The condition no longer holds: mark the open alert cleared (at `flush`, with the others); `why` goes to
        the timeline entry's details (an official warning's Cancel or expiry)."""
        key = (rule.id, subject_id)
        self._refiring.pop(key, None)
        if self._opening.pop(key, None) is not None:
            return  # fired and cleared in one evaluation: nothing to say
        self._clearing[key] = why

    def _write_clears(self, cur: alert_store.Cursor, now: datetime) -> None:
        """The alerts whose condition cleared in this evaluation, in a few statements: cleared; one recorded but
        never raised (inhibited, silenced) is closed, as nobody is to handle it."""
        clearing, self._clearing = self._clearing, {}
        updates, log = [], []
        for key, alert in alert_store.open_alerts_of(cur, list(clearing)).items():
            if alert["condition"] == "cleared":
                continue
            row = {**alert, "condition": "cleared", "cleared_at": now, "updated_at": now}
            if alert["suppressed_by"]:
                row["state"] = "closed"
                log.append({**_entry(alert, now, "close", f"cleared while {alert['suppressed_by']}"),
                            "to_state": "closed"})  # fmt: skip
            else:
                log.append(_entry(alert, now, "clear", details=clearing[key]))
            self._recount.add(alert["incident_id"])
            updates.append(row)
        alert_store.refresh_many(cur, updates)
        alert_store.log_many(cur, log)
        self.changed = self.changed or bool(updates)

    def forget(self, key: tuple[str, str] | None = None) -> None:
        """Drop what is remembered of refreshing one instance's alert (it went inactive), or of all (rollback)."""
        if key is None:
            self._touched.clear()
            self._opening.clear()
            self._refiring.clear()
            self._clearing.clear()
            self._recount.clear()
        else:
            self._touched.pop(key, None)

    def escalate_unhandled(self, rules: list[Rule], now: datetime) -> None:
        stepping = {r.id: r for r in rules if any(s.unhandled_for for s in r.step_up)}
        if not stepping:
            return
        cur = self._store.cursor()
        for alert in alert_store.raised_alerts(cur):
            rule = stepping.get(alert["rule_id"])
            if rule is None or alert["state"] != "new":
                continue
            age = now - alert["created_at"]
            for up in rule.step_up:
                if up.unhandled_for and age >= up.unhandled_for and _higher(up.severity, alert["severity"]):
                    alert_store.update(cur, alert["id"], {"severity": up.severity, "updated_at": now})
                    alert_store.log(cur, alert["id"], now, "rules", "escalate", "new", "new",
                                    f"unhandled for {up.unhandled_for}", {"severity": up.severity})  # fmt: skip
                    if _raised(alert):
                        incident_store.raise_severity(cur, alert["incident_id"], up.severity, now)
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
    values = Template(subject.attributes if subject else {})
    values.update(
        id=subject_id,
        name=subject.name if subject else subject_id,
        value="" if value is None else (f"{value:.2f}".rstrip("0").rstrip(".")),
    )
    # In English, the device's English name when its feed gave one (feeds/decoders/base.py parse_name).
    english = Template(values, name=values.get("name_en") or values["name"])
    return {
        "title_zh": rule.title.zh_CN.format_map(values),
        "title_en": rule.title.en.format_map(english),
        "message_zh": rule.message.zh_CN.format_map(values),
        "message_en": rule.message.en.format_map(english),
    }


class Template(dict):
    """Placeholders the subject (or the warning) lacks are left as they are written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _entry(alert: dict[str, Any], now: datetime, action: str, note: str = "", details: dict | None = None) -> dict:
    """A timeline entry of the rules that leaves the alert's state as it is."""
    return {"alert_id": alert["id"], "ts": now, "actor": "rules", "action": action, "from_state": alert["state"],
            "to_state": alert["state"], "note": note, "details": details}  # fmt: skip


def _raised(alert: dict[str, Any]) -> bool:
    """Whether the alert counts in its incident (placed there, and not inhibited or silenced)."""
    return alert["incident_id"] is not None and not alert["suppressed_by"]


def _higher(a: str, b: str) -> bool:
    return severity_rank(a) < severity_rank(b)
