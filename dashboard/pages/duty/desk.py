"""What the duty desk's functions read, handed to them as one argument instead of closed over, so that each can be
called (and tested) without Dash: the store, the shared snapshots, the regions, the units, the procedures and the
city's time zone; and the one way the desk's rooms read an alert for a principal (`visible`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from access.policy import Principal
from alerts.org import Organisation
from alerts.rules import Sop
from dashboard.context import AppContext
from dashboard.navigation import visible_alert
from dashboard.snapshot import Snapshots
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from store.database import Store


@dataclass(frozen=True)
class Desk:
    store: Store
    snapshots: Snapshots
    regions: RegionIndex
    units: dict  # the configured units (alerts.units.UnitSettings) by id, in the configuration's order
    sops: dict[str, Sop]  # the rule file's, updated in place when the rules are reloaded: kept, not copied
    tz: str
    note_chars: int  # the longest note anyone may write (limits.text_chars)
    reference: ReferenceLayers = field(default_factory=ReferenceLayers)  # shelters, schools … near an alert
    org: Organisation | None = None  # whose an incident is (its centre and department)

    @classmethod
    def of(cls, context: AppContext) -> Desk:
        """The desk of the app's context (dashboard.context.AppContext)."""
        settings = context.settings
        units = {u.id: u for u in settings.units}
        return cls(context.store, context.snapshots, context.regions, units, context.sops, settings.city.timezone,
                   settings.limits.text_chars, context.reference, context.org)  # fmt: skip


def visible(desk: Desk, principal: Principal, alert_id) -> dict | None:
    """The alert, if it is there and in the principal's districts (`alert_id` as the browser sent it)."""
    return visible_alert(desk.store, principal, alert_id)
