"""What the wall shows, computed once per data version and shared by every tab.

Statuses also depend on the clock (a silent device turns `nodata`), so a snapshot is recomputed when the data
version changes or when it is older than AGE_LIMIT_S, whichever comes first. Its cost follows what changed, not the
size of the city: the entities and their latest readings are kept between snapshots and brought up to date with
what was written since (dashboard/city_state.py), and each other part (feeds, events, the alerts and everything
handled) is read again only when the store says its kind of data changed (store.database.CHANGES), or it is older
than AGE_LIMIT_S (a time limit runs out, a silence ends, midnight passes).

At city scale a whole snapshot (the first, or one after the entities changed) takes a good part of a second, and
under a steady stream the data version changes several times a second: a tab's refresh must not wait for one. So a
thread of its own recomputes the snapshot while anyone watches, resting twice as long as the last one took (at least
MIN_GAP_S) so that it never takes more than a third of a core, and the views take the latest one at once. The duty
desk, right after an action, asks for a current one (`get(current=True)`), computed there and then if the data
changed. A wall waits for the next one (`wait_for_news`) instead of polling for it, so news reaches its screen as
soon as a snapshot holds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from alerts.levels import STATUS_CODE, STATUS_RANK, summarize_groups
from alerts.time_limits import Deadline, TimeLimits
from dashboard.city_state import CityState
from store import directives as directive_store
from store import queries
from store import silences as silence_store
from store.database import CHANGES, Store

AGE_LIMIT_S = 5.0
TIMES_KEPT = 200  # the computes whose times the health report's percentiles are taken over
MIN_GAP_S = 0.1  # between two snapshots computed in the background
IDLE_S = 60.0  # nobody asked for this long: the background thread rests until someone does
log = logging.getLogger(__name__)
WALL_DOMAINS: tuple[str, ...] = ("traffic", "flood", "fire", "security")


@dataclass
class PointLayer:
    """One domain's points: the features (served by URL, changing rarely) and their statuses (in hideout)."""

    key: str  # changes only when the features change (entities added or moved)
    features: list[dict]
    status: str  # one code per feature, in feature order (alerts.levels.STATUS_CODE)
    counts: dict[str, int]
    # Each feature's position, in feature order: what the server gathers into cells when the layer is too large to
    # send whole (layers/cells.py).
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drawn_key: str = ""  # changes when the features or their statuses do: what a cell layer's URL carries


@dataclass
class Snapshot:
    key: str
    layers: dict[str, PointLayer]
    region_status: dict[str, str]  # every district, town and grid with devices: the summary of their statuses
    states: pd.DataFrame  # every placed entity: id, domain, kind, district_id, town_id, grid_id, status
    figures: dict[str, float | None]
    events_today: dict[str, int]
    events: pd.DataFrame
    feeds: pd.DataFrame
    # Open alerts, worst first, with their running time limit: `due` and `stage` (None when the alert has none) and
    # `overdue` (a stage's limit passed, whether or not the time-limit job has marked it yet); an alert in an
    # incident has its incident's.
    alerts: pd.DataFrame
    alert_layer: PointLayer
    raised_today: pd.DataFrame  # every alert raised since local midnight: domain, district_id, created_at
    # Open incidents, worst first (store.queries.open_incidents), with their running time limit (as alerts'), and
    # their areas as a layer of outlines.
    incidents: pd.DataFrame
    incident_layer: PointLayer
    silences: list[dict]  # in force (alerts/silences.py): the wall counts them, the duty desk lists them
    # Today's directives from the top of the chain (none forwarded): receipts, signed, replied.
    directives_today: tuple[int, int, int] = (0, 0, 0)

    def region_codes(self) -> dict[str, str]:
        """Every region's status as the one-letter code the map functions read (assets/cityops_map.js)."""
        return {region: STATUS_CODE[status] for region, status in self.region_status.items()}

    def alert_markers(self, alert_ids) -> dict:
        """The alert layer's features for these alerts, as a FeatureCollection (the small maps' markers)."""
        wanted = set(alert_ids)
        return {"type": "FeatureCollection",
                "features": [f for f in self.alert_layer.features if f["properties"]["id"] in wanted]}  # fmt: skip


