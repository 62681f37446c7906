"""A store with a known history: incidents opened at given times and moved through the real lifecycle
(alerts.actions.move_incident) at given times, so that supervision's figures can be computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.actions import move_incident
from store import alerts as alert_store
from store import incidents as incident_store
from store.database import Store
from store.transaction import transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
LIANCHI, JINGXIU = "130606", "130602"  # two of the demo city's districts
MIN = timedelta(minutes=1)


def local(*parts: int) -> datetime:
    """A time of the city's clock (Asia/Shanghai), as the UTC instant the store keeps."""
    return datetime(*parts, tzinfo=SHANGHAI).astimezone(UTC)


def open_incident(store: Store, at: datetime, *, domain: str = "fire", severity: str = "orange",
                  district: str | None = LIANCHI, town: str | None = None, grid: str | None = None,
                  centre: str | None = None, department: str | None = None, group: str = "fire-cluster",
                  title: tuple[str, str] = ("火点", "Hotspot"), members: int = 1) -> int:  # fmt: skip
    """An incident opened by the rules at `at`, as alerts/incidents.py writes one."""
    cur = store.cursor()
    with transaction(cur):
        [incident_id] = alert_store.new_ids(cur, "incident_ids", 1)
        incident_store.insert_many(cur, [{
            "id": incident_id, "severity": severity, "title_zh": title[0], "title_en": title[1],
            "district_id": district, "town_id": town, "grid_id": grid, "lon": 115.46, "lat": 38.87, "area": None,
            "members": members, "active_members": members, "inhibited": 0, "last_member_at": at, "updated_at": at,
            "all_cleared_at": None, "group_id": group, "region_level": "district", "region_id": district,
            "domain": domain, "state": "new", "opened_at": at, "centre_id": centre, "department_id": department,
        }])  # fmt: skip
        incident_store.log(cur, incident_id, at, "rules", "open", None, "new", details={"alerts": []})
    return incident_id


def act(store: Store, incident_id: int, action: str, at: datetime, actor: str = "duty", note: str = "done",
        unit: str | None = None) -> None:  # fmt: skip
    """An action on the incident at `at` through the lifecycle (dispatch takes a unit)."""
    cur = store.cursor()
    with transaction(cur):
        incident = incident_store.get(cur, incident_id)
        move_incident(cur, incident, actor, action, at, note, unit or ("fire-1" if action == "dispatch" else None))


def handled(store: Store, at: datetime, ack: timedelta, dispatch: timedelta, resolve: timedelta,
            close: timedelta | None = None, **incident) -> int:  # fmt: skip
    """An incident opened at `at` and acknowledged, dispatched and resolved after the given times from opening
    (and closed, when `close` is given)."""
    incident_id = open_incident(store, at, **incident)
    act(store, incident_id, "acknowledge", at + ack)
    act(store, incident_id, "dispatch", at + dispatch)
    act(store, incident_id, "resolve", at + resolve)
    if close is not None:
        act(store, incident_id, "close", at + close)
    return incident_id


def mark_overdue(store: Store, incident_id: int, stage: str, at: datetime) -> None:
    """What alerts/time_limits.py writes when a stage's limit runs out (one transaction, once per stage)."""
    cur = store.cursor()
    with transaction(cur):
        row = incident_store.get(cur, incident_id)
        incident_store.update(cur, incident_id, {"overdue_stages": [*row["overdue_stages"], stage], "updated_at": at})
        incident_store.log(cur, incident_id, at, "time-limits", "overdue", row["state"], row["state"],
                           f"{stage} time limit passed", {"stage": stage})  # fmt: skip


def september(store: Store) -> None:
    """Five incidents in September (two in Lianchi, three in Jingxiu) and two in August, one of each district."""
    lianchi = {"district": LIANCHI, "centre": "d130606"}
    jingxiu = {"district": JINGXIU, "centre": "d130602"}
    handled(store, local(2026, 9, 1, 10), 5 * MIN, 10 * MIN, 60 * MIN, 90 * MIN, **lianchi)  # A
    b = open_incident(store, local(2026, 9, 2, 10), **lianchi)  # B: acknowledged after its limit ran out
    mark_overdue(store, b, "acknowledge", local(2026, 9, 2, 10, 12))
    act(store, b, "acknowledge", local(2026, 9, 2, 10, 15))
    act(store, b, "dispatch", local(2026, 9, 2, 10, 30))
    act(store, b, "resolve", local(2026, 9, 2, 13))
    c = handled(store, local(2026, 9, 3, 10), 2 * MIN, 4 * MIN, 30 * MIN, **jingxiu)  # C: reopened, resolved again
    act(store, c, "reopen", local(2026, 9, 3, 10, 40))
    act(store, c, "resolve", local(2026, 9, 3, 11, 40))
    act(store, c, "close", local(2026, 9, 3, 12))
    d = open_incident(store, local(2026, 9, 4, 10), **jingxiu)  # D: acknowledged, then cancelled
    act(store, d, "acknowledge", local(2026, 9, 4, 10, 20))
    act(store, d, "cancel", local(2026, 9, 4, 10, 25))
    open_incident(store, local(2026, 9, 5, 10), **jingxiu)  # E: still new
    handled(store, local(2026, 8, 10, 10), 1 * MIN, 2 * MIN, 20 * MIN, **lianchi)  # August, on time
    f = handled(store, local(2026, 8, 11, 10), 1 * MIN, 2 * MIN, 20 * MIN, **jingxiu)  # August, resolved late
    mark_overdue(store, f, "resolve", local(2026, 8, 11, 10, 19))
