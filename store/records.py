"""The vocabulary of the whole house: the unified records every feed produces whatever its source format, the
domains, the four warning colours and the names of an alert's states. It sits at the ground floor so that feeds,
store, alerts and dashboard all speak it without leaning on each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

DOMAINS: tuple[str, ...] = ("traffic", "flood", "fire", "security", "hotline", "env", "system")

# China's four warning colours, most severe first: red (I) > orange (II) > yellow (III) > blue (IV).
Severity = Literal["red", "orange", "yellow", "blue"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


def severity_rank(severity: str) -> int:
    """0 for red, the most severe, up to 3 for blue: sorting by it puts the worst first."""
    return SEVERITIES.index(severity)


# The states of the alert lifecycle (alerts/lifecycle.py holds what moves an alert between them). Closed and
# cancelled end the loop; every other state is open, and the store's SQL for "open" is derived from this.
ALERT_STATES: tuple[str, ...] = (
    "new", "acknowledged", "dispatched", "in_progress", "resolved", "closed", "returned", "reopened", "cancelled",
)  # fmt: skip
ENDED_STATES: frozenset[str] = frozenset({"closed", "cancelled"})
OPEN_STATES: frozenset[str] = frozenset(ALERT_STATES) - ENDED_STATES


# Dataclasses rather than pydantic models: the hot path builds one or more for every message ingested, and the
# decoders validate what they read themselves (raising DecodeError with the reason).
@dataclass(slots=True)
class Entity:
    id: str
    feed_id: str
    domain: str
    kind: str
    name: str
    lon: float | None
    lat: float | None
    attributes: dict[str, Any] = field(default_factory=dict)
    district_id: str | None = None
    town_id: str | None = None
    grid_id: str | None = None


@dataclass(slots=True)
class Observation:
    entity_id: str
    metric: str
    value: float | None
    unit: str
    ts: datetime
    feed_id: str
    msg_id: str
    quality: str = "ok"  # ok, missing (no value), suspect (feeds/plausibility.py: kept, never the latest value)
    quality_reason: str = ""


@dataclass(slots=True)
class Event:
    id: str
    feed_id: str
    msg_id: str
    domain: str
    type: str
    ts: datetime
    lon: float | None
    lat: float | None
    title: str
    description: str = ""
    severity: str | None = None
    entity_id: str | None = None
    source_ref: str = ""
    raw: str = ""
    district_id: str | None = None
    town_id: str | None = None
    grid_id: str | None = None
    # An official warning's (CAP): the area it covers (GeoJSON geometry, WGS84), when it expires, the messages it
    # updates or cancels (their msg_id) and every field of the source format.
    area: str | None = None
    expires_at: datetime | None = None
    references: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Decoded:
    """What one message decodes to."""

    entities: list[Entity] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Values the message carried that the decoder refused (flagged in error by their source, fill values): counted
    # on the feed's row, never stored as readings.
    discarded: int = 0
    # Records the feed's plausibility tests marked suspect (feeds/plausibility.py), counted on the feed's row.
    suspect: int = 0

    def __len__(self) -> int:
        return len(self.entities) + len(self.observations) + len(self.events)


@dataclass(slots=True)
class DeadLetter:
    ts: datetime
    feed_id: str
    source: str  # topic or URL
    reason: str
    raw: bytes
