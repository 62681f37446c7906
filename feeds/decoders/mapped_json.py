"""Mapped JSON: vendor payloads read through field paths (JMESPath) from the feed's configuration.

A flat payload, one record per device:

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

A nested one (a site, its time series, each series' values): `[[feeds.mapping.within]]` tables go one array
deeper each, outermost first. Every field may be read at any depth; a record carries its parents' fields down, and
a field read deeper wins. A record that names its own metric gives `metric` and `value` (and `unit`) instead of a
`values` table, and `no_data` reads the value that the payload itself declares as "no reading":

    [feeds.mapping]
    items = "value.timeSeries"
    id = "sourceInfo.siteCode[0].value"
    metric = "variable.variableCode[0].value"
    unit = "variable.unit.unitCode"
    no_data = "variable.noDataValue"
    …
    [[feeds.mapping.within]]
    items = "values[].value[]"       # every value of every block of the series
    time = "dateTime"
    value = "value"

With `records = "events"` each record is an event (an incident feed): `id`, `time`, `lon`/`lat`, `event_type`,
`title`, `description` and `severity` paths (a constant is a JMESPath literal: `event_type = "'fire_call'"`).

Sentinel values and unit conversions are the feed's (`sentinels`, `units`), as for every decoder. A reading record
gives its device (an entity, placed when it has coordinates) and one observation per metric.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jmespath
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from feeds.decoders.base import DecodeError, FeedOptions, Message, parse_json, parse_number, parse_time
from store.records import DOMAINS, SEVERITIES, Decoded, Entity, Event, Observation

MAX_RECORDS = 200_000  # nested arrays multiply: a payload may not unfold into more records than this


def _valid_path(path: str) -> str:
    _compile(path)
    return path


# A JMESPath expression, checked when the configuration loads (so an error names its own line).
PathExpression = Annotated[str, AfterValidator(_valid_path)]
# The fields a record may read, at any depth.
FIELDS = ("id", "time", "lon", "lat", "name", "metric", "value", "unit", "no_data", "event_type", "title",
          "description", "severity")  # fmt: skip


class Within(BaseModel):
    """One array deeper: where its items are in their parent, and the fields read there."""

    model_config = ConfigDict(extra="forbid")

    items: PathExpression
    id: PathExpression | None = None
    time: PathExpression | None = None
    lon: PathExpression | None = None
    lat: PathExpression | None = None
    name: PathExpression | None = None
    metric: PathExpression | None = None
    value: PathExpression | None = None
    unit: PathExpression | None = None
    no_data: PathExpression | None = None
    event_type: PathExpression | None = None
    title: PathExpression | None = None
    description: PathExpression | None = None
    severity: PathExpression | None = None
    values: dict[str, PathExpression] = Field(default_factory=dict)


class Mapping(Within):
    items: PathExpression | None = None
    records: Literal["readings", "events"] = "readings"
    domain: str
    kind: str = ""
    units: dict[str, str] = Field(default_factory=dict)
    within: list[Within] = Field(default_factory=list)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if value not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Mapping:
        given = {f for level in (self, *self.within) for f in FIELDS if getattr(level, f) is not None}
        values = any(level.values for level in (self, *self.within))
        if "id" not in given:
            raise ValueError("a record needs its id: give `id` at some depth")
        if self.records == "events":
            if "event_type" not in given:
                raise ValueError("an event needs its type: give `event_type` (a path, or a literal like \"'call'\")")
            if values or {"metric", "value", "unit", "no_data"} & given:
                raise ValueError("events carry no readings: no `values`, `metric`, `value`, `unit` or `no_data`")
            return self
        if not self.kind:
            raise ValueError("readings need the `kind` of their devices")
        if values == ("metric" in given or "value" in given):
            raise ValueError("give the readings either as a `values` table (metric → path) or as `metric` and "
                             "`value` paths, one of the two")  # fmt: skip
        if not values and not {"metric", "value"} <= given:
            raise ValueError("a record that names its metric needs both `metric` and `value`")
        return self


def _compile(path: str):
    try:
        return jmespath.compile(path)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"{path!r} is not a JMESPath expression: {exc}") from None


class _Level:
    def __init__(self, level: Within):
        self.items = _compile(level.items) if level.items is not None else None
        self.fields = {f: _compile(getattr(level, f)) for f in FIELDS if getattr(level, f) is not None}
        self.values = {metric: _compile(path) for metric, path in level.values.items()}


class MappedJson:
    """The decoder of one feed, built from its mapping."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.levels = [_Level(mapping), *(_Level(w) for w in mapping.within)]

    @classmethod
    def from_settings(cls, feed: FeedOptions) -> MappedJson:
        if feed.mapping is None:
            raise ValueError("the mapped-json decoder needs a [feeds.mapping] table")
        if feed.stations is not None:
            raise ValueError("the mapped-json decoder takes no stations table: its records say where they are")
        return cls(feed.mapping)

    def __call__(self, message: Message) -> Decoded:
        doc = parse_json(message.payload)
        out = Decoded()
        records = self._records(doc)
        for n, (fields, values) in enumerate(records):
            try:
                if self.mapping.records == "events":
                    self._event(fields, message, out)
                else:
                    self._reading(fields, values, message, out)
            except DecodeError as exc:
                raise DecodeError(f"record {n}: {exc}" if len(records) > 1 else str(exc)) from None
        if not out.observations and not out.events:
            raise DecodeError("no record with a value" if self.mapping.records == "readings" else "no event")
        return out

    def _records(self, doc: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every innermost record as (its fields, its values table), each carrying what its parents read."""
        found: list[tuple[dict[str, Any], dict[str, Any]]] = []

        def walk(node: Any, depth: int, fields: dict[str, Any], values: dict[str, Any]) -> None:
            level = self.levels[depth]
            if level.items is None:
                items = node if isinstance(node, list) else [node]
            else:
                items = level.items.search(node)
                if items is None:
                    if depth == 0:
                        raise DecodeError(f"nothing at the items path {self.mapping.items!r}")
                    return  # a parent with no children of this kind (a site without values) gives no record
                items = items if isinstance(items, list) else [items]
            for item in items:
                # A field this item lacks keeps its parent's value (a series without its own unit, say).
                read = {f: path.search(item) for f, path in level.fields.items()}
                here = fields | {f: value for f, value in read.items() if value is not None}
                table = {**values, **{metric: path.search(item) for metric, path in level.values.items()}}
                if depth + 1 < len(self.levels):
                    walk(item, depth + 1, here, table)
                else:
                    found.append((here, table))
                    if len(found) > MAX_RECORDS:
                        raise DecodeError(f"the payload unfolds into more than {MAX_RECORDS:,} records")

        walk(doc, 0, {}, {})
        return found

    def _reading(self, fields: dict[str, Any], values: dict[str, Any], message: Message, out: Decoded) -> None:
        source_id = _id(fields.get("id"), self.mapping)
        entity_id = f"{message.feed_id}:{source_id}"
        lon, lat = _place(fields)
        name = fields.get("name")
        if not out.entities or out.entities[-1].id != entity_id:  # a site's many values describe it once
            out.entities.append(
                Entity(id=entity_id, feed_id=message.feed_id, domain=self.mapping.domain, kind=self.mapping.kind,
                       name=str(name) if name is not None else str(source_id), lon=lon, lat=lat)
            )  # fmt: skip
        ts = self._time(fields.get("time"), message)
        msg_id = f"{source_id}@{ts.isoformat()}"
        if not values:  # the record names its metric
            metric = fields.get("metric")
            if not isinstance(metric, str | int) or isinstance(metric, bool) or metric == "":
                raise DecodeError(f"no metric at {self._path('metric')!r}")
            unit = fields.get("unit")
            values = {str(metric): fields.get("value")}
            units = {str(metric): str(unit) if unit is not None else self.mapping.units.get(str(metric), "")}
        else:
            units = self.mapping.units
        no_data = parse_number(fields.get("no_data"), "no_data")
        for metric, raw in values.items():
            value = parse_number(raw, metric)
            if value is not None and no_data is not None and value == no_data:
                value = None
            out.observations.append(
                Observation(entity_id=entity_id, metric=metric, value=value, unit=units.get(metric, ""), ts=ts,
                            feed_id=message.feed_id, msg_id=msg_id, quality="missing" if value is None else "ok")
            )  # fmt: skip

    def _event(self, fields: dict[str, Any], message: Message, out: Decoded) -> None:
        source_id = _id(fields.get("id"), self.mapping)
        event_type = fields.get("event_type")
        if not isinstance(event_type, str) or not event_type.strip():
            raise DecodeError(f"no event type at {self._path('event_type')!r}")
        severity = fields.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise DecodeError(f"severity {str(severity)[:20]!r} is not one of {', '.join(SEVERITIES)}")
        lon, lat = _place(fields)
        title = fields.get("title")
        description = fields.get("description")
        out.events.append(
            Event(id=f"{message.feed_id}:{source_id}", feed_id=message.feed_id, msg_id=str(source_id),
                  domain=self.mapping.domain, type=event_type.strip(), ts=self._time(fields.get("time"), message),
                  lon=lon, lat=lat, title=str(title) if title is not None else event_type.strip(),
                  description=str(description) if description is not None else "", severity=severity,
                  source_ref=str(source_id))
        )  # fmt: skip

    def _path(self, field: str) -> str:
        return next((getattr(w, field) for w in (self.mapping, *self.mapping.within) if getattr(w, field)), "")

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


def _id(source_id: Any, mapping: Mapping) -> str | int:
    if not isinstance(source_id, str | int) or isinstance(source_id, bool) or source_id == "":
        where = next((w.id for w in (mapping, *mapping.within) if w.id), "")
        raise DecodeError(f"no {'device' if mapping.records == 'readings' else 'event'} id at {where!r}")
    return source_id


def _place(fields: dict[str, Any]) -> tuple[float | None, float | None]:
    """The record's coordinates, both or neither. Numbers that are no place on Earth (a vendor table with its
    columns swapped) are kept: the feed's plausibility tests mark them suspect and say why."""
    lon, lat = parse_number(fields.get("lon"), "lon"), parse_number(fields.get("lat"), "lat")
    if (lon is None) != (lat is None):
        raise DecodeError(f"a coordinate without the other: lon {lon}, lat {lat}")
    return lon, lat
