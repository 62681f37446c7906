"""A rule's conditions evaluated for many subjects at once, as array operations.

`read_frame` gathers what the store says of some entities now (latest values, when each last reported, rates of
change) as arrays aligned with their ids; `holds` evaluates a condition over rows of such a frame and says, per
subject, 1 (holds), 0 (does not) or NaN (the data to decide is missing), with the value that decided it. A storm
brings thousands of entities in one batch: nothing here loops over them in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from alerts.rules import Condition, RateCondition, Rule
from alerts.subjects import Subjects
from store import rule_inputs
from store.database import Store


@dataclass
class Frame:
    """What the store says of some subjects now, as arrays aligned with `ids`."""

    ids: np.ndarray  # entity ids (objects)
    pos: np.ndarray  # each id's row in the entity table
    values: dict[str, np.ndarray]  # metric → latest value (NaN where none)
    last_seen: np.ndarray  # seconds since the epoch of the latest report (NaN: never)
    rates: dict[str, np.ndarray]  # metric → change per hour over the rule's window (NaN: not enough data)
    row_of: dict[str, int]  # entity id → its place in `ids`
    subjects: Subjects  # the entity table `pos` points into (per-row attributes and registration times)

    def column(self, metric: str, rows: np.ndarray) -> np.ndarray:
        values = self.values.get(metric)
        return values[rows] if values is not None else np.full(len(rows), np.nan)


def read_frame(store: Store, subjects: Subjects, ids: Iterable[str], rules: list[Rule], now: datetime) -> Frame:
    """The latest data of `ids` as arrays in the order of `ids` (and rates where `rules` need them)."""
    ids = np.asarray(list(ids), dtype=object)
    row_of = {entity_id: i for i, entity_id in enumerate(ids)}
    pos = subjects.positions(ids)
    rated: dict[str, RateCondition] = {}  # the first rate condition of each metric sets its window
    for cond in _walk(*(c for r in rules for c in (r.when, r.clear))):
        if cond.rate is not None and cond.rate.metric not in rated:
            rated[cond.rate.metric] = cond.rate
    latest, spans = rule_inputs.latest_and_spans(
        store.cursor(), ids.tolist(), {metric: now - rate.window for metric, rate in rated.items()}
    )
    rows = np.fromiter((row_of[e] for e in latest.column("entity_id").to_pylist()), np.int64, latest.num_rows)
    metrics = np.asarray(latest.column("metric").to_pylist(), dtype=object)
    numbers = latest.column("value").to_numpy(zero_copy_only=False).astype(float)
    values: dict[str, np.ndarray] = {}
    for metric in set(metrics.tolist()):
        column = np.full(len(ids), np.nan)
        mask = metrics == metric
        column[rows[mask]] = numbers[mask]
        values[metric] = column
    last_seen = np.full(len(ids), np.nan)
    np.fmax.at(last_seen, rows, latest.column("us").to_numpy(zero_copy_only=False).astype(float) / 1e6)
    rates: dict[str, np.ndarray] = {}
    for metric, table in spans.items():
        hours = table.column("hours").to_numpy(zero_copy_only=False).astype(float)
        change = (table.column("last").to_numpy(zero_copy_only=False).astype(float)
                  - table.column("first").to_numpy(zero_copy_only=False).astype(float))  # fmt: skip
        # Less than a twentieth of the window says nothing about a rate.
        enough = hours >= rated[metric].window.total_seconds() / 3600 / 20
        column = np.full(len(ids), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = np.fromiter((row_of[e] for e in table.column("entity_id").to_pylist()), np.int64, table.num_rows)
            column[at] = np.where(enough, change / hours, np.nan)
        rates[metric] = column
    return Frame(ids, pos, values, last_seen, rates, row_of, subjects)


def holds(cond: Condition, rows: np.ndarray, frame: Frame, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Per subject at `rows` of the frame: 1 (holds), 0 (does not) or NaN (the data to decide is missing); and the
    deciding value (NaN: none)."""
    n = len(rows)
    if cond.threshold is not None:
        t = cond.threshold
        ref = t.above if t.above is not None else t.below
        values = frame.column(t.metric, rows)
        unknown = np.isnan(values)
        if ref.attr:
            limit = frame.subjects.attribute(ref.attr)[frame.pos[rows]] + ref.value
            unknown |= np.isnan(limit)
        else:
            limit = ref.value
        with np.errstate(invalid="ignore"):
            hit = values >= limit if t.above is not None else values <= limit
        result = hit.astype(float)
        result[unknown] = np.nan
        return result, values
    if cond.rate is not None:
        r = cond.rate
        rates = frame.rates[r.metric][rows]
        hit = rates >= r.rise_per_hour if r.rise_per_hour else -rates >= r.fall_per_hour
        return np.where(np.isnan(rates), np.nan, hit.astype(float)), rates
    if cond.absent is not None:
        # A device that never reported is silent since it was registered.
        seen = frame.last_seen[rows]
        first_seen = frame.subjects.first_seen[frame.pos[rows]]  # the frame was built on the current table
        seen = np.where(np.isnan(seen), first_seen, seen)
        silent = now.timestamp() - seen >= cond.absent.total_seconds()
        return np.where(np.isnan(seen), np.nan, silent.astype(float)), np.full(n, np.nan)
    parts = [holds(c, rows, frame, now) for c in (cond.all or cond.any)]
    results = np.vstack([p[0] for p in parts])
    value = np.full(n, np.nan)
    for _, v in parts:
        value = np.where(np.isnan(value), v, value)
    if cond.all is not None:
        combined = np.where((results == 0).any(axis=0), 0.0, np.where((results == 1).all(axis=0), 1.0, np.nan))
    else:
        combined = np.where((results == 1).any(axis=0), 1.0, np.where((results == 0).all(axis=0), 0.0, np.nan))
    return combined, value


def _walk(*conditions: Condition | None) -> Iterable[Condition]:
    """Every condition and the parts of its AND / OR, depth first."""
    for cond in conditions:
        if cond is None:
            continue
        yield cond
        yield from _walk(*(cond.all or cond.any or []))
