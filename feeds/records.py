"""The unified records every feed produces, whatever its source format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DOMAINS: tuple[str, ...] = ("traffic", "flood", "fire", "security", "hotline", "env", "system")
SEVERITIES: tuple[str, ...] = ("red", "orange", "yellow", "blue")  # I > II > III > IV


# Dataclasses rather than pydantic models: the hot path builds hundreds of thousands of these a second, and the
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
    quality: str = "ok"


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


@dataclass(slots=True)
class Decoded:
    """What one message decodes to."""

    entities: list[Entity] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entities) + len(self.observations) + len(self.events)


@dataclass(slots=True)
class DeadLetter:
    ts: datetime
    feed_id: str
    source: str  # topic or URL
    reason: str
    raw: bytes
