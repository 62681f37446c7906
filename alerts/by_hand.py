"""Incidents opened by hand: a phone call to the duty desk ("water over the road at the station underpass") becomes
an incident like any other, with one alert as its evidence — what the caller said — so it enters the same loop:
the queue, the wall, the lifecycle, the time limits, the audit log.

One door, like alerts.actions.act: `open_incident` asks the access policy ("act" in the region's district), checks
what was typed, writes the alert and the incident with their timelines in one transaction, and records the attempt,
done or refused, in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from access.policy import Principal, permission_allowed, region_place
from alerts.incidents import area
from alerts.org import Organisation
from layers.regions import RegionIndex
from store import alerts as alert_store
from store import incidents as incident_store
from store import notifications
from store.audit import Trail, attempted
from store.database import Store
from store.records import DOMAINS, SEVERITIES
from store.transaction import retrying, transaction

BY_HAND = "by-hand"  # the rule id of the alerts and the group id of the incidents opened by hand
TITLE_MAX = 200


class OpenError(ValueError):
    """A refused incident, said for people; `code`: forbidden, region, domain, severity, title, description."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def open_incident(store: Store, regions: RegionIndex, principal: Principal, *, domain: str, region_id: str,
                  severity: str, title: str, description: str, description_max: int, now: datetime,
                  audit: Trail | None, org: Organisation | None = None) -> int:  # fmt: skip
    """Open an incident for `principal` from what they typed; its id. OpenError says why not. `org`: the city's
    organisation, whose routing makes it its centre's and department's, as a rule's incident is."""

    def work() -> int:
        region = _checked(regions, principal, domain, region_id, severity, title, description, description_max)
        return retrying(lambda: _write(store, regions, principal, region, domain, severity, title.strip(),
                                       description.strip(), now, org))  # fmt: skip

    incident_id = attempted(audit, principal.actor, principal.role, "incident open", f"{domain} {region_id}", work,
                            OpenError, done=lambda i: (f"incident {i}", title.strip()))  # fmt: skip
    store.bump_version("handling")
    return incident_id


def _checked(regions: RegionIndex, principal: Principal, domain: str, region_id: str, severity: str, title: str,
             description: str, description_max: int):  # fmt: skip
    region = regions.get(region_id) if isinstance(region_id, str) else None
    if region is None or region.level == "city":
        raise OpenError(f"no district, town or grid {region_id!r}", "region")
    if not permission_allowed(principal, "act", region_place(regions, region.id)):
        raise OpenError(f"{principal.role} may not open an incident in {region.id}", "forbidden")
    if domain not in DOMAINS:
        raise OpenError(f"no domain {domain!r}", "domain")
    if severity not in SEVERITIES:
        raise OpenError(f"no severity {severity!r}", "severity")
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
        raise OpenError(f"a title of 1 to {TITLE_MAX} characters", "title")
    if not isinstance(description, str) or len(description) > description_max:
        raise OpenError(f"a description of at most {description_max} characters", "description")
    return region


def _write(store: Store, regions: RegionIndex, principal: Principal, region, domain: str, severity: str, title: str,
           description: str, now: datetime, org: Organisation | None) -> int:  # fmt: skip
    cur = store.cursor()
    with transaction(cur):
        incident_id = alert_store.new_ids(cur, "incident_ids", 1)[0]
        alert_id = alert_store.new_ids(cur, "alert_ids", 1)[0]
        point = region.geometry.representative_point()
        places = {r.level: r.id for r in regions.ancestors(region.id)}
        lon, lat, shape = area([(point.x, point.y, None)])
        alert_store.insert_many(cur, [{
            "id": alert_id, "rule_id": BY_HAND, "subject_id": f"{BY_HAND}:{incident_id}", "domain": domain,
            "severity": severity, "initial_severity": severity, "state": "new", "condition": "active",
            "title_zh": title, "title_en": title, "message_zh": description, "message_en": description,
            "unit_type": "", "sop": None, "district_id": places.get("district"), "town_id": places.get("town"),
            "grid_id": places.get("grid"), "lon": lon, "lat": lat, "last_value": None, "first_fired_at": now,
            "last_fired_at": now, "created_at": now, "updated_at": now, "incident_id": incident_id,
            "suppressed_by": None,
        }])  # fmt: skip
        routed = org.route(places, domain, severity) if org is not None else None
        incident = {
            "id": incident_id, "group_id": BY_HAND, "region_level": region.level, "region_id": region.id,
            "domain": domain, "state": "new", "severity": severity, "title_zh": title, "title_en": title,
            "district_id": places.get("district"), "town_id": places.get("town"), "grid_id": places.get("grid"),
            "lon": lon, "lat": lat, "area": shape, "members": 1, "active_members": 1, "inhibited": 0,
            "opened_at": now, "last_member_at": now, "updated_at": now, "all_cleared_at": None,
            "centre_id": routed.centre if routed else None, "department_id": routed.department if routed else None,
        }  # fmt: skip
        incident_store.insert_many(cur, [incident])
        notifications.tell(cur, key=f"incident:{incident_id}:open", event="incident_new", now=now,
                           incident=incident, title_zh=title, title_en=title,
                           units=[incident["centre_id"], incident["department_id"]])  # fmt: skip
        alert_store.log(cur, alert_id, now, principal.actor, "open", None, "new", description)
        incident_store.log(cur, incident_id, now, principal.actor, "open", None, "new", description)
    return incident_id
