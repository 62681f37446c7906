"""The one policy: what a principal (a signed-in user, or a wall display holding its token) may do, and where.

Every door asks here — the web guard for a path or a callback, the duty desk for its buttons, `alerts.actions.act`
before it changes an alert — so a new door (a command, an API) asks the same question and gets the same answer:

    permission_allowed(principal, action)                       may they do this at all (open a page, act)?
    permission_allowed(principal, action, place(alert))         … and to something that lies in this place?

`Principal.can` (a permission of the role) and `Principal.sees` (a place in scope) are the two primitives this
question is made of; the doors ask `permission_allowed`, not them.

Actions are the permissions of PERMISSIONS ("view", "feeds", "act" …) and the alert actions of the lifecycle
("acknowledge", "close" …), which need "act", or "approve" for what a district leader signs off.

Scope follows the city's organisation (alerts/org.py): a principal with regions sees what lies in them or below them
(a district's duty officer their district and its towns and grids, a town's their town); one without sees the
whole city; one who works by task (a department's people, a field worker) sees no region, only the tasks given to
their unit (alerts/chain.py asks that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import pandas as pd

from layers.regions import RegionIndex

DISPLAY: Final = "display"  # the wall's token: shows, never acts, never times out
# The permissions of each role of store.accounts.ROLES, and of a wall display.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "view_wall", "feeds", "audit", "health", "account"}),
    "supervisor": frozenset(
        {"view", "view_wall", "act", "approve", "health", "account", "supervise", "data_quality", "handover"}
    ),
    "duty_officer": frozenset(
        {"view", "view_wall", "act", "approve", "account", "supervise", "data_quality", "handover"}
    ),
    "district_leader": frozenset({"view", "approve", "account", "supervise"}),
    "viewer": frozenset({"view", "view_wall", "account", "supervise", "data_quality"}),
    "field_worker": frozenset({"tasks", "account"}),
    DISPLAY: frozenset({"view_wall"}),
}
# The roles that receive and give tasks down the chain, on the inbox (a wall display and an administrator do not).
for _role in ("supervisor", "duty_officer", "district_leader"):
    PERMISSIONS[_role] = PERMISSIONS[_role] | {"tasks"}
# Alert actions a district leader approves within their districts; every other alert action needs "act".
APPROVE_ACTIONS: frozenset[str] = frozenset({"close", "comment"})
# What any principal may do once it is known: reach the callback endpoint (each callback is then checked by the
# page it belongs to) and sign out.
ANY_PRINCIPAL: frozenset[str] = frozenset({"signed_in", "callback"})
PERMISSION_NAMES: frozenset[str] = frozenset().union(*PERMISSIONS.values()) | ANY_PRINCIPAL


class _Anywhere:
    def __repr__(self) -> str:
        return "ANYWHERE"


ANYWHERE: Final = _Anywhere()  # a permission asked without a place: a page, an export, the right to act at all


PLACE_COLUMNS = ("district_id", "town_id", "grid_id", "region_id")
Place = tuple[str | None, ...]  # the region ids a record lies in, at whatever levels it knows (place())


@dataclass(frozen=True)
class Principal:
    """Who is asking. `csrf`, `language` and `must_change` are what a web session adds; the policy reads `role`,
    `regions` (and `below`, the regions inside them, given by scoped()), `unit` and `by_task`."""

    name: str
    role: str
    regions: tuple[str, ...] = ()
    csrf: str = ""
    language: str | None = None
    must_change: bool = False
    unit: str | None = None  # the org unit they work for (alerts/org.py), if the organisation lists them
    by_task: bool = False  # sees only the tasks given to their unit or to them (a department, a field worker)
    below: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        if permission == "view_wall" and (self.regions or self.by_task):
            return False  # the wall shows the whole city: not for one whose scope is part of it
        if permission in ("supervise", "handover") and self.by_task:
            return False  # figures, history and a desk's shift are of regions; one who works by task has none
        if permission == "data_quality" and (self.regions or self.by_task):
            return False  # the feeds serve the whole city: their scorecards are the whole city's supervisors'
        return permission in ANY_PRINCIPAL or permission in PERMISSIONS[self.role]

    def sees(self, where: Place | str | None) -> bool:
        """Whether something at `where` (a place, or one region id; None: the whole city's) is in scope."""
        if self.by_task:
            return False
        if not self.regions:
            return True
        ids = (where,) if isinstance(where, str) or where is None else where
        return any(i is not None and (i in self.regions or i in self.below) for i in ids)

    @property
    def actor(self) -> str:
        """The name the timeline and the audit log give this principal."""
        return f"display:{self.name}" if self.role == DISPLAY else self.name


def needed_permission(action: str) -> str:
    """The permission an action needs: an alert action needs "act" (or "approve"); a permission needs itself."""
    if action in PERMISSION_NAMES:
        return action
    return "approve" if action in APPROVE_ACTIONS else "act"


def scoped(principal: Principal, regions: RegionIndex) -> Principal:
    """The principal with the regions inside its own, so that a place given at a smaller level is seen too."""
    below = {d.id for r in principal.regions for d in regions.descendants(r)}
    return replace(principal, below=frozenset(below - set(principal.regions)))


def place(record: Mapping[str, Any]) -> Place:
    """Where a record (an alert, an incident, an entity, an event) lies: its region ids at every level it has."""
    return tuple(v for v in (record.get(k) for k in PLACE_COLUMNS) if isinstance(v, str) and v)


def permission_allowed(principal: Principal, action: str, where: Place | str | None | _Anywhere = ANYWHERE) -> bool:
    """Whether `principal` may do `action`, and when `where` is given, to something that lies there (None: in no
    region, which only the whole city's principals see)."""
    if not principal.can(needed_permission(action)):
        return False
    return where is ANYWHERE or principal.sees(where)  # type: ignore[arg-type]


def in_scope(principal: Principal, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` (with some of the PLACE_COLUMNS) this principal may see."""
    ids = region_scope(principal)
    if ids is None:
        return frame
    seen = pd.Series(False, index=frame.index)
    for column in PLACE_COLUMNS:
        if column in frame.columns:
            seen |= frame[column].isin(ids)
    return frame[seen]


def region_scope(principal: Principal) -> frozenset[str] | None:
    """The region ids a principal's figures, history and reports are limited to: None for the whole city, none at all
    for one who works by task (given no region)."""
    if principal.by_task:
        return frozenset()
    return frozenset(principal.regions) | principal.below if principal.regions else None


def district_of(regions: RegionIndex, region_id: str) -> str | None:
    """The district a region lies in (itself if it is one); None for the city."""
    return next((r.id for r in regions.ancestors(region_id) if r.level == "district"), None)


def region_place(regions: RegionIndex, region_id: str) -> Place:
    """A region's own place: itself and the regions it lies in."""
    return tuple(r.id for r in regions.ancestors(region_id)) or (region_id,)


def sees_region(principal: Principal, region_id: str) -> bool:
    """Whether a region is in scope: one of the principal's, or inside one (not the district around a town's)."""
    return principal.sees(region_id)


def regions_in_scope(principal: Principal, regions: RegionIndex, by_region: dict[str, str]) -> dict[str, str]:
    """The entries of `by_region` (region id → a region's status, say) of the regions this principal sees: a
    district's people get their district's and those inside it, not the city's or another district's."""
    if not principal.regions and not principal.by_task:
        return by_region
    return {region_id: value for region_id, value in by_region.items() if sees_region(principal, region_id)}
