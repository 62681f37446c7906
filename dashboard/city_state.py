"""Every entity with its latest readings, kept in memory between the wall's snapshots and brought up to date with
only the rows of `latest` written since the last look (store.queries.latest_written_since).

Under a steady stream of readings a small part of the city changes between two snapshots, while reading every
entity with its latest values again (and each one's levels out of its JSON attributes) cost most of a snapshot, in
proportion to the size of the city. So descriptions are read again only when the store says entities changed
(store.database.CHANGES), and readings only where they were written since; what depends on the clock (a device
falls silent, a figure's window moves on) is worked out again from the kept values each time, as array operations.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from alerts.levels import fresh, statuses
from store import queries
from store.database import Store
from store.records import SEVERITIES

# Each look reads the rows written after this long before the newest row it has seen. The store's one writer thread
# (store/writer.py) commits its batches one after another, each stamped as it began, after the one before had
# committed: no row can commit later with an older stamp. A second writer of `latest` would need its longest
# transaction's time here.
READ_MARGIN = timedelta(0)
# Everything is read again this often, so that nothing missed (a clock stepped back, a row deleted) lasts.
READ_ALL_S = 60.0
# The metrics the wall's key figures are made of (`figures`).
FIGURE_METRICS = ("speed", "congestion_index", "rain_1h", "water_level", "depth", "alarm", "online")
_NO_ENTITY = -1


class CityState:
    """The entities (`entities`, store.queries.entity_descriptions), those with a place (`placed`), and each
    entity's status metric, online flag and last report, from a copy of `latest` kept one row per entity and
    metric."""

    def __init__(self, store: Store):
        self.store = store
        self.entities = pd.DataFrame()
        self.placed = pd.DataFrame()
        self._levels: dict[str, np.ndarray] = {}
        self._placed_at = np.zeros(0, dtype=np.int64)  # each placed entity's position in `entities`
        self._entity_ids = pd.Index([])
        self._levels_metric = np.zeros(0, dtype=object)
        # The copy of `latest`: a row per (entity, metric), its position in the _row_ arrays (made by _forget_rows):
        # entity id, metric, its place in FIGURE_METRICS (-1 for another), the entity's position in `entities` (-1
        # if not described), value and time. Per entity, from the rows (made by _recount): the value of its levels'
        # metric, its online flag, and when it last reported.
        self._row_of: dict[tuple[str, str], int] = {}
        self._forget_rows()
        self._newest_written: int | None = None  # microseconds since the epoch
        self._read_all_at = float("-inf")
        self.rows_read = 0  # by the last refresh: what it cost

    def refresh(self, entities_changed: bool) -> None:
        """Bring the copy up to date: descriptions when `entities_changed` (or never read), readings written since
        the last look (all of them now and then)."""
        if entities_changed or self.entities.empty:
            self._describe(queries.entity_descriptions(self.store))
        read_all = time.monotonic() - self._read_all_at > READ_ALL_S or self._newest_written is None
        since = None if read_all else self._newest_written - READ_MARGIN // timedelta(microseconds=1)
        rows = queries.latest_written_since(self.store, since)
        if read_all:
            self._read_all_at = time.monotonic()
            self._forget_rows()
        self.rows_read = len(rows["entity_id"])
        if self.rows_read:  # every row has `written_at`: the migration that added it gave older ones their `ts`
            newest = int(rows["written_us"].max())
            self._newest_written = max(self._newest_written or newest, newest)
            self._take(rows)

    def statuses(self, now: datetime, stale_after_s: dict[str, int], down_feeds: set[str]) -> np.ndarray:
        """Each placed entity's status (alerts.levels.statuses), in the order of `placed`."""
        levels, at = self._levels, self._placed_at
        limits = np.array([stale_after_s.get(feed, 120) for feed in levels["feed_id"]], dtype=float)
        down = np.array([feed in down_feeds for feed in levels["feed_id"]], dtype=bool)
        return statuses(
            self._value[at],
            {colour: levels[colour] for colour in SEVERITIES},
            levels["below"],
            levels["has_levels"],
            fresh=fresh(now.timestamp() - self._last_seen[at], limits, down),
            online=self._online[at],
        )

    def figures(self, since: datetime, down_feeds: set[str]) -> dict[str, float | int | None]:
        """The wall's key figures, over devices that reported at or after `since` through a feed not down (a
        figure from a silent source would look current beside devices shown as no data). An aggregate over no
        values is None."""
        # Indexed by each row's entity, whose position is -1 when not described: the appended last element.
        feed_down = np.append(self.entities["feed_id"].isin(down_feeds).to_numpy(dtype=bool), False)
        warning = np.append(self.entities["warning_level"].to_numpy(dtype=float, na_value=np.nan), np.nan)
        live = (self._row_ts >= since.timestamp()) & ~feed_down[self._row_entity]
        value = self._row_value

        def of(metric: str) -> np.ndarray:
            return value[live & (self._row_figure == FIGURE_METRICS.index(metric))]

        def known(values: np.ndarray) -> np.ndarray:
            return values[~np.isnan(values)]

        def mean(values: np.ndarray) -> float | None:
            return float(known(values).mean()) if len(known(values)) else None

        def most(values: np.ndarray) -> float | None:
            return float(known(values).max()) if len(known(values)) else None

        congestion = known(of("congestion_index"))
        gauges = live & (self._row_figure == FIGURE_METRICS.index("water_level"))
        with np.errstate(invalid="ignore"):
            over = int(np.count_nonzero(value[gauges] >= warning[self._row_entity[gauges]]))
        alarms = known(of("alarm"))
        return {
            "avg_speed": mean(of("speed")),
            "congested_share": float((congestion >= 6).mean()) if len(congestion) else None,
            "max_rain": most(of("rain_1h")),
            "gauges_over_warning": over,
            "gauges_reporting": int(np.count_nonzero(gauges)),
            "max_depth": most(of("depth")),
            "fire_alarms": float(alarms.sum()) if len(alarms) else None,
            "cameras_online_share": mean(of("online")),
        }

    def _describe(self, entities: pd.DataFrame) -> None:
        self.entities = entities.reset_index(drop=True)
        self._entity_ids = pd.Index(self.entities["id"])
        self._levels_metric = self.entities["levels_metric"].to_numpy(dtype=object)
        self._placed_at = np.flatnonzero(self.entities["lon"].notna().to_numpy())
        self.placed = self.entities.iloc[self._placed_at].reset_index(drop=True)
        # The placed entities' feeds and levels as arrays, for the statuses of each snapshot.
        self._levels = {"feed_id": self.placed["feed_id"].to_numpy(dtype=object),
                        "below": self.placed["below"].to_numpy(dtype=bool),
                        "has_levels": self.placed["has_levels"].to_numpy(dtype=bool)}  # fmt: skip
        for colour in SEVERITIES:
            self._levels[colour] = self.placed[colour].to_numpy(dtype=float, na_value=np.nan)
        self._row_entity = self._entity_ids.get_indexer(self._row_entity_id).astype(np.int64)
        self._recount()

    def _forget_rows(self) -> None:
        self._row_of.clear()
        self._row_entity_id, self._row_metric = np.zeros(0, dtype=object), np.zeros(0, dtype=object)
        self._row_figure = np.zeros(0, dtype=np.int8)
        self._row_entity = np.zeros(0, dtype=np.int64)
        self._row_value, self._row_ts = np.zeros(0), np.zeros(0)
        self._recount()

    def _take(self, rows: dict[str, np.ndarray]) -> None:
        """Write rows of `latest` (as store.queries.latest_written_since gives them) into the copy, adding those not
        seen before."""
        entity_ids, metrics = rows["entity_id"], rows["metric"]
        at = np.fromiter((self._row_of.get(key, -1) for key in zip(entity_ids, metrics, strict=True)),
                         dtype=np.int64, count=len(entity_ids))  # fmt: skip
        new = np.flatnonzero(at < 0)
        if len(new):
            first = len(self._row_of)
            for i in new:
                at[i] = self._row_of.setdefault((entity_ids[i], metrics[i]), len(self._row_of))
            count = len(self._row_of) - first
            grow = lambda array, fill, dtype: np.concatenate([array, np.full(count, fill, dtype=dtype)])  # noqa: E731
            self._row_entity_id = grow(self._row_entity_id, None, object)
            self._row_metric = grow(self._row_metric, None, object)
            self._row_figure = grow(self._row_figure, -1, np.int8)
            self._row_entity = grow(self._row_entity, _NO_ENTITY, np.int64)
            self._row_value, self._row_ts = grow(self._row_value, np.nan, float), grow(self._row_ts, np.nan, float)
            self._row_entity_id[at[new]] = entity_ids[new]
            self._row_metric[at[new]] = metrics[new]
            self._row_figure[at[new]] = [FIGURE_METRICS.index(m) if m in FIGURE_METRICS else -1 for m in metrics[new]]
            self._row_entity[at[new]] = self._entity_ids.get_indexer(entity_ids[new])
        self._row_value[at] = rows["value"]
        self._row_ts[at] = rows["ts_us"] / 1e6
        self._recount(at)

    def _recount(self, rows: np.ndarray | None = None) -> None:
        """Bring the per-entity values up to date with these rows of the copy (None: all of them, afresh). A row's
        time only moves forward (the writer keeps the newest), so the last report is a running maximum."""
        if rows is None:
            size = len(self.entities)
            self._value, self._online, self._last_seen = (np.full(size, np.nan) for _ in range(3))
            rows = np.arange(len(self._row_of))
        entity = self._row_entity[rows]
        rows, entity = rows[entity != _NO_ENTITY], entity[entity != _NO_ENTITY]
        np.fmax.at(self._last_seen, entity, self._row_ts[rows])
        metric = self._row_metric[rows]
        status = metric == self._levels_metric[entity]
        self._value[entity[status]] = self._row_value[rows[status]]
        online = metric == "online"
        self._online[entity[online]] = self._row_value[rows[online]]
