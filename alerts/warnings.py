"""Official warnings (CAP from the weather bureau, the water authority …) as alerts: one alert per warning.

A rule of `subject: warning` (alerts/rules.py) opens an alert for each warning its condition takes: the warning's
Alert message opens it, with the warning's severity, texts, area and expiry; an Update replaces them (its severity
may go down as well as up); a Cancel clears it, and so does its expiry. The alert's subject is where the warning's
chain leads back to ("sender,identifier"): an Update or Cancel names the messages it follows in `references`, and
those name theirs, so the chain is followed back through the events table (of the same feed) to its alert. An Update
whose warning was never seen (CityOps started after it) opens the alert; a Cancel of one never seen does nothing.

Messages come late, twice, and out of order (a poll that sees an old file, an MQTT redelivery): one sent no later
than the last its alert followed changes nothing, and a warning whose Cancel is stored opens nothing. A newer
message of a warning whose alert someone ended opens a new alert: it is news. Warnings whose area lies outside the
city open nothing (a national feed's).

Its incident follows it (alerts/incidents.py: `reshape`): the area drawn on the wall is the warning's area.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from alerts.incidents import Incidents
from alerts.rule_alerts import RuleAlerts, Template
from alerts.rules import Rule
from layers.regions import RegionIndex
from store import alerts as alert_store
from store import incidents as incident_store
from store import rule_inputs
from store.alerts import Cursor
from store.records import ENDED_STATES, Event, severity_rank

# How far back a chain of references is followed: real chains are a handful of messages long.
LONGEST_CHAIN = 64


class Warnings:
    def __init__(self, alerts: RuleAlerts, incidents: Incidents):
        self._alerts = alerts
        self._incidents = incidents

    def on_events(self, cur: Cursor, rules: list[Rule], events: list[Event], now: datetime) -> None:
        """Open, change or clear the warning rules' alerts for these events (in the order they were sent)."""
        watching = [rule for rule in rules if rule.subject == "warning"]
        warnings = sorted((e for e in events if e.details.get("msg_type")), key=lambda e: e.ts)
        for event in warnings if watching else ():
            for rule in watching:
                if _watches(rule, event, self._incidents.regions):
                    self._follow(cur, rule, event, now)
                    self._alerts.flush(now)  # the next message of the chain may be in this batch

    def expire(self, cur: Cursor, rules: list[Rule], now: datetime) -> None:
        """Clear the warning alerts whose warning has expired."""
        ids = [rule.id for rule in rules if rule.subject == "warning"]
        by_id = {rule.id: rule for rule in rules}
        for alert in alert_store.expired(cur, ids, now) if ids else ():
            self._alerts.clear(by_id[alert["rule_id"]], alert["subject_id"], now, {"expired": True})

    def _follow(self, cur: Cursor, rule: Rule, event: Event, now: datetime) -> None:
        msg_type = event.details["msg_type"]
        chain = self._chain(cur, event)
        keys = [(rule.id, subject) for subject in chain]
        latest = alert_store.latest_alerts_of(cur, keys)
        alert = next((latest[k] for k in keys if k in latest), None)
        if alert is not None and event.ts <= alert["last_fired_at"]:
            return  # said before, or older than what its alert says now: a redelivery, a late or repeated message
        if alert is None and rule_inputs.cancelled(cur, event.feed_id, chain):
            return  # its Cancel came first
        ended = alert is not None and alert["state"] in ENDED_STATES
        if msg_type == "Cancel":
            if alert is not None and not ended:
                alert_store.update(cur, alert["id"], {"last_fired_at": event.ts})
                self._alerts.clear(rule, alert["subject_id"], now, {"cancelled_by": event.msg_id})
            return
        fields = _fields(rule, event)
        in_force = fields["expires_at"] is None or fields["expires_at"] > now  # not an old message replayed
        if alert is None or ended:  # not seen yet, or news of one whose alert someone has ended: an alert of its own
            if in_force and severity_rank(fields["severity"]) <= severity_rank(rule.when.warning.min_severity):
                subject = alert["subject_id"] if alert is not None else chain[-1]
                self._alerts.fire(rule, subject, None, now, None, None, fields=fields)
            return
        changed = {k: v for k, v in fields.items() if alert.get(k) != v}
        back = alert["condition"] == "cleared" and in_force
        if back:
            changed.update(condition="active", cleared_at=None)
        alert_store.update(cur, alert["id"], {**changed, "updated_at": now})
        if set(changed) == {"last_fired_at"}:
            return  # the same again: nothing to say
        alert_store.log(cur, alert["id"], now, "rules", "update", alert["state"], alert["state"], "",
                        {"message": event.msg_id, **_changes(alert, changed)})  # fmt: skip
        if alert["incident_id"] is not None:
            if back:  # in force again: its incident counts it active, and is no longer all clear
                incident_store.recount(cur, [alert["incident_id"]], now)
            self._incidents.reshape(cur, [alert["incident_id"]], now)
        self._alerts.changed = True

    def _chain(self, cur: Cursor, event: Event) -> list[str]:
        """This message and those it follows, nearest first: the last is where the chain starts."""
        chain, frontier = [event.msg_id], list(event.references)
        while frontier and len(chain) < LONGEST_CHAIN:
            reference = frontier.pop(0)
            if reference in chain:
                continue
            chain.append(reference)
            frontier.extend(rule_inputs.references_of(cur, event.feed_id, reference))
        return chain