@dataclass
class _Part:
    """A part of the snapshot read from the store, kept until its kind of data changes or it grows old."""

    value: object = None
    made_at: float = float("-inf")

    def due(self, changes: set[str], kind: str, now: float) -> bool:
        return kind in changes or now - self.made_at >= AGE_LIMIT_S


class Snapshots:
    def __init__(
        self, store: Store, *, stale_after_s: dict[str, int], timezone: str, time_limits: TimeLimits | None = None
    ):
        self.store = store
        self.time_limits = time_limits
        self.stale_after_s = stale_after_s
        self.timezone = timezone
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._made_at = 0.0
        self._version = -1
        self._computed = 0
        self._took_s = 0.0
        self._took: list[float] = []  # the latest computes' times, for the health report's percentiles
        self.city = CityState(store)
        self._feeds, self._events, self._handled = _Part(), _Part(), _Part()
        self._refresher: threading.Thread | None = None
        self._asked = threading.Event()
        self._stopping = threading.Event()
        self._news = threading.Condition()  # notified when a new snapshot is current, and when stopping
        self._waiting = 0  # walls waiting for news
        self._last_asked = float("-inf")  # nobody yet: after the first snapshot the thread waits for someone
        # Each domain's features with the fingerprint of what they were built from, made again only when the
        # entities were described again, and then only if their places changed (the map's layers keep their URL).
        self._features: dict[str, tuple[int, list[dict], str, np.ndarray, np.ndarray]] = {}
        self._features_of: pd.DataFrame | None = None  # the city's `placed` frame they were made for
        self._domain_rows: dict[str, np.ndarray] = {}  # each domain's rows of it
        self._states_of = pd.DataFrame()  # its columns that each snapshot's `states` adds a status to
        self._region_groups: list[tuple[np.ndarray, pd.Index]] = []  # its regions (_region_groups)
        # Made ready with each snapshot computed in the background, before the walls hear of it, so that what they
        # then ask for is already made (the cells of the views they asked for lately, dashboard/layers_api.py).
        self.preparers: list[Callable[[Snapshot], None]] = []

    def current_key(self) -> str:
        """What a tab compares with what it has seen: the latest snapshot's key."""
        return self.get().key

    def get(self, current: bool = False) -> Snapshot:
        """The latest snapshot, at once; with `current`, one that includes every commit so far (computed now if the
        data changed since)."""
        self._watched()
        latest = self._current
        if latest is not None and not current:
            return latest
        with self._lock:
            return self._update()

    def wait_for_news(self, seen: str, timeout: float) -> str:
        """The latest snapshot's key as soon as it is not `seen`; `seen` itself if none came within `timeout`
        seconds or the app is stopping. A wall waiting here counts as someone watching."""
        self._watched()
        with self._news:
            self._waiting += 1
            try:
                self._news.wait_for(lambda: self._latest_key() != seen or self._stopping.is_set(), timeout)
            finally:
                self._waiting -= 1
            return self._latest_key() or seen

    def _watched(self) -> None:
        """Someone looks: the background thread keeps computing (or wakes from idle at once)."""
        self._last_asked = time.monotonic()
        self._asked.set()

    def _latest_key(self) -> str:
        latest = self._current
        return latest.key if latest is not None else ""

    def start(self) -> None:
        """Start computing in the background, so that the first tab to open does not wait for the first snapshot
        (at city scale under load it takes seconds)."""
        if self._refresher is None:
            self._refresher = threading.Thread(target=self._refresh, name="cityops-snapshots", daemon=True)
            self._refresher.start()

    def stop(self) -> None:
        """Wait for the background thread to finish its snapshot, before the store closes: a daemon thread still
        inside DuckDB when the interpreter exits aborts the process ("FATAL: exception not rethrown")."""
        self.store.cancel_wait(self._stopping)
        self._asked.set()
        with self._news:
            self._news.notify_all()
        if self._refresher is not None:
            self._refresher.join(timeout=30)
            self._refresher = None

    def stats(self) -> dict:
        """For the health report: how many snapshots were computed, how long the last took (and the median and 95th
        percentile of the latest TIMES_KEPT), how many rows of `latest` the last read, how old the one the views
        show is (what it adds to the time from a reading to the screen), and how many walls wait for news."""
        took = sorted(self._took)
        return {
            "walls_waiting": self._waiting,
            "computed": self._computed,
            "last_ms": round(self._took_s * 1000, 1),
            "p50_ms": round(took[len(took) // 2] * 1000, 1) if took else None,
            "p95_ms": round(took[int(0.95 * (len(took) - 1))] * 1000, 1) if took else None,
            "rows_read": self.city.rows_read,
            "age_s": round(time.monotonic() - self._made_at, 2) if self._current is not None else None,
        }

    def _update(self, prepare: bool = False) -> Snapshot:
        """`prepare`: run the preparers on a new snapshot before it is current (the background thread does)."""
        recent = time.monotonic() - self._made_at < AGE_LIMIT_S
        if self._current is not None and recent and self._version == self.store.data_version:
            return self._current
        version = self.store.data_version
        changes = set(CHANGES) if self._current is None else self.store.changed_since(self._version)
        began = time.monotonic()
        self._computed += 1
        snapshot = self._compute(f"{version}.{self._computed}", changes)
        for prepare_for in self.preparers if prepare else ():
            try:
                prepare_for(snapshot)
            except Exception:  # what a preparer would have made is made on demand instead
                log.exception("preparing for the wall's snapshot failed")
        self._current = snapshot
        self._version = version
        self._made_at = time.monotonic()
        self._took_s = self._made_at - began
        self._took = [*self._took[-(TIMES_KEPT - 1) :], self._took_s]
        with self._news:
            self._news.notify_all()
        return self._current

    def _refresh(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._lock:
                    self._update(prepare=True)
            except duckdb.ConnectionException:
                return  # the store was closed: the app is stopping
            except Exception:  # the store failing (a full disk): the tabs keep the last snapshot, and we try again
                log.exception("computing the wall's snapshot failed")
            # Cleared before the rest, so that a stop() or an ask during it still wakes the idle wait below.
            self._asked.clear()
            if self._stopping.wait(max(MIN_GAP_S, 2 * self._took_s)):
                return
            if time.monotonic() - self._last_asked > IDLE_S:
                self._asked.wait()  # nobody watches: nothing to compute until someone asks, then at once
            else:
                self.store.wait_for_version(self._version, timeout=AGE_LIMIT_S, cancel=self._stopping)

    def _compute(self, key: str, changes: set[str]) -> Snapshot:
        """A snapshot from the parts kept, each brought up to date if `changes` says its data changed."""
        now, clock = datetime.now(UTC), time.monotonic()
        local_midnight = pd.Timestamp(now).tz_convert(self.timezone).normalize().tz_convert("UTC").to_pydatetime()
        if changes & {"readings", "entities"}:
            self.city.refresh(entities_changed="entities" in changes)
        if self._feeds.due(changes, "feeds", clock):
            feeds = queries.feed_status(self.store)
            self._feeds = _Part((feeds, set(feeds.loc[feeds["state"] == "down", "feed_id"])), clock)
        if self._events.due(changes, "events", clock):
            self._events = _Part((queries.events_since(self.store, local_midnight), queries.latest_events(self.store)),
                                 clock)  # fmt: skip
        if self._handled.due(changes, "handling", clock):
            self._handled = _Part(self._handling(now, local_midnight), clock)
        feeds, down = self._feeds.value
        placed = self.city.placed
        status = self.city.statuses(now, self.stale_after_s, down)
        if self._features_of is not placed:  # the entities were described again
            self._features_of = placed
            self._states_of = placed[["id", "domain", "kind", "district_id", "town_id", "grid_id"]]
            self._region_groups = _region_groups(placed)
            domains = placed["domain"].to_numpy(dtype=object)
            self._domain_rows = {domain: np.flatnonzero(domains == domain) for domain in WALL_DOMAINS}
            for domain in WALL_DOMAINS:
                self._features[domain] = self._features_for(domain, placed.iloc[self._domain_rows[domain]])
        codes = np.fromiter((STATUS_CODE[s] for s in status), dtype=object, count=len(status))
        events_today, events = self._events.value
        return Snapshot(
            key=key,
            layers={
                domain: _point_layer(self._features[domain], status[rows], codes[rows])
                for domain, rows in self._domain_rows.items()
            },
            region_status=_region_status(status, self._region_groups),
            states=self._states_of.assign(status=status),
            figures=self.city.figures(now - timedelta(seconds=max(self.stale_after_s.values(), default=120)), down),
            events_today=events_today,
            events=events,
            feeds=feeds,
            **self._handled.value,
        )

    def _handling(self, now: datetime, local_midnight: datetime) -> dict:
        """The alerts, incidents and what else people handle, with their running time limits."""
        running = [] if self.time_limits is None else self.time_limits.deadlines(self.store, now)
        incidents = _with_deadlines(queries.open_incidents(self.store), {d.id: d for d in running if d.incident})
        alerts = _alerts_with_deadlines(queries.open_alerts(self.store), {d.id: d for d in running if not d.incident},
                                        incidents)  # fmt: skip
        return {
            "alerts": alerts,
            "alert_layer": _alert_layer(alerts),
            "raised_today": queries.alerts_raised_since(self.store, local_midnight),
            "incidents": incidents,
            "incident_layer": _incident_layer(incidents),
            "silences": silence_store.in_force(self.store.cursor(), now),
            "directives_today": directive_store.today(self.store.cursor(), local_midnight),
        }

    def _features_for(self, domain: str, placed: pd.DataFrame) -> tuple[int, list[dict], str, np.ndarray, np.ndarray]:
        """A domain's features, made again only if its devices' names, kinds or places changed."""
        # Positions are trimmed to five decimals (about 1 m: all the eye can use) before the fingerprint, so that a
        # device described again in the same place changes nothing.
        places = placed.assign(lon=placed["lon"].round(5), lat=placed["lat"].round(5))[
            ["id", "name", "kind", "lon", "lat"]
        ]
        fingerprint = int(pd.util.hash_pandas_object(places, index=False).to_numpy().sum(dtype=np.uint64))
        cached = self._features.get(domain)
        if cached is not None and cached[0] == fingerprint:
            return cached
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"i": i, "id": eid, "name": name, "kind": kind},  # what the popup needs
            }
            for i, (eid, name, kind, lon, lat) in enumerate(places.itertuples(index=False, name=None))
        ]
        key = hashlib.blake2b(f"{fingerprint}:{len(features)}".encode(), digest_size=8).hexdigest()
        lon, lat = places["lon"].to_numpy(dtype=float), places["lat"].to_numpy(dtype=float)
        return fingerprint, features, key, lon, lat


