"""Working time (工作时, 工作日): the clock of a time limit a rule gives in working hours or working days.

China's working days are Monday to Friday, except the public holidays the State Council announces each year, and
with its make-up working days (调休) on weekends. A city keeps them in a calendar file ([alerts] calendar):

    source: 国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）
    holidays: [2026-01-01, 2026-02-15..2026-02-23, …]   # days off, alone or as first..last
    workdays: [2026-01-04, 2026-02-14, …]                # weekends worked instead (调休)
    hours: [["08:30", "12:00"], ["13:30", "17:30"]]     # a working day's hours, local time

A limit of hours counts only the working hours of working days; a limit of days ends at the close of the last of
them, counted from the day after the clock started (a task given on Friday at 10:00 with two working days is due on
Tuesday at 17:30, unless Monday is a holiday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from alerts.yaml_file import YamlFileError, read_yaml

_SPAN = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
_WORKING = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wh|wd)\s*$")
LONGEST_SEARCH_DAYS = 3 * 366  # a limit that finds no working time in this long is a calendar without any


class CalendarError(YamlFileError):
    """A calendar file that cannot be used, with its file and line."""


@dataclass(frozen=True)
class Working:
    """A time limit in working time: `amount` working hours or working days."""

    amount: float
    unit: Literal["hours", "days"]

    def __str__(self) -> str:
        return f"{self.amount:g}{'wh' if self.unit == 'hours' else 'wd'}"


def working(value: Any) -> Any:
    """'4wh' and '2wd' as Working; anything else as it is (for the next validator)."""
    match = _WORKING.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    amount = float(match.group(1))
    if amount <= 0:
        raise ValueError(f"{value!r}: a time limit is more than no time")
    if match.group(2) == "wd" and not amount.is_integer():
        raise ValueError(f"{value!r}: working days are whole days (a half day is 4wh, say)")
    return Working(amount, "hours" if match.group(2) == "wh" else "days")


def _days(value: Any) -> list[date]:
    """A day, or a span of days written `first..last`, as the days it covers."""
    if isinstance(value, date):
        return [value]
    match = _SPAN.match(str(value))
    if match is None:
        try:
            return [date.fromisoformat(str(value).strip())]
        except ValueError:
            raise ValueError(f"{value!r} is not a day (2026-10-01) or a span (2026-10-01..2026-10-07)") from None
    first, last = (date.fromisoformat(match.group(n)) for n in (1, 2))
    if last < first:
        raise ValueError(f"{value!r}: a span goes from its first day to its last")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def time_of_day(value: Any) -> time:
    """A time of day in the city's local time, written quoted ("08:30"): YAML reads 8:30 unquoted as a number."""
    try:
        moment = time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f'{value!r} is not a time of day, quoted: "08:30"') from None
    if moment.tzinfo is not None:
        raise ValueError(f"{value!r}: a time of day here is the city's local time, without an offset")
    return moment


def _hours(value: Any) -> tuple[time, time]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f'{value!r} is not a pair of times of day, quoted: ["08:30", "12:00"]')
    start, end = (time_of_day(v) for v in value)
    if end <= start:
        raise ValueError(f"{value!r}: working hours end after they start")
    return start, end


Days = Annotated[list[date], BeforeValidator(_days)]


class CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str  # the notice the days follow, so that whoever updates the file next year finds it
    holidays: list[Days] = Field(default_factory=list)
    workdays: list[Days] = Field(default_factory=list)
    hours: list[Annotated[tuple[time, time], BeforeValidator(_hours)]] = Field(
        default_factory=lambda: [(time(8, 30), time(12)), (time(13, 30), time(17, 30))], min_length=1
    )

    @model_validator(mode="after")
    def _consistent(self) -> CalendarFile:
        both = {d for days in self.holidays for d in days} & {d for days in self.workdays for d in days}
        if both:
            raise ValueError(f"{min(both)} is both a holiday and a working day")
        ordered = sorted(self.hours)
        if any(a[1] > b[0] for a, b in zip(ordered, ordered[1:], strict=False)):
            raise ValueError("working hours overlap")
        self.hours = ordered
        return self


