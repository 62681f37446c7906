"""Whether what a feed says can be true: its places inside the area it serves, its values in their ranges, not
stuck on one value for hours, not leaping. What fails is kept, marked `suspect` with the reason, and counted on
the feed: a reading suspect is in the history but never the device's latest value (so it colours no map and fires
no rule), a device or event placed outside the area is not put on the map at the wrong place.

The tests follow the usual quality control of hydrological and traffic networks, configured per feed:

    [feeds.plausible]
    bbox = [113.4, 38.1, 116.6, 39.9]           # lon, lat, lon, lat (WGS84): where this feed's devices stand
    ranges = { water_level = [0, 60], rain_1h = [0, 200] }
    stuck_hours = { water_level = 6 }           # the same value this long is a sensor stuck, not a river
    jumps = { water_level = 2.0 }               # the most a reading may move from the one before (within an hour)

A swapped latitude and longitude, the commonest mistake of a hand-written device table, is named as such. A jump
followed by readings that agree with it is a new level, not a fault: the third reading at the new level is taken.
Stuck and jump tests remember the last readings of this process; after a restart they learn again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.records import Decoded, Observation

SUSPECT = "suspect"
JUMP_WINDOW = timedelta(hours=1)  # readings further apart may differ by anything: the test cannot tell
NEW_LEVEL_AFTER = 3  # consecutive readings that agree with each other after a jump make a new level


class PlausibleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bbox: tuple[float, float, float, float] | None = None
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    stuck_hours: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    jumps: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)

    @field_validator("bbox")
    @classmethod
    def _a_box(cls, value):
        if value is not None:
            west, south, east, north = value
            if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
                raise ValueError("bbox is [west, south, east, north] in degrees, west < east and south < north")
        return value

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, value):
        for metric, (low, high) in value.items():
            if low >= high:
                raise ValueError(f"the range of {metric} goes from the lower value to the higher, not {low} to {high}")
        return value


@dataclass
class _Track:
    """What the stuck and jump tests remember of one device's metric."""

    value: float
    ts: datetime
    since: datetime  # when it took this value
    away: list[float]  # readings after a jump that agree with each other


class Plausibility:
    """The tests of one feed, and what they remember between its messages (thread-safe)."""

    def __init__(self, settings: PlausibleSettings):
        self.settings = settings
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._lock = threading.Lock()

    def check(self, decoded: Decoded) -> int:
        """Mark what is implausible in `decoded` (after units and CRS); returns how many records were marked."""
        marked = self._places(decoded)
        s = self.settings
        if not (s.ranges or s.stuck_hours or s.jumps):
            return marked  # no test of values: a feed's every message passes here, do no more
        with self._lock:
            for o in sorted(decoded.observations, key=lambda o: o.ts):
                if o.value is not None and o.quality != SUSPECT:
                    reason = self._value_reason(o)
                    if reason:
                        o.quality, o.quality_reason = SUSPECT, reason
                        marked += 1
        return marked

    def _places(self, decoded: Decoded) -> int:
        marked = 0
        moved: dict[str, str] = {}
        for record, kind in [*((e, "device") for e in decoded.entities), *((e, "event") for e in decoded.events)]:
            if record.lon is None:
                continue
            reason = self.place_reason(record.lon, record.lat, kind)
            if not reason:
                continue
            keep = record.attributes if kind == "device" else record.details
            keep["suspect_position"] = {"lon": record.lon, "lat": record.lat, "reason": reason}
            record.lon = record.lat = None
            record.district_id = record.town_id = record.grid_id = None
            if kind == "device":
                moved[record.id] = reason
            marked += 1
        for o in decoded.observations:
            if o.entity_id in moved and o.quality != SUSPECT:
                o.quality, o.quality_reason = SUSPECT, f"the device's position is suspect: {moved[o.entity_id]}"
                marked += 1
        return marked

    def place_reason(self, lon: float, lat: float, kind: str) -> str:
        """Why a place (WGS84) cannot be this feed's, or "" when it can: no place on Earth, or outside its box; a
        place that would be right with latitude and longitude swapped says so."""
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            swapped = " (latitude and longitude swapped?)" if abs(lon) <= 90 and abs(lat) <= 180 else ""
            return f"({lon}, {lat}) is no longitude and latitude{swapped}"
        if self.settings.bbox is None or self._inside(lon, lat):
            return ""
        if self._inside(lat, lon):
            return (
                f"latitude and longitude look swapped: ({lon}, {lat}) is outside the feed's area, ({lat}, {lon}) inside"
            )
        return f"the {kind} at ({lon}, {lat}) is outside the feed's area {list(self.settings.bbox)}"

    def _inside(self, lon: float, lat: float) -> bool:
        west, south, east, north = self.settings.bbox
        return west <= lon <= east and south <= lat <= north

    def _value_reason(self, o: Observation) -> str:
        s = self.settings
        value = o.value
        if o.metric in s.ranges:
            low, high = s.ranges[o.metric]
            if not low <= value <= high:
                return f"{value:g} {o.unit} is outside {low:g}–{high:g}".replace("  ", " ")
        if o.metric not in s.stuck_hours and o.metric not in s.jumps:
            return ""
        key = (o.entity_id, o.metric)
        track = self._tracks.get(key)
        if track is None or o.ts <= track.ts:
            if track is None:
                self._tracks[key] = _Track(value, o.ts, o.ts, [])
            return ""
        limit = s.jumps.get(o.metric)
        if limit is not None and o.ts - track.ts <= JUMP_WINDOW and abs(value - track.value) > limit:
            if track.away and abs(value - track.away[-1]) <= limit:
                track.away.append(value)
            else:
                track.away = [value]
            if len(track.away) < NEW_LEVEL_AFTER:
                return f"jumped from {track.value:g} to {value:g} {o.unit} (more than {limit:g})".replace("  ", " ")
        track.away = []
        if value != track.value:
            track.since = o.ts
        track.value, track.ts = value, o.ts
        hours = s.stuck_hours.get(o.metric)
        if hours is not None and o.ts - track.since >= timedelta(hours=hours):
            return f"the same value {value:g} since {track.since:%Y-%m-%d %H:%M} UTC ({hours:g} h or more)"
        return ""
