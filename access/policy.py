"""The one policy: what a principal (a signed-in user, or a wall display holding its token) may do, and where.

Every door asks here — the web guard for a path or a callback, the duty desk for its buttons, `alerts.actions.act`
before it changes an alert — so a new door (a command, an API) asks the same question and gets the same answer:

    permission_allowed(principal, action)                   may they do this at all (open a page, export, act)?
    permission_allowed(principal, action, district="130606")   … and to something that lies in this district?

`Principal.can` (a permission of the role) and `Principal.sees` (a district in scope) are the two primitives this
question is made of; the doors ask `permission_allowed`, not them.

Actions are the permissions of PERMISSIONS ("view", "feeds", "act" …) and the alert actions of the lifecycle
("acknowledge", "close" …), which need "act", or "approve" for what a district leader signs off. Scope: a district
leader sees and acts within their own districts only; everyone else sees the whole city.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pandas as pd

from layers.regions import RegionIndex

DISPLAY: Final = "display"  # the wall's token: shows, never acts, never times out
# The permissions of each role of store.accounts.ROLES, and of a wall display.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "view_wall", "feeds", "audit", "health", "account"}),
    "supervisor": frozenset({"view", "view_wall", "act", "approve", "health", "account"}),
    "duty_officer": frozenset({"view", "view_wall", "act", "approve", "account"}),
    "district_leader": frozenset({"view", "approve", "account"}),
    "viewer": frozenset({"view", "view_wall", "account"}),
    DISPLAY: frozenset({"view_wall"}),
}
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


@dataclass(frozen=True)
class Principal:
    """Who is asking. `csrf`, `language` and `must_change` are what a web session adds; the policy reads `role` and
    `districts` only."""

    name: str
    role: str
    districts: tuple[str, ...] = ()
    csrf: str = ""
    language: str | None = None
    must_change: bool = False

    def can(self, permission: str) -> bool:
        return permission in ANY_PRINCIPAL or permission in PERMISSIONS[self.role]

    def sees(self, district_id: str | None) -> bool:
        """Whether a district's data is this principal's to see (a district leader sees their districts only)."""
        return self.role != "district_leader" or district_id in self.districts

    @property
    def actor(self) -> str:
        """The name the timeline and the audit log give this principal."""
        return f"display:{self.name}" if self.role == DISPLAY else self.name


def needed_permission(action: str) -> str:
    """The permission an action needs: an alert action needs "act" (or "approve"); a permission needs itself."""
    if action in PERMISSION_NAMES:
        return action
    return "approve" if action in APPROVE_ACTIONS else "act"


def permission_allowed(principal: Principal, action: str, district: str | None | _Anywhere = ANYWHERE) -> bool:
    """Whether `principal` may do `action`, and when `district` is given, to something that lies in it (None: in
    no district, which only the whole city's principals see)."""
    if not principal.can(needed_permission(action)):
        return False
    return district is ANYWHERE or principal.sees(district)  # type: ignore[arg-type]


def in_scope(principal: Principal, frame: pd.DataFrame, column: str = "district_id") -> pd.DataFrame:
    """The rows of `frame` this principal may see."""
    return frame if principal.role != "district_leader" else frame[frame[column].isin(principal.districts)]


def district_of(regions: RegionIndex, region_id: str) -> str | None:
    """The district a region lies in (itself if it is one); None for the city."""
    return next((r.id for r in regions.ancestors(region_id) if r.level == "district"), None)


def sees_region(principal: Principal, regions: RegionIndex, region_id: str) -> bool:
    return principal.sees(district_of(regions, region_id))


def regions_in_scope(principal: Principal, regions: RegionIndex, by_region: dict[str, str]) -> dict[str, str]:
    """The entries of `by_region` (region id → a region's status, say) of the regions this principal sees: a
    district leader gets their districts' and those inside them, not the city's or another district's."""
    if principal.role != "district_leader":
        return by_region
    return {region_id: value for region_id, value in by_region.items() if sees_region(principal, regions, region_id)}
