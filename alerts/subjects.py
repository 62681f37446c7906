"""What a rule watches: entities chosen by its `select` and `zone`, or feeds.

The entity table is read once into one frame and kept until an entity is described anew, so that choosing a
rule's subjects is a few array comparisons over every entity of the city, not a loop. Each rule's choice is a
boolean mask over the table's rows with one extra last row that stands for "not in the table" (always False), so
that positions of unknown ids can index it too. Clusters of events are subjects as well; alerts/clusters.py
names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from alerts.rules import Rule
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from store import rule_inputs
from store.database import Store
from store.records import Entity, Event

# The entity table's columns that a description sets, in the order of `described_anew`'s comparison.
DESCRIBED = ("name", "domain", "kind", "feed_id", "district_id", "town_id", "grid_id", "lon", "lat", "attributes")


@dataclass
class Subject:
    id: str
    name: str
    domain: str
    kind: str
    feed_id: str
    lon: float | None
    lat: float | None
    district_id: str | None
    town_id: str | None
    grid_id: str | None
    first_seen: datetime
    attributes: dict[str, Any]


class Subjects:
    """The entity table as the rules see it, and each rule's choice of rows in it."""

    def __init__(self, store: Store, reference: ReferenceLayers | None = None, regions: RegionIndex | None = None):
        self._store = store
        self._regions = regions
        self._reference = reference or ReferenceLayers()
        self._zones: dict[str, Polygon] = {}
        self._table: pd.DataFrame | None = None
        self._row: dict[str, int] = {}  # entity id → its row
        self._descriptions: dict[str, tuple] = {}  # each entity as the table has it, in DESCRIBED order
        self._entities: dict[int, Subject] = {}  # by row
        self._watched: dict[str, np.ndarray] = {}  # rule id → its mask
        self._attributes: dict[str, np.ndarray] = {}  # attribute name → its numbers
        self._first_seen = np.array([np.nan])

    def set_rules(self, rules: list[Rule]) -> None:
        self._zones = {
            r.id: Polygon(r.zone.polygon) for r in rules if r.zone is not None and r.zone.polygon is not None
        }
        self._watched = {}

    def table(self) -> pd.DataFrame:
        """All entities as one frame indexed by id (read again after `forget`)."""
        if self._table is None:
            table = rule_inputs.entity_table(self._store.cursor())
            self._descriptions = {
                row[0]: (*(None if pd.isna(v) else v for v in row[1:-1]), row[-1])
                for row in table[["id", *DESCRIBED]].itertuples(index=False, name=None)
            }
            self._table = table.set_index("id")
            self._row = {entity_id: i for i, entity_id in enumerate(self._table.index)}
            self._entities = {}
            self._watched = {}
            self._attributes = {}
            # When each entity was registered, in epoch seconds (last slot: "not in the table").
            seconds = self._table["first_seen"].astype("int64").to_numpy() / 1e6
            self._first_seen = np.append(seconds, np.nan)
        return self._table

    def forget(self) -> None:
        """Read the table again when next asked (a place, kind or threshold changed)."""
        self._table = None

    def described_anew(self, entities: list[Entity]) -> bool:
        """Whether any of these descriptions is of a new entity or differs from the entity table's. Feeds that
        describe a device with every message (NGSI does) must not have a city's table rebuilt on every batch."""
        if self._table is None:
            return True
        for e in entities:
            described = (e.name, e.domain, e.kind, e.feed_id, e.district_id, e.town_id, e.grid_id, e.lon, e.lat,
                         e.attributes)  # fmt: skip
            if self._descriptions.get(e.id) != described:
                return True
        return False

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Each id's row in the table; ids not in it point at the last slot of masks and per-row arrays."""
        missing = len(self.table())
        return np.fromiter((self._row.get(i, missing) for i in ids), dtype=np.int64, count=len(ids))

    def at(self, row: int) -> Subject | None:
        """The description of the entity at `row` of the table (kept until entities change)."""
        table = self.table()
        if row >= len(table):
            return None
        subject = self._entities.get(row)
        if subject is None:
            r = table.iloc[row]
            subject = Subject(
                table.index[row], r["name"], r["domain"], r["kind"], r["feed_id"], _num(r["lon"]), _num(r["lat"]),
                _text(r["district_id"]), _text(r["town_id"]), _text(r["grid_id"]), r["first_seen"], r["attributes"],
            )  # fmt: skip
            self._entities[row] = subject
        return subject

    def attributes(self, entity_id: str) -> dict[str, Any]:
        table = self.table()
        return table["attributes"].iloc[table.index.get_loc(entity_id)] if entity_id in table.index else {}

    def attribute(self, name: str) -> np.ndarray:
        """A numeric entity attribute for every row (NaN where missing or not a number; last slot NaN)."""
        table = self.table()
        if name not in self._attributes:
            values = [a.get(name) for a in table["attributes"]]
            numbers = [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan for v in values]
            self._attributes[name] = np.array([*numbers, np.nan], dtype=float)
        return self._attributes[name]

    @property
    def first_seen(self) -> np.ndarray:
        """When each entity was registered, in epoch seconds, per row (last slot NaN)."""
        self.table()
        return self._first_seen

    def watched(self, rule: Rule) -> np.ndarray:
        """Which rows `rule` watches (by its select and zone), as a mask cached until entities or rules change."""
        table = self.table()
        cached = self._watched.get(rule.id)
        if cached is not None:
            return cached
        mask = np.ones(len(table) + 1, dtype=bool)
        mask[-1] = False
        rows = mask[:-1]
        sel = rule.select
        if sel.domain:
            rows &= (table["domain"] == sel.domain).to_numpy()
        if sel.kind:
            rows &= table["kind"].isin([sel.kind] if isinstance(sel.kind, str) else sel.kind).to_numpy()
        if sel.feed:
            rows &= (table["feed_id"] == sel.feed).to_numpy()
        if sel.district:
            rows &= (table["district_id"] == sel.district).to_numpy()
        if rule.zone is not None:
            if rule.zone.region is not None:
                level, ids = self._zone(rule.zone.region)
                rows &= table[f"{level}_id"].isin(ids).to_numpy() if level else (
                    (table["district_id"] == ids[0]) | (table["town_id"] == ids[0]) | (table["grid_id"] == ids[0])
                ).to_numpy()  # fmt: skip
            else:
                lon, lat = table["lon"].to_numpy(float), table["lat"].to_numpy(float)
                inside = shapely.contains_xy(self._zones[rule.id], np.nan_to_num(lon), np.nan_to_num(lat))
                rows &= inside & ~np.isnan(lon)
        if rule.near is not None:
            layer = self._reference.get(rule.near.layer)
            lon, lat = table["lon"].to_numpy(float), table["lat"].to_numpy(float)
            rows &= layer.near_points(lon, lat, rule.near.within_m) if layer is not None else False
        self._watched[rule.id] = mask
        return mask

    def _zone(self, region_id: str) -> tuple[str | None, list[str]]:
        """Where the store keeps what lies in a zone's region (a community: in its grids); (None, [id]) for a
        region the city's files do not hold, looked for at every level."""
        region = self._regions.get(region_id) if self._regions is not None else None
        return self._regions.stored(region) if region is not None else (None, [region_id])

    def watched_ids(self, rule: Rule) -> list[str]:
        return self.table().index[self.watched(rule)[:-1]].tolist()

    def event_in_zone(self, rule: Rule, event: Event) -> bool:
        """Whether an event with a place lies in the rule's zone and near what it names (a rule without either
        takes every event)."""
        if rule.near is not None:
            layer = self._reference.get(rule.near.layer)
            if layer is None or not layer.within(shapely.Point(event.lon, event.lat), rule.near.within_m):
                return False
        if rule.zone is None:
            return True
        if rule.zone.region is not None:
            level, ids = self._zone(rule.zone.region)
            return getattr(event, f"{level}_id") in ids if level else ids[0] in (event.district_id, event.town_id,
                                                                                    event.grid_id)  # fmt: skip
        return bool(shapely.contains_xy(self._zones[rule.id], event.lon, event.lat))


def watches_feed(rule: Rule, feed_id: str) -> bool:
    """Whether a feed rule watches this feed (its `select: {feed: …}`, or every feed)."""
    return not rule.select.feed or feed_id == rule.select.feed


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
