"""Incidents: the unit people handle, with alerts as the evidence inside them (一件事).

Each alert a rule opens is placed, in the same transaction, by the silences in force and the rule file's `groups`
and `inhibit` sections (alerts/rules.py):

- **silenced** when a silence's scope covers it (alerts/silences.py): recorded, in no incident, not raised;
- **inhibited** when an inhibition's source holds (an open, active alert of its source rule, in the same region when
  it says `same`): the alert is recorded inside the source's incident, not raised, and counted there as inhibited;
- otherwise it **joins** the open incident of a group that its rule `joins`, in its region, whose newest member is
  younger than the group's `window` (a rainstorm absorbing the waterlogging and congestion of its district);
- otherwise it joins or **opens** the incident of the group its rule opens (a rule in no group opens its own, per
  district).

An incident's severity is its worst member's; it lies in the town and the grid its members all lie in (the
access policy's place: a town sees an incident of its own town, whatever region its group counts by); its area is
the hull of its members' places (a point or a line is widened a little, so that it can be drawn), its centre the
centroid. Placing works on whole batches: a storm opens alerts by the thousand, and each costs the same as the rest
of its batch, not a round trip of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely

from alerts.org import Organisation, Routed
from alerts.rules import Group, Inhibit, RuleFile
from alerts.silences import matches as silences_matches
from layers.regions import RegionIndex
from store import alerts as alert_store
from store import incidents as incident_store
from store import notifications
from store import silences as silence_store
from store.alerts import Cursor
from store.database import records
from store.records import OPEN_STATES, severity_rank

# Half the width given to an incident whose members lie on one point or one line, in degrees (~100 m).
POINT_AREA = 0.001


@dataclass
class Placed:
    """An incident as this batch leaves it: the stored row, and what the batch added."""

    row: dict[str, Any]
    group: Group
    new: bool = False
    added: list[dict[str, Any]] = field(default_factory=list)  # raised members placed now
    inhibited: int = 0


class Incidents:
    def __init__(self, book: RuleFile, regions: RegionIndex | None = None, org: Organisation | None = None):
        """`org`: the city's organisation, whose routing gives each new incident its centre and department."""
        self.book = book
        self.regions = regions
        self.org = org

    def place(self, cur: Cursor, alerts: list[dict[str, Any]], now: datetime) -> set[int]:
        """Give each new alert (a row of store.alerts.NEW_ALERT) its incident, or its suppression, and write the
        incidents that open or change; their ids. Sources of inhibitions are placed first, then the alerts that
        open incidents others join, so that what one evaluation finds (a platform down and its devices; rain and a
        river) comes out as it would one after the other."""
        sources = self.book.inhibit_sources()
        chaining = {rule_id for g in self.book.groups if g.joins for rule_id in g.rules}
        alerts = sorted(alerts, key=lambda a: (a["rule_id"] not in sources, a["rule_id"] not in chaining))
        open_by_key: dict[tuple[str, str | None], Placed] = {}
        by_id: dict[int, Placed] = {}
        for row in incident_store.open_incidents(cur):  # oldest first: the newest of a key wins
            placed = Placed(row, self._group(row["group_id"]))
            open_by_key[(row["group_id"], row["region_id"])] = placed
            by_id[row["id"]] = placed
        holding = self._sources(cur, sources)
        silences = silence_store.in_force(cur, now)
        fresh: list[Placed] = []
        for alert in alerts:
            silence = next((s for s in silences if silences_matches(s, alert)), None)
            if silence is not None:
                alert["suppressed_by"], alert["incident_id"] = f"silence:{silence['id']}", None
                continue
            source = self._inhibiting(alert, holding)
            if source is not None:
                inhibition, source_alert = source
                alert["suppressed_by"] = f"inhibit:{inhibition.id}"
                alert["incident_id"] = source_alert["incident_id"]
                if source_alert["incident_id"] in by_id:
                    by_id[source_alert["incident_id"]].inhibited += 1
                continue
            placed = self._joined(alert, open_by_key, now)
            if placed is None:
                group = self.book.opening_group(alert["rule_id"])
                region = self._region(alert, group.by)
                placed = Placed(self._opened(alert, group, region, now), group, new=True)
                open_by_key[(group.id, region)] = placed
                fresh.append(placed)
            placed.added.append(alert)
            if alert["rule_id"] in sources:
                holding.append(alert)
        ids = alert_store.new_ids(cur, "incident_ids", len(fresh))
        for placed, incident_id in zip(fresh, ids, strict=True):
            placed.row["id"] = incident_id
            by_id[incident_id] = placed
        for placed in by_id.values():
            for alert in placed.added:
                alert["incident_id"] = placed.row["id"]
        for alert in alerts:  # inhibited by a source opened in this batch: its incident is known only now
            if "_source" in alert:
                alert["incident_id"] = alert.pop("_source")["incident_id"]
                by_id[alert["incident_id"]].inhibited += 1
        changed = [p for p in by_id.values() if p.added or p.inhibited]
        self._write(cur, changed, now)
        return {p.row["id"] for p in changed}

    def adopt(self, cur: Cursor, now: datetime) -> bool:
        """Place the open alerts that have no incident: raised before incidents existed (a store from an older
        version), or left by an incident someone ended while they were still open. Whether there were any."""
        cur.execute(
            "SELECT * FROM alerts WHERE incident_id IS NULL AND suppressed_by IS NULL "
            f"AND {alert_store.OPEN_CONDITION} ORDER BY id"
        )
        orphans = records(cur)
        if orphans:
            touched = self.place(cur, orphans, now)
            alert_store.set_placement(cur, orphans)
            incident_store.recount(cur, sorted(touched), now)
        return bool(orphans)

    def release(self, cur: Cursor, now: datetime) -> bool:
        """Raise the suppressed alerts that nothing suppresses any more (the platform is back but its camera is
        not; the maintenance window has passed): each is placed as a new alert would be. Whether any was."""
        cur.execute(f"SELECT * FROM alerts WHERE suppressed_by IS NOT NULL AND condition = 'active' "
                    f"AND {alert_store.OPEN_CONDITION}")  # fmt: skip
        suppressed = records(cur)
        if not suppressed:
            return False
        holding = self._sources(cur, self.book.inhibit_sources())
        silences = silence_store.in_force(cur, now)
        freed = [
            a for a in suppressed
            if self._inhibiting(a, holding) is None and not any(silences_matches(s, a) for s in silences)
        ]  # fmt: skip
        if not freed:
            return False
        left = {a["incident_id"] for a in freed} - {None}
        for alert in freed:
            alert["suppressed_by"] = alert["incident_id"] = None
        touched = self.place(cur, freed, now)
        alert_store.set_placement(cur, freed)
        incident_store.recount(cur, sorted(left | touched), now)
        alert_store.log_many(cur, [
            {"alert_id": a["id"], "ts": now, "actor": "rules", "action": "raise", "from_state": a["state"],
             "to_state": a["state"], "note": "nothing suppresses it any more",
             "details": {"incident": a["incident_id"]}}
            for a in freed
        ])  # fmt: skip
        return True

    def close_all_cleared(self, cur: Cursor, now: datetime) -> bool:
        """Close the incidents whose group closes itself (`auto_close`) once every member has been clear that
        long, with their open members; reason "all cleared". Whether any was."""
        due = [
            row for row in incident_store.open_incidents(cur)
            if row["all_cleared_at"] is not None and (limit := self._group(row["group_id"]).auto_close) is not None
            and now - row["all_cleared_at"] >= limit
        ]  # fmt: skip
        if not due:
            return False
        ids = [row["id"] for row in due]
        closing = incident_store.close(cur, ids, now)
        incident_store.log_many(cur, [
            {"incident_id": row["id"], "ts": now, "actor": "rules", "action": "close", "from_state": row["state"],
             "to_state": "closed", "note": "all cleared"} for row in due
        ])  # fmt: skip
        alert_store.log_many(cur, [
            {"alert_id": alert_id, "ts": now, "actor": "rules", "action": "close", "from_state": state,
             "to_state": "closed", "note": "all cleared"} for alert_id, state in closing
        ])  # fmt: skip
        return True

    def reshape(self, cur: Cursor, incident_ids: list[int], now: datetime) -> None:
        """Take these incidents' severity, area and (a group without a title of its own) title again from their
        open raised members: a member changed in place, as an official warning does with its Update."""
        for incident_id in incident_ids:
            incident = incident_store.get(cur, incident_id)
            raised = [m for m in incident_store.members(cur, incident_id)
                      if not m["suppressed_by"] and m["state"] in OPEN_STATES]  # fmt: skip
            if incident is None or not raised:
                continue
            fields = dict(zip(("lon", "lat", "area"), area((m["lon"], m["lat"], m["area"]) for m in raised),
                              strict=True))  # fmt: skip
            fields["severity"] = min((m["severity"] for m in raised), key=severity_rank)
            if incident["overdue_stages"]:  # stepped up for a time limit passed: never below that again
                fields["severity"] = min(fields["severity"], incident["severity"], key=severity_rank)
            if self._group(incident["group_id"]).title is None:
                first = min(raised, key=lambda m: m["created_at"])
                fields.update(title_zh=first["title_zh"], title_en=first["title_en"])
            changed = {k: v for k, v in fields.items() if incident[k] != v}
            if changed:
                incident_store.update(cur, incident_id, {**changed, "updated_at": now})
                incident_store.log(cur, incident_id, now, "rules", "change", incident["state"], incident["state"],
                                   details={k: v for k, v in changed.items() if k != "area"})  # fmt: skip

    # -- where an alert goes ----------------------------------------------------------------------------------
    def _sources(self, cur: Cursor, rule_ids: set[str]) -> list[dict[str, Any]]:
        """The open, active, raised alerts of the rules that are some inhibition's source."""
        if not rule_ids:
            return []
        cur.execute(
            f"SELECT id, rule_id, subject_id, district_id, town_id, grid_id, incident_id FROM alerts "
            f"WHERE rule_id IN (SELECT unnest(?)) AND condition = 'active' AND suppressed_by IS NULL "
            f"AND {alert_store.OPEN_CONDITION}",
            [sorted(rule_ids)],
        )
        return [dict(zip(("id", "rule_id", "subject_id", "district_id", "town_id", "grid_id", "incident_id"), r,
                         strict=True)) for r in cur.fetchall()]  # fmt: skip

    def _inhibiting(self, alert: dict[str, Any], holding: list[dict[str, Any]]) -> tuple[Inhibit, dict] | None:
        for inhibition in self.book.inhibits(alert["rule_id"]):
            for source in holding:
                if source["rule_id"] != inhibition.source.rule:
                    continue
                if inhibition.source.subject is not None and source["subject_id"] != inhibition.source.subject:
                    continue
                if inhibition.same is not None and (
                    self._region(source, inhibition.same) != self._region(alert, inhibition.same)
                ):
                    continue
                if source.get("incident_id") is None:
                    alert["_source"] = source  # opened in this batch: its incident gets its id below
                return inhibition, source
        return None

    def _joined(self, alert: dict[str, Any], open_by_key: dict, now: datetime) -> Placed | None:
        """The open incident this alert joins: of a group its rule joins, else of the group it opens; one that
        still has active members, or whose newest member is younger than the group's window."""
        groups = [*self.book.joining_groups(alert["rule_id"]), self.book.opening_group(alert["rule_id"])]
        for group in groups:
            placed = open_by_key.get((group.id, self._region(alert, group.by)))
            if placed is not None and (placed.row["active_members"] > 0 or placed.added
                                       or now - placed.row["last_member_at"] <= group.window):  # fmt: skip
                return placed
        return None

    def _region(self, alert: dict[str, Any], level: str) -> str:
        """The region of `level` an alert lies in; the city for an alert placed nowhere (a silent feed's)."""
        return "city" if level == "city" else alert.get(f"{level}_id") or "city"

    def _group(self, group_id: str) -> Group:
        """The group an open incident was opened by; a group since removed from the rule file stays a default."""
        found = next((g for g in self.book.groups if g.id == group_id), None)
        return found or self.book.opening_group(group_id)

    def _opened(self, alert: dict[str, Any], group: Group, region: str | None, now: datetime) -> dict[str, Any]:
        routed = self._routed(alert, group)
        return {
            "id": None, "group_id": group.id, "region_level": group.by, "region_id": region, "domain": alert["domain"],
            "state": "new", "severity": alert["severity"], "title_zh": alert["title_zh"],
            "title_en": alert["title_en"], "district_id": alert["district_id"] if group.by != "city" else None,
            "town_id": alert.get("town_id") if group.by != "city" else None,
            "grid_id": alert.get("grid_id") if group.by != "city" else None,
            "lon": None, "lat": None, "area": None, "members": 0, "active_members": 0, "inhibited": 0,
            "opened_at": now, "last_member_at": now, "updated_at": now, "all_cleared_at": None,
            "centre_id": routed.centre if routed else None, "department_id": routed.department if routed else None,
        }  # fmt: skip

    def _routed(self, alert: dict[str, Any], group: Group) -> Routed | None:
        """Whose the incident is: the organisation's routing for the place it covers (the city's for an incident
        of the whole city), its domain and severity."""
        if self.org is None:
            return None
        places = {level: alert.get(f"{level}_id") for level in ("district", "town", "grid")}
        if group.by != "grid":  # an incident of a town (a district, the city) is that region's, not its first grid's
            places["grid"] = None
            places["town"] = places["town"] if group.by == "town" else None
            places["district"] = places["district"] if group.by in ("district", "town") else None
        return self.org.route(places, alert["domain"], alert["severity"])

    # -- what the batch changed -------------------------------------------------------------------------------
    def _write(self, cur: Cursor, changed: list[Placed], now: datetime) -> None:
        known = incident_store.member_places(cur, [p.row["id"] for p in changed if not p.new])
        log = []
        for placed in changed:
            row, added = placed.row, placed.added
            places = known.get(row["id"], []) + [(a["lon"], a["lat"], a.get("area")) for a in added]
            row["lon"], row["lat"], row["area"] = area(places)
            row["members"] += len(added)
            row["active_members"] += len(added)
            row["inhibited"] += placed.inhibited
            for level in ("town_id", "grid_id"):  # placed in the smallest region that holds all its members
                if any(a.get(level) != row[level] for a in added):
                    row[level] = None
            if added:
                row["severity"] = min((row["severity"], *(a["severity"] for a in added)), key=severity_rank)
                row["last_member_at"], row["all_cleared_at"] = now, None
            row["updated_at"] = now
            row["title_zh"], row["title_en"] = self._titles(placed)
            action = "open" if placed.new else "grow"
            details = {"alerts": [a["id"] for a in added], "inhibited": placed.inhibited}
            if placed.new and row.get("centre_id"):
                details.update(centre=row["centre_id"], department=row["department_id"])
            log.append({"incident_id": row["id"], "ts": now, "actor": "rules", "action": action,
                        "from_state": None if placed.new else row["state"], "to_state": row["state"],
                        "details": details})  # fmt: skip
        incident_store.insert_many(cur, [p.row for p in changed if p.new])
        incident_store.update_many(cur, [p.row for p in changed if not p.new])
        incident_store.log_many(cur, log)
        for row in (p.row for p in changed if p.new):  # told once per incident, not per member alert
            notifications.tell(cur, key=f"incident:{row['id']}:open", event="incident_new", now=now, incident=row,
                               title_zh=row["title_zh"], title_en=row["title_en"],
                               units=[row["centre_id"], row["department_id"]])  # fmt: skip

    def _titles(self, placed: Placed) -> tuple[str, str]:
        """The group's title for the region and count; a group without one keeps its first member's."""
        title, row = placed.group.title, placed.row
        if title is None:
            return row["title_zh"], row["title_en"]
        region = self.regions.get(row["region_id"]) if self.regions and row["region_id"] != "city" else None
        if region is None and self.regions is not None and self.regions.level("city"):
            region = self.regions.level("city")[0]
        names = (region.name_zh, region.name_en) if region else (row["region_id"], row["region_id"])
        return (title.zh_CN.format_map(_Fill(region=names[0], count=row["members"])),
                title.en.format_map(_Fill(region=names[1], count=row["members"])))  # fmt: skip


def area(places: Iterable[tuple[float | None, float | None, str | None]]) -> tuple[float | None, float | None,
                                                                               str | None]:  # fmt: skip
    """The centre (lon, lat) and the GeoJSON area of members at these places, each (lon, lat, its own area or
    None): the hull of the points with the members' own areas (an official warning's) added as they are; none
    without a place."""
    points, shapes = [], []
    for lon, lat, drawn in places:
        if drawn is not None:
            shapes.append(shapely.geometry.shape(json.loads(drawn)))
        elif lon is not None and lat is not None:
            points.append((lon, lat))
    parts = [shapely.MultiPoint(points).convex_hull] if points else []
    parts = [p if p.area > 0 else p.buffer(POINT_AREA, quad_segs=4) for p in (*parts, *shapes)]  # a point, a line
    if not parts:
        return None, None, None
    whole = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    centre = whole.centroid
    if not whole.covers(centre):  # a crescent, two warnings apart: a point that is surely inside
        centre = whole.point_on_surface()
    return centre.x, centre.y, json.dumps(shapely.geometry.mapping(whole))


class _Fill(dict):
    """Placeholders a title has no value for are left as they are written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