def _point_layer(made: tuple[int, list[dict], str, np.ndarray, np.ndarray], status: np.ndarray, codes: np.ndarray
                 ) -> PointLayer:  # fmt: skip
    """A domain's layer: its features (`made` by Snapshots._features_for) with this snapshot's statuses, and their
    one-letter codes (alerts.levels.STATUS_CODE)."""
    _, features, key, lon, lat = made
    drawn = "".join(codes)
    names, counts = np.unique(status, return_counts=True)
    drawn_key = hashlib.blake2b(f"{key}|{drawn}".encode(), digest_size=8).hexdigest()
    return PointLayer(key=key, features=features, status=drawn, counts=dict(zip(names.tolist(), counts.tolist(),
                      strict=True)), lon=lon, lat=lat, drawn_key=drawn_key)  # fmt: skip


def _region_groups(placed: pd.DataFrame) -> list[tuple[np.ndarray, pd.Index]]:
    """Each placed entity's district, town and grid as a code (-1: none) and the regions the codes stand for."""
    return [pd.factorize(placed[column]) for column in ("district_id", "town_id", "grid_id")]


def _region_status(status: np.ndarray, groups: list[tuple[np.ndarray, pd.Index]]) -> dict[str, str]:
    """Every district, town and grid with devices: `alerts.levels.summarize` of their devices' `status`, as array
    operations (a loop per region was too slow at city scale); `groups` as _region_groups gives them."""
    ranks = np.fromiter((STATUS_RANK[s] for s in status), dtype=np.int16, count=len(status))
    by_rank = {r: s for s, r in STATUS_RANK.items()}
    out: dict[str, str] = {}
    for codes, regions in groups:
        placed = codes >= 0
        summary = summarize_groups(ranks[placed], codes[placed], len(regions))
        out.update({region: by_rank[int(rank)] for region, rank in zip(regions, summary, strict=True) if region})
    return out


