"""Mapped JSON: vendor payloads read through field paths (JMESPath) from the feed's configuration.

    [feeds.mapping]
    items = "data.readings"          # where the records are (default: the payload, or each item of a list)
    id = "deviceId"                  # the device's own id
    time = "ts"                      # ISO 8601 (without an offset: the feed's time_zone, else UTC) or epoch s / ms
    lon = "pos.lng"
    lat = "pos.lat"
    domain = "flood"
    kind = "rain_gauge"
    [feeds.mapping.values]           # metric → path
    rain_1h = "r1h"
    [feeds.mapping.units]
    rain_1h = "mm"
Sentinel values and unit conversions are the feed's (`sentinels`, `units`), as for every decoder.
Each record gives its device (an entity, placed when it has coordinates) and one observation per metric.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import jmespath
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from feeds.decoders.base import DecodeError, FeedOptions, Message, parse_json, parse_number, parse_time
from store.records import DOMAINS, Decoded, Entity, Observation


def _valid_path(path: str) -> str:
    _compile(path)
    return path


# A JMESPath expression, checked when the configuration loads (so an error names its own line).
PathExpression = Annotated[str, AfterValidator(_valid_path)]


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: PathExpression | None = None
    id: PathExpression
    time: PathExpression | None = None
    lon: PathExpression | None = None
    lat: PathExpression | None = None
    name: PathExpression | None = None
    domain: str
    kind: str
    values: dict[str, PathExpression] = Field(min_length=1)
    units: dict[str, str] = Field(default_factory=dict)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if value not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}")
        return value


def _compile(path: str):
    try:
        return jmespath.compile(path)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"{path!r} is not a JMESPath expression: {exc}") from None


class MappedJson:
    """The decoder of one feed, built from its mapping."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.paths = {
            key: _compile(getattr(mapping, key))
            for key in ("items", "id", "time", "lon", "lat", "name")
            if getattr(mapping, key) is not None
        }
        self.values = {metric: _compile(path) for metric, path in mapping.values.items()}

    @classmethod
    def from_settings(cls, feed: FeedOptions) -> MappedJson:
        if feed.mapping is None:
            raise ValueError("the mapped-json decoder needs a [feeds.mapping] table")
        return cls(feed.mapping)

    def __call__(self, message: Message) -> Decoded:
        doc = parse_json(message.payload)
        records = self.paths["items"].search(doc) if "items" in self.paths else doc
        if records is None:
            raise DecodeError(f"nothing at the items path {self.mapping.items!r}")
        records = records if isinstance(records, list) else [records]
        out = Decoded()
        for n, record in enumerate(records):
            try:
                self._record(record, message, out)
            except DecodeError as exc:
                raise DecodeError(f"record {n}: {exc}" if len(records) > 1 else str(exc)) from None
        if not out.observations:
            raise DecodeError("no record with a value")
        return out

    def _get(self, key: str, record: Any) -> Any:
        return self.paths[key].search(record) if key in self.paths else None

    def _record(self, record: Any, message: Message, out: Decoded) -> None:
        source_id = self._get("id", record)
        if not isinstance(source_id, str | int) or isinstance(source_id, bool) or source_id == "":
            raise DecodeError(f"no device id at {self.mapping.id!r}")
        entity_id = f"{message.feed_id}:{source_id}"
        lon, lat = parse_number(self._get("lon", record), "lon"), parse_number(self._get("lat", record), "lat")
        if (lon is None) != (lat is None) or (lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90)):
            raise DecodeError(f"no usable coordinate: lon {lon}, lat {lat}")
        name = self._get("name", record)
        out.entities.append(
            Entity(id=entity_id, feed_id=message.feed_id, domain=self.mapping.domain, kind=self.mapping.kind,
                   name=str(name) if name is not None else str(source_id), lon=lon, lat=lat)
        )  # fmt: skip
        ts = self._time(self._get("time", record), message)
        msg_id = f"{source_id}@{ts.isoformat()}"
        for metric, path in self.values.items():
            value = parse_number(path.search(record), metric)
            out.observations.append(
                Observation(entity_id=entity_id, metric=metric, value=value,
                            unit=self.mapping.units.get(metric, ""), ts=ts, feed_id=message.feed_id, msg_id=msg_id,
                            quality="missing" if value is None else "ok")
            )  # fmt: skip

    def _time(self, raw: Any, message: Message) -> datetime:
        if raw is None:
            return message.received_at
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            seconds = raw / 1000 if raw > 1e11 else raw  # epoch milliseconds or seconds
            try:
                return datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                raise DecodeError(f"time {raw!r} is out of range") from None
        if not isinstance(raw, str):
            raise DecodeError(f"time must be ISO 8601 text or epoch seconds, not {type(raw).__name__}")
        return parse_time(raw, "time", assume=message.time_zone or UTC)
