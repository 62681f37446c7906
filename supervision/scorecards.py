"""Data-quality scorecards (数据质量记分卡): for each feed and each department that owns feeds ([[feeds]] owner), over
any period, how available, timely, complete, plausible and decodable its data were, and a monthly ranking (排名) of
both, best first. "Which department's feeds are late or incomplete?" is answered here.

The figures of a feed over a period:

- availability: the share of the period's time its health was ok (`feed_log`; degraded, down and the time before
  its first change are not ok);
- latency p50 / p95: source time to stored, over its readings, from counts per bucket of LATENCY_BOUNDS_S: a
  percentile is interpolated linearly inside the bucket it falls in (so it is exact to the bucket, not to the
  second), and one that falls past the last bound is that bound ("at least");
- timely: the share of its readings stored within its `stale_after_s`, the silence after which the map already
  shows the device as silent (the bucket holding that limit counted in proportion, as above);
- completeness: in each hour, the share of its known devices that reported, averaged over the hours in which it
  knew any;
- plausible: the share of its readings not marked suspect (feeds/plausibility.py), beside the suspect count;
- dead-letter rate: dead letters / (messages + dead letters).

**The score** is the mean of the five shares availability, timely, completeness, plausible and 1 − dead-letter rate,
each from 0 (worst) to 1 (best), over those the feed has: a feed of events only has no readings, hence no timely,
completeness or plausible share, and is scored on the other two. A feed with no hours in the period (never heard
of, or its hours not rolled up yet) has no score and comes last in a ranking, unranked.

**A department's figures** are its feeds' together: the time shares (availability, completeness) and the score are
its feeds' weighted by their hours, so each feed-hour counts once; plausible and the dead-letter rate are pooled
over all its feeds' readings and messages; the latency percentiles come from their buckets added up. Feeds without
an owner belong to no department (they still rank among the feeds).

**Ranking**: best score first; equal scores share a rank (1, 2, 2, 4); a month is the city's calendar month.

The figures are sums over `feed_hours` (store/feed_hours.py), one row per feed and hour, rolled up by `roll_up` once
the hour is over, so a year's scorecard reads a year of hours and stays answerable after retention has removed the
observations. A period counts the hours rolled up so far: asked for before `roll_up` has caught up, it is partial
(each card says how many hours it holds), never slow. Rows are never rolled up again once written, so a reading
stored after its hour was rolled up does not count its device as reporting in that hour (it was late), though it
counts in the hour it was stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from feeds.settings import FeedBase
from store import feed_hours
from store.database import Store
from store.feed_hours import FeedTotals
from store.retention import COMMIT_MARGIN
from store.transaction import retrying
from supervision import periods

# Upper bounds of the latency buckets in seconds; one more bucket holds what is later than the last. Fine where
# streaming feeds live (seconds), coarse where polled and hourly ones do. The rows keep counts per bucket by
# position: changing these bounds means rolling up again the hours already kept.
LATENCY_BOUNDS_S: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800, 86400)
HOUR = timedelta(hours=1)
# An hour is rolled up once it is over by this much: a row's received_at is set before its batch commits.
SETTLE = COMMIT_MARGIN
# Hours per transaction: each holds what a dense city stores in that time, which must stay small for the process's
# memory (the retention's slices learned the same); the writer appends meanwhile, to other tables.
HOURS_PER_TRANSACTION = 1
# Hours per call: the first call on a store with a long history returns after these, and the scheduled job's next
# calls take the rest (retention keeps observations for weeks, not years, so a store catches up in a few calls).
HOURS_PER_CALL = 7 * 24


@dataclass(frozen=True)
class Scorecard:
    """One feed's figures over a period; None where it had nothing to measure (no hours, readings or messages)."""

    feed_id: str
    owner: str | None  # the department answering for its data
    hours: int  # its rolled-up hours in the period
    availability: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    timely: float | None  # share of readings stored within its stale_after_s
    completeness: float | None
    plausible: float | None
    suspect: int
    dead_letter_rate: float | None
    dead_letters: int
    messages: int
    readings: int
    latency: tuple[int, ...]  # readings per bucket of LATENCY_BOUNDS_S, for a department's percentiles
    score: float | None


