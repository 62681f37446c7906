"""What the duty desk's functions read, handed to them as one argument instead of closed over, so that each can be
called (and tested) without Dash: the store, the shared snapshots, the regions, the units, the procedures and the
city's time zone."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.rules import Sop
from dashboard.context import AppContext
from dashboard.snapshot import Snapshots
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

    @classmethod
    def of(cls, context: AppContext) -> Desk:
        """The desk of the app's context (dashboard.context.AppContext)."""
        settings = context.settings
        units = {u.id: u for u in settings.units}
        return cls(context.store, context.snapshots, context.regions, units, context.sops, settings.city.timezone)


def alert_id_of(value) -> int | None:
    """An alert's id as the browser sent it (a whole number, or its digits); None for anything else, which is then
    no alert at all rather than an error."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else None
