"""What the pages are given (AppContext): handed over by the composition root, through dashboard/app.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.chain import Chain
from alerts.org import Organisation
from alerts.rules import Sop
from dashboard.settings import DashboardSettings
from dashboard.snapshot import Snapshots
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from store.accounts import Accounts
from store.database import Store
from store.writer import Writer
from supervision.facts import Facts


@dataclass
class AppContext:
    """What the pages need, handed over by the composition root (cityops.runtime)."""

    settings: DashboardSettings
    store: Store
    regions: RegionIndex
    snapshots: Snapshots
    sops: dict[str, Sop]
    accounts: Accounts
    writer: Writer | None  # None where the app only reads (replaying dead letters needs it)
    reference: ReferenceLayers = field(default_factory=ReferenceLayers)  # shelters, hospitals … ([[layers]])
    org: Organisation | None = None  # the command chain ([alerts] org)
    chain: Chain | None = None  # tasks down it (the inbox)
    facts: Facts | None = None  # each incident's figures, for supervision's pages
