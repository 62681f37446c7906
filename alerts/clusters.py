"""Count rules: so many events within a radius and a time window (three hotspots within 2 km in an hour).

The subject of such a rule is a cluster, named after the event that first made the count: `<district>:<event id>`.
A later event near a cluster the rule already follows joins it, whatever district border lies between them, so
one cluster is one alert. A cluster is followed from the place where it started; its alert clears when the events
near that place fall below the count. After a restart the places come back from the open alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Iterator
from datetime import datetime

from alerts.instances import Reading
from alerts.rules import Rule
from store import alerts as alert_store
from store import rule_inputs
from store.database import Store
from store.records import Event

Key = tuple[str, str]  # (rule id, cluster subject)
Place = tuple[float, float]  # (lon, lat)


class Clusters:
    def __init__(self, store: Store, followed: Container[Key] = ()):
        """`followed`: the (rule, subject) pairs that have an instance; the places of their open alerts are
        followed again."""
        self._store = store
        self._places: dict[Key, Place] = {
            (a["rule_id"], a["subject_id"]): (a["lon"], a["lat"])
            for a in alert_store.open_alerts(store.cursor())
            if a["lon"] is not None and (a["rule_id"], a["subject_id"]) in followed
        }

    def grown(self, rule: Rule, events: Iterable[Event], now: datetime,
              in_zone: Callable[[Event], bool]) -> Iterator[tuple[str, float, tuple]]:  # fmt: skip
        """For each event of the rule's kind in its zone that brings the count near it to the minimum: the cluster
        it belongs to, the count, and where (lon, lat, district, town, grid) an alert opened now would be."""
        c = rule.when.count
        for e in events:
            if e.lon is None or (c.event_type and e.type != c.event_type) or (c.domain and e.domain != c.domain):
                continue
            if not in_zone(e):
                continue
            n = self._count(rule, (e.lon, e.lat), now)
            if n < c.min:
                continue
            subject = next(
                (s for (r, s), place in self._places.items()
                 if r == rule.id and _km(place, (e.lon, e.lat)) <= c.within_km),
                f"{e.district_id or 'outside'}:{e.id}",
            )  # fmt: skip
            self._places.setdefault((rule.id, subject), (e.lon, e.lat))
            yield subject, float(n), (e.lon, e.lat, e.district_id, e.town_id, e.grid_id)

    def recounted(self, rule: Rule, subjects: Iterable[str], now: datetime) -> Iterator[tuple[str, Reading, float]]:
        """Each followed cluster among `subjects` counted again: holds while the count reaches the minimum."""
        for subject in subjects:
            place = self._places.get((rule.id, subject))
            if place is None:
                continue
            n = self._count(rule, place, now)
            yield subject, Reading.HOLDS if n >= rule.when.count.min else Reading.CLEARS, float(n)

    def forget(self, key: Key) -> None:
        """Stop following a cluster (its instance went inactive)."""
        self._places.pop(key, None)

    def _count(self, rule: Rule, place: Place, now: datetime) -> int:
        c = rule.when.count
        return rule_inputs.events_near(
            self._store.cursor(), now - c.window, c.event_type, c.domain, place[0], place[1], c.within_km
        )


def is_count(rule: Rule) -> bool:
    return "count" in rule.when.kinds()


def _km(a: Place, b: Place) -> float:
    """Great-circle distance in km between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))