@dataclass(frozen=True)
class DepartmentScorecard:
    """One department's figures over a period: its feeds' together (the module's docstring says how)."""

    department: str
    feeds: tuple[str, ...]
    hours: int  # its feeds' hours added up
    availability: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    timely: float | None  # share of its feeds' readings stored within their own stale_after_s
    completeness: float | None
    plausible: float | None
    suspect: int
    dead_letter_rate: float | None
    dead_letters: int
    messages: int
    readings: int
    latency: tuple[int, ...]
    score: float | None


@dataclass(frozen=True)
class Ranked:
    """A place in a ranking: its rank (None: no score), the feed's or department's id, and its card."""

    rank: int | None
    id: str
    score: float | None
    card: Scorecard | DepartmentScorecard


@dataclass(frozen=True)
class MonthlyRanking:
    """A month's ranking of the feeds and of their departments; [start, end) is the month in UTC."""

    start: datetime
    end: datetime
    feeds: list[Ranked]
    departments: list[Ranked]


def roll_up(store: Store, now: datetime) -> int:
    """Roll up the hours over since the last roll-up (the first time: since the oldest data kept), at most
    HOURS_PER_CALL of them, one transaction per HOURS_PER_TRANSACTION; returns how many hours were rolled up (fewer
    than are due when the call stopped at its bound: call again)."""
    cur = store.cursor()
    start = feed_hours.rolled_until(cur)
    if start is None:
        oldest = feed_hours.first_stored(cur)
        if oldest is None:
            return 0
        start = _hour(oldest)
    end = min(_hour(now - SETTLE), start + HOURS_PER_CALL * HOUR)
    rolled = 0
    while start < end:
        step = min(start + HOURS_PER_TRANSACTION * HOUR, end)
        retrying(lambda low=start, high=step: feed_hours.roll_up(cur, low, high, LATENCY_BOUNDS_S))
        rolled += (step - start) // HOUR
        start = step
    return rolled


def rolled_until(store: Store) -> datetime | None:
    """The end of the newest hour the scorecards hold (None: none yet): figures of a later period are partial."""
    return feed_hours.rolled_until(store.cursor())


def scorecards(store: Store, start: datetime, end: datetime, feeds: Iterable[FeedBase]) -> list[Scorecard]:
    """The scorecard of each of `feeds` (the configured ones, in their order) over the hours that begin in
    [start, end)."""
    found = {t.feed_id: t for t in feed_hours.totals(store.cursor(), start, end, len(LATENCY_BOUNDS_S) + 1)}
    return [_card(feed, found.get(feed.id)) for feed in feeds]


def by_department(cards: Iterable[Scorecard]) -> list[DepartmentScorecard]:
    """Each owning department's figures from its feeds' cards, by department id; feeds without an owner are left
    out."""
    owned: dict[str, list[Scorecard]] = {}
    for card in cards:
        if card.owner is not None:
            owned.setdefault(card.owner, []).append(card)
    return [_department(department, owned[department]) for department in sorted(owned)]


def ranking(cards: Iterable[Scorecard | DepartmentScorecard]) -> list[Ranked]:
    """The cards best score first, with their ranks: equal scores share one, cards without a score come last,
    unranked; ties and the unranked in order of id."""
    places = [Ranked(None, _id(card), card.score, card) for card in cards]
    scored = sorted((p for p in places if p.score is not None), key=lambda p: (-p.score, p.id))
    unscored = sorted((p for p in places if p.score is None), key=lambda p: p.id)
    ranked: list[Ranked] = []
    for n, place in enumerate(scored):
        rank = ranked[-1].rank if ranked and ranked[-1].score == place.score else n + 1
        ranked.append(Ranked(rank, place.id, place.score, place.card))
    return ranked + unscored


def monthly_ranking(store: Store, year: int, month: int, feeds: Iterable[FeedBase], zone: str) -> MonthlyRanking:
    """The month's ranking of the feeds and of the departments owning them (`zone`: the city's time zone). Hours
    are UTC hours: in a zone a whole number of hours off UTC (Asia/Shanghai) a month is whole hours."""
    month_of = periods.of_kind("monthly", date(year, month, 1), zone)
    cards = scorecards(store, month_of.start, month_of.end, feeds)
    return MonthlyRanking(month_of.start, month_of.end, ranking(cards), ranking(by_department(cards)))


