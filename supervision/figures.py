"""How well the city's units handle their work, over any period, by org unit, region, department, domain or rule:
counts, MTTA and MTTR (median and p90, on the clock or in working time), the on-time rate of each stage, overdue,
returned, reopened and escalated counts; and the ranking (排名) of districts or departments against the period
before.

The stages are receipt (acknowledged: taken up, or given on at once), dispatch and resolve. A stage's on-time rate
counts the incidents whose stage was decided (done, or its time limit ran out) and of those the ones done without
running out. The ranking orders by the on-time rate over all three stages, then by the median MTTR (shorter first),
then by the number of incidents handled (more first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from store import supervision as sql
from store.supervision import Selection
from supervision.facts import STAGES, Facts

# What figures can be grouped by, and the column of incident_figures that says it.
DIMENSIONS: dict[str, str] = {
    "centre": "centre_id", "department": "department_id", "district": "district_id", "town": "town_id",
    "grid": "grid_id", "domain": "domain", "rule": "group_id", "severity": "severity",
}  # fmt: skip
STAGE_NAMES = tuple(name for name, _ in STAGES)


@dataclass(frozen=True)
class Figures:
    """The figures of one group (`key`: the unit, region, domain or rule; None for all selected incidents)."""

    key: str | None
    incidents: int
    open: int
    cancelled: int
    mtta_p50: float | None  # seconds
    mtta_p90: float | None
    mttr_p50: float | None
    mttr_p90: float | None
    decided: dict[str, int]  # by stage: incidents whose stage was done or ran out
    on_time: dict[str, int]  # by stage: of those, done in time
    overdue: int
    returned: int
    reopened: int
    escalations: int

    def rate(self, stage: str | None = None) -> float | None:
        """The on-time rate of a stage, or over all stages (None when nothing was decided)."""
        stages = STAGE_NAMES if stage is None else (stage,)
        decided = sum(self.decided[s] for s in stages)
        return sum(self.on_time[s] for s in stages) / decided if decided else None


@dataclass(frozen=True)
class Ranked:
    rank: int
    figures: Figures
    previous: Figures | None  # the same key's figures in the period before
    previous_rank: int | None

    @property
    def rate_change(self) -> float | None:
        """The change of the on-time rate against the period before (a share: 0.05 is five points better)."""
        now, before = self.figures.rate(), self.previous.rate() if self.previous else None
        return None if now is None or before is None else now - before

    @property
    def mttr_change(self) -> float | None:
        """The change of the median MTTR against the period before, in seconds (negative: faster)."""
        now, before = self.figures.mttr_p50, self.previous.mttr_p50 if self.previous else None
        return None if now is None or before is None else now - before


def figures(facts: Facts, selection: Selection, by: str | None = None, working: bool = False) -> list[Figures]:
    """The selected incidents' figures as last refreshed (an answer refreshes `facts` once, then asks what it
    shows), one per value of the dimension `by` (one in all for None), the groups with the most incidents first.
    In working time, MTTA and MTTR count only the calendar's working hours."""
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; dimensions are {', '.join(DIMENSIONS)}")
    table = sql.aggregate(facts.store.cursor(), selection, DIMENSIONS[by] if by else None, working)
    return [_figures(row) for row in table.to_dict("records")]


def ranking(facts: Facts, selection: Selection, previous: Selection, by: str, working: bool = False
            ) -> list[Ranked]:  # fmt: skip
    """The groups of `by` (districts, departments …) of `selection`, best first, each with its figures and rank in
    the `previous` selection (the same filters over the period before)."""
    now = [f for f in figures(facts, selection, by, working) if f.key is not None]
    before = {f.key: f for f in figures(facts, previous, by, working) if f.key is not None}
    before_rank = {f.key: n for n, f in enumerate(_best_first(list(before.values())), 1)}
    return [Ranked(n, f, before.get(f.key), before_rank.get(f.key)) for n, f in enumerate(_best_first(now), 1)]


def _best_first(groups: list[Figures]) -> list[Figures]:
    def order(f: Figures) -> tuple:
        rate = f.rate()
        return (-(rate if rate is not None else -1.0), f.mttr_p50 if f.mttr_p50 is not None else math.inf,
                -f.incidents, f.key or "")  # fmt: skip

    return sorted(groups, key=order)


def _figures(row: dict) -> Figures:
    def number(value) -> float | None:
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    key = row["key"]
    return Figures(
        key=None if key is None or (isinstance(key, float) and math.isnan(key)) else str(key),
        incidents=int(row["incidents"]),
        open=int(row["open"]),
        cancelled=int(row["cancelled"]),
        mtta_p50=number(row["mtta_p50"]),
        mtta_p90=number(row["mtta_p90"]),
        mttr_p50=number(row["mttr_p50"]),
        mttr_p90=number(row["mttr_p90"]),
        decided={s: int(row[f"{s}_decided"]) for s in STAGE_NAMES},
        on_time={s: int(row[f"{s}_on_time"]) for s in STAGE_NAMES},
        overdue=int(row["overdue"]),
        returned=int(row["returned"]),
        reopened=int(row["reopened"]),
        escalations=int(row["escalations"]),
    )
