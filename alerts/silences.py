"""Silences (maintenance windows): a scope of alerts put aside until a time, by someone, for a reason — "the
cameras of 竞秀区 are being serviced until 18:00". An alert in a silence's scope is recorded, not raised
(alerts/incidents.py); once the silence ends or expires, those of its alerts still active are raised.

One door, like alerts.actions.act: `add` and `end` ask the access policy (a silence needs "act" where its scope
lies: a region's district, or the whole city when it names none), check the request, write it and record the
attempt, done or refused, in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from access.policy import Principal, permission_allowed, region_place
from layers.regions import RegionIndex
from store import silences as silence_store
from store.audit import Trail, attempted
from store.database import Store
from store.transaction import transaction

# A silence longer than a week is a rule that should change, not a maintenance window.
MAX_SILENCE = timedelta(days=7)
REASON_MAX = 500


class SilenceError(ValueError):
    """A refused silence, said for people; `code` names the refusal (forbidden, empty, reason, ends, missing)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Scope:
    """Which alerts a silence covers: each part given must match (a rule, a domain, a region at any level, some
    devices)."""

    rule_id: str | None = None
    domain: str | None = None
    region_id: str | None = None
    entity_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.rule_id or self.domain or self.region_id or self.entity_ids)


def matches(silence: dict[str, Any], alert: dict[str, Any]) -> bool:
    """Whether a stored silence covers an alert (a row of the alerts table, or one about to be)."""
    return (
        (silence["rule_id"] is None or silence["rule_id"] == alert["rule_id"])
        and (silence["domain"] is None or silence["domain"] == alert["domain"])
        and (silence["region_id"] is None
             or silence["region_id"] in (alert["district_id"], alert.get("town_id"), alert.get("grid_id")))
        and (not silence["entity_ids"] or alert["subject_id"] in silence["entity_ids"])
    )  # fmt: skip


def add(store: Store, regions: RegionIndex, principal: Principal, scope: Scope, reason: str, ends_at: datetime, *,
        now: datetime, audit: Trail | None) -> int:  # fmt: skip
    """Store a silence for `principal`; its id. SilenceError says why not."""

    def work() -> int:
        _check(regions, principal, scope, reason, ends_at, now)
        with transaction(store.cursor()):
            return silence_store.insert(store.cursor(), {
                "created_by": principal.actor, "reason": reason.strip(), "created_at": now, "ends_at": ends_at,
                "rule_id": scope.rule_id, "domain": scope.domain, "region_id": scope.region_id,
                "entity_ids": list(scope.entity_ids),
            })  # fmt: skip

    said = f"{scope}; until {ends_at:%Y-%m-%d %H:%M} UTC; {reason.strip()}"
    silence_id = attempted(audit, principal.actor, principal.role, "silence add", f"silence {scope}", work,
                           SilenceError, done=lambda i: (f"silence {i}", said))  # fmt: skip
    store.bump_version("handling")
    return silence_id


def end(store: Store, regions: RegionIndex, principal: Principal, silence_id: int, *, now: datetime,
        audit: Trail | None) -> None:  # fmt: skip
    """End a silence before its time: its alerts still active are raised at the rule engine's next tick."""

    def work() -> None:
        with transaction(store.cursor()):
            silence = silence_store.get(store.cursor(), silence_id)
            if silence is None or not _may(regions, principal, silence["region_id"]):
                raise SilenceError(f"there is no silence {silence_id}", "missing")  # another district's: absent
            if silence["ended_at"] is None and silence["ends_at"] > now:
                silence_store.end(store.cursor(), silence_id, principal.actor, now)

    attempted(audit, principal.actor, principal.role, "silence end", f"silence {silence_id}", work, SilenceError)
    store.bump_version("handling")


def _check(regions: RegionIndex, principal: Principal, scope: Scope, reason: str, ends_at: datetime,
           now: datetime) -> None:  # fmt: skip
    if scope.is_empty():
        raise SilenceError("a silence needs a scope: a rule, a domain, a region or devices", "empty")
    if scope.region_id is not None and regions.get(scope.region_id) is None:
        raise SilenceError(f"there is no region {scope.region_id}", "empty")
    if scope.region_id is not None and regions.get(scope.region_id).level == "city":
        raise SilenceError("the whole city is no region of a silence: leave the region out", "empty")
    if not _may(regions, principal, scope.region_id):
        raise SilenceError("your role or districts do not allow this silence", "forbidden")
    if not reason.strip() or len(reason) > REASON_MAX:
        raise SilenceError(f"a silence needs a reason of at most {REASON_MAX} characters", "reason")
    if not now < ends_at <= now + MAX_SILENCE:
        raise SilenceError(f"a silence ends after now and within {MAX_SILENCE.days} days", "ends")


def _may(regions: RegionIndex, principal: Principal, region_id: str | None) -> bool:
    """A silence of a region needs "act" in its district; one of no region (or of the city) covers every
    district, and needs "act" over the whole city."""
    return permission_allowed(principal, "act", region_place(regions, region_id) if region_id else None)