def _with_deadlines(rows: pd.DataFrame, deadlines: dict[int, Deadline]) -> pd.DataFrame:
    """Incidents (or alerts in none) with their running clock: due, stage, and overdue (a stage's limit passed,
    whether or not the time-limit job has marked it yet)."""
    running = [deadlines.get(i) for i in rows["id"]]
    return rows.assign(
        due=pd.Series([d.due if d else None for d in running], index=rows.index, dtype=object),  # None, not NaT
        stage=pd.Series([d.stage if d else None for d in running], index=rows.index, dtype=object),
        overdue=[
            bool(len(marked)) or bool(d and d.overdue)
            for marked, d in zip(rows["overdue_stages"], running, strict=True)
        ],  # fmt: skip
    )


def _alerts_with_deadlines(alerts: pd.DataFrame, own: dict[int, Deadline], incidents: pd.DataFrame) -> pd.DataFrame:
    """An alert in an incident shows its incident's clock; one in none, its own."""
    alerts = _with_deadlines(alerts, own)
    clocks = {int(i): (due, stage, bool(late)) for i, due, stage, late
              in incidents[["id", "due", "stage", "overdue"]].itertuples(index=False, name=None)}  # fmt: skip
    # Whole columns of objects: writing part of one would turn its Nones into NaT and NaN.
    of = [clocks.get(int(i)) if not pd.isna(i) else None for i in alerts["incident_id"]]
    return alerts.assign(
        due=pd.Series([c[0] if c else d for c, d in zip(of, alerts["due"], strict=True)], index=alerts.index,
                      dtype=object),
        stage=pd.Series([c[1] if c else s for c, s in zip(of, alerts["stage"], strict=True)], index=alerts.index,
                        dtype=object),
        overdue=[bool(c and c[2]) or bool(late) for c, late in zip(of, alerts["overdue"], strict=True)],
    )  # fmt: skip