def _watches(rule: Rule, event: Event, regions: RegionIndex | None) -> bool:
    condition = rule.when.warning
    if rule.select.feed and event.feed_id != rule.select.feed:
        return False
    if rule.select.domain and event.domain != rule.select.domain:
        return False
    if event.details.get("status") not in condition.status:
        return False
    if regions is not None and not regions.touches_city(_place(event)):
        return False  # a national or provincial feed's warning for somewhere else
    if condition.event is not None and event.details["msg_type"] != "Cancel":
        words = [condition.event] if isinstance(condition.event, str) else condition.event
        said = " ".join(filter(None, (i.get("event") for i in event.details.get("infos", ())))).lower()
        return any(word.lower() in said for word in words)
    return True


def _place(event: Event) -> BaseGeometry | None:
    if event.area is not None:
        return shapely.geometry.shape(json.loads(event.area))
    return shapely.Point(event.lon, event.lat) if event.lon is not None else None


def _fields(rule: Rule, event: Event) -> dict[str, Any]:
    """What the alert says of its warning: severity, texts in both languages, place, area, expiry."""
    infos = event.details.get("infos", [])
    zh = next((i for i in infos if i.get("language", "").lower().startswith("zh")), None)
    en = next((i for i in infos if i.get("language", "").lower().startswith("en")), None)
    texts = {}
    for suffix, info, title, message in (("zh", zh or en, rule.title.zh_CN, rule.message.zh_CN),
                                         ("en", en or zh, rule.title.en, rule.message.en)):  # fmt: skip
        values = _values(event, info)
        texts[f"title_{suffix}"], texts[f"message_{suffix}"] = title.format_map(values), message.format_map(values)
    return {
        "severity": event.severity or rule.severity, **texts, "lon": event.lon, "lat": event.lat,
        "district_id": event.district_id, "town_id": event.town_id, "grid_id": event.grid_id, "area": event.area,
        "expires_at": event.expires_at, "last_fired_at": event.ts,  # when its warning last said something
    }  # fmt: skip


def _values(event: Event, info: dict[str, Any] | None) -> Template:
    info = info or {}
    areas = "、".join(a["description"] for a in info.get("areas", ()) if a.get("description"))
    return Template(
        headline=info.get("headline") or event.title, event=info.get("event") or event.type,
        description=info.get("description") or event.description, instruction=info.get("instruction") or "",
        areas=areas, sender=info.get("sender_name") or event.details.get("sender", ""), id=event.msg_id,
    )  # fmt: skip


def _changes(alert: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    """What an Update changed, for the timeline (the area is too long to repeat: only that it changed)."""
    shown = {}
    for name, value in changed.items():
        if name == "area":
            shown["area"] = "changed"
        elif name in ("severity", "title_zh", "title_en", "expires_at"):
            shown[name] = value.isoformat() if isinstance(value, datetime) else value
    if "severity" in shown:
        shown["severity_before"] = alert["severity"]
    return shown
