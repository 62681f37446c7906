"""Periods as people count them: days, weeks (Monday to Sunday) and months of the city's time zone, as UTC bounds
[start, end); and the period before one, of the same length, which a trend is measured against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    first_day: date  # in the city's time zone
    last_day: date


def days(first: date, last: date, zone: str) -> Period:
    """The days `first` to `last`, both included."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return Period(start, end, first, last)


def of_kind(kind: str, day: date, zone: str) -> Period:
    """The day, the week (from Monday) or the month that holds `day`."""
    if kind == "daily":
        return days(day, day, zone)
    if kind == "weekly":
        monday = day - timedelta(days=day.weekday())
        return days(monday, monday + timedelta(days=6), zone)
    if kind == "monthly":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return days(first, following - timedelta(days=1), zone)
    raise ValueError(f"unknown kind of period {kind!r}; kinds are {', '.join(KINDS)}")


def last_complete(kind: str, now: datetime, zone: str) -> Period:
    """The newest day, week or month that had ended by `now`."""
    today = now.astimezone(ZoneInfo(zone)).date()
    current = of_kind(kind, today, zone)
    return of_kind(kind, current.first_day - timedelta(days=1), zone)


def before(period: Period, zone: str) -> Period:
    """The period just before this one, as long: as many whole months before whole months (September before
    October, the first quarter before the second), else as many days."""
    after_last = period.last_day + timedelta(days=1)
    if period.first_day.day == 1 and after_last.day == 1:
        months = (after_last.year - period.first_day.year) * 12 + after_last.month - period.first_day.month
        first = period.first_day
        for _ in range(months):
            first = (first - timedelta(days=1)).replace(day=1)
        return days(first, period.first_day - timedelta(days=1), zone)
    n = (period.last_day - period.first_day).days
    last = period.first_day - timedelta(days=1)
    return days(last - timedelta(days=n), last, zone)


def span(first: date, last: date) -> str:
    """Days as a report's title writes them: one day, or the first and the last."""
    return first.isoformat() if first == last else f"{first.isoformat()} — {last.isoformat()}"