def alert_feature(alert) -> dict:
    """One alert as a map marker (assets/cityops_map.js alertToLayer): a mapping with id, severity, the two titles,
    overdue, condition, lon and lat."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(alert["lon"], 5), round(alert["lat"], 5)]},
        "properties": {"id": int(alert["id"]), "sev": alert["severity"], "zh": alert["title_zh"],
                       "en": alert["title_en"], "overdue": bool(alert["overdue"]),
                       "active": alert["condition"] == "active"},
    }  # fmt: skip


def _incident_layer(incidents: pd.DataFrame) -> PointLayer:
    """Each placed incident's area, an outline coloured by its severity (assets/cityops_map.js incidentStyle)."""
    features = [
        {"type": "Feature", "geometry": json.loads(i["area"]),
         "properties": {"id": int(i["id"]), "sev": i["severity"], "zh": i["title_zh"], "en": i["title_en"],
                        "n": int(i["members"])}}
        for i in incidents[incidents["area"].notna()].to_dict("records")
    ]  # fmt: skip
    digest = hashlib.blake2b(digest_size=8)
    for i in incidents.itertuples(index=False):
        digest.update(f"{i.id}|{i.severity}|{i.members}|{i.title_en};".encode())
    return PointLayer(key=digest.hexdigest(), features=features, status="",
                      counts=incidents["severity"].value_counts().to_dict())  # fmt: skip


def _alert_layer(alerts: pd.DataFrame) -> PointLayer:
    # Only the columns a marker needs become records: at storm volume all of them were most of the snapshot's time.
    placed = alerts.loc[alerts["lon"].notna(), ["id", "severity", "title_zh", "title_en", "overdue", "condition",
                                                "lon", "lat"]]  # fmt: skip
    features = [alert_feature(a) for a in placed.to_dict("records")]
    digest = hashlib.blake2b(digest_size=8)
    for f in features:
        p = f["properties"]
        digest.update(f"{p['id']}|{p['sev']}|{p['overdue']}|{p['active']};".encode())
    counts = alerts["severity"].value_counts().to_dict()
    return PointLayer(key=digest.hexdigest(), features=features, status="", counts=counts)