class WorkingCalendar:
    """The city's working days and hours, in its time zone."""

    def __init__(self, calendar: CalendarFile, zone: str):
        self.source = calendar.source
        self.holidays = {d for days in calendar.holidays for d in days}
        self.workdays = {d for days in calendar.workdays for d in days}
        self.hours = calendar.hours
        self.zone = ZoneInfo(zone)
        # The end of the last year the file lists days of: after it, working days are Monday to Friday.
        listed = self.holidays | self.workdays
        self.until = date(max(d.year for d in listed), 12, 31) if listed else None

    @classmethod
    def load(cls, path: str | Path, zone: str) -> WorkingCalendar:
        parsed, _ = read_yaml(path, CalendarFile, CalendarError, "calendar")
        return cls(parsed, zone)

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() < 5

    def due(self, start: datetime, limit: Working) -> datetime:
        """When a clock started at `start` with `limit` runs out (an aware datetime in UTC, as `start` is given)."""
        local = start.astimezone(self.zone)
        if limit.unit == "days":
            return self._after_days(local, int(limit.amount)).astimezone(start.tzinfo)
        return self._after_hours(local, timedelta(hours=limit.amount)).astimezone(start.tzinfo)

    def seconds_between(self, starts: pd.Series, ends: pd.Series) -> np.ndarray:
        """The working time between each start and its end, in seconds (NaN where either is missing): how long a
        stage took as a time limit in working time counts it, for many incidents at once."""
        both = self._working_seconds(pd.concat([pd.Series(starts), pd.Series(ends)], ignore_index=True))
        return both[len(starts) :] - both[: len(starts)]

    def _working_seconds(self, moments: pd.Series) -> np.ndarray:
        """Working seconds from the first day among `moments` to each of them (a common origin: only differences
        mean anything), counted as a table of days (the working seconds before each day) plus the part of the
        moment's own day."""
        local = pd.to_datetime(moments, utc=True).dt.tz_convert(self.zone).dt.tz_localize(None)
        known = local.notna().to_numpy()
        out = np.full(len(local), np.nan)
        if not known.any():
            return out
        local = local[known]
        days = local.dt.floor("D")
        first = days.min()
        index = ((days - first).dt.days).to_numpy()
        spans = [(t.hour * 3600 + t.minute * 60 + t.second, e.hour * 3600 + e.minute * 60 + e.second)
                 for t, e in self.hours]  # fmt: skip
        day_length = sum(e - b for b, e in spans)
        working = np.array([self.is_working_day((first + timedelta(days=n)).date())
                            for n in range(int(index.max()) + 1)])  # fmt: skip
        before = np.concatenate(([0.0], np.cumsum(np.where(working, day_length, 0))))[:-1]
        of_day = (local - days).dt.total_seconds().to_numpy()
        within = sum(np.clip(of_day - b, 0, e - b) for b, e in spans)
        out[known] = before[index] + np.where(working[index], within, 0.0)
        return out

    def _after_hours(self, local: datetime, left: timedelta) -> datetime:
        day = local.date()
        for _ in range(LONGEST_SEARCH_DAYS):
            if self.is_working_day(day):
                for begin, end in self.hours:
                    opens = datetime.combine(day, begin, self.zone)
                    closes = datetime.combine(day, end, self.zone)
                    frm = max(opens, local)
                    if frm >= closes:
                        continue
                    if frm + left <= closes:
                        return frm + left
                    left -= closes - frm
            day += timedelta(days=1)
        raise ValueError(f"no working time in the {LONGEST_SEARCH_DAYS} days after {local:%Y-%m-%d}")

    def _after_days(self, local: datetime, days: int) -> datetime:
        day, counted = local.date(), 0
        for _ in range(LONGEST_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted >= days:
                    return datetime.combine(day, self.hours[-1][1], self.zone)
        raise ValueError(f"no working day in the {LONGEST_SEARCH_DAYS} days after {local:%Y-%m-%d}")