def percentile(latency: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of the delays counted per bucket of LATENCY_BOUNDS_S, interpolated inside its bucket;
    past the last bound, that bound. None without readings."""
    total = sum(latency)
    if not total:
        return None
    rank = q * total
    below = 0
    for n, count in enumerate(latency):
        if count and below + count >= rank:
            low, high = _bucket(n)
            if high is None:
                return low
            return low + (high - low) * (rank - below) / count
        below += count
    return _bucket(len(latency) - 1)[0]


def timely_share(latency: Sequence[int], limit_s: float) -> float | None:
    """The share of readings stored within `limit_s` of their source time, counting the bucket that holds the limit
    in proportion; what is past the last bound counts as late. None without readings."""
    total = sum(latency)
    if not total:
        return None
    within = 0.0
    for n, count in enumerate(latency):
        low, high = _bucket(n)
        if high is not None and high <= limit_s:
            within += count
        elif high is not None and low < limit_s:
            within += count * (limit_s - low) / (high - low)
    return within / total


def _card(feed: FeedBase, totals: FeedTotals | None) -> Scorecard:
    if totals is None:
        empty = (0,) * (len(LATENCY_BOUNDS_S) + 1)
        return Scorecard(feed.id, feed.owner, 0, None, None, None, None, None, None, 0, None, 0, 0, 0, empty, None)
    availability = totals.ok_s / (totals.hours * HOUR.total_seconds()) if totals.hours else None
    timely = timely_share(totals.latency, feed.stale_after_s)
    plausible = 1 - totals.suspect / totals.readings if totals.readings else None
    dead_letter_rate = _share(totals.dead_letters, totals.messages + totals.dead_letters)
    clean = None if dead_letter_rate is None else 1 - dead_letter_rate
    return Scorecard(
        feed_id=feed.id,
        owner=feed.owner,
        hours=totals.hours,
        availability=availability,
        latency_p50_s=percentile(totals.latency, 0.5),
        latency_p95_s=percentile(totals.latency, 0.95),
        timely=timely,
        completeness=totals.completeness,
        plausible=plausible,
        suspect=totals.suspect,
        dead_letter_rate=dead_letter_rate,
        dead_letters=totals.dead_letters,
        messages=totals.messages,
        readings=totals.readings,
        latency=totals.latency,
        score=_mean([availability, timely, totals.completeness, plausible, clean]),
    )


def _department(department: str, cards: list[Scorecard]) -> DepartmentScorecard:
    latency = tuple(sum(column) for column in zip(*(c.latency for c in cards), strict=True))
    readings = sum(c.readings for c in cards)
    suspect = sum(c.suspect for c in cards)
    messages = sum(c.messages for c in cards)
    dead_letters = sum(c.dead_letters for c in cards)
    return DepartmentScorecard(
        department=department,
        feeds=tuple(c.feed_id for c in cards),
        hours=sum(c.hours for c in cards),
        availability=_by_hours(cards, lambda c: c.availability),
        latency_p50_s=percentile(latency, 0.5),
        latency_p95_s=percentile(latency, 0.95),
        # each feed's own limit (its stale_after_s) decides what was in time: pooled over the feeds' readings
        timely=sum(c.timely * c.readings for c in cards if c.timely is not None) / readings if readings else None,
        completeness=_by_hours(cards, lambda c: c.completeness),
        plausible=1 - suspect / readings if readings else None,
        suspect=suspect,
        dead_letter_rate=_share(dead_letters, messages + dead_letters),
        dead_letters=dead_letters,
        messages=messages,
        readings=readings,
        latency=latency,
        score=_by_hours(cards, lambda c: c.score),
    )


def _by_hours(cards: list[Scorecard], figure: Callable[[Scorecard], float | None]) -> float | None:
    """The mean of a figure over the cards that have it, each weighing its hours."""
    weighed = [(figure(c), c.hours) for c in cards if figure(c) is not None and c.hours]
    hours = sum(h for _, h in weighed)
    return sum(value * h for value, h in weighed) / hours if hours else None


def _bucket(n: int) -> tuple[float, float | None]:
    """The bucket's lower bound and upper bound (None: the last bucket, open above)."""
    low = float(LATENCY_BOUNDS_S[n - 1]) if n else 0.0
    return low, float(LATENCY_BOUNDS_S[n]) if n < len(LATENCY_BOUNDS_S) else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _id(card: Scorecard | DepartmentScorecard) -> str:
    return card.feed_id if isinstance(card, Scorecard) else card.department


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
