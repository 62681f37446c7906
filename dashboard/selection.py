"""What a supervision page covers, read from its query (`?from=2026-09-01&to=2026-09-30&district=…`) or its
controls, as the store's Selection; and the query again, for the links a figure drills down by. The asker's scope is
added here, so no page or export can widen it by its query."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from access.policy import Principal, region_scope
from store.records import ALERT_STATES, SEVERITIES
from store.supervision import Selection
from supervision.periods import Period, days

FILTERS = ("domain", "rule", "severity", "region", "unit", "state", "overdue", "q")
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Query:
    """The filters as the page holds them: days of the city's calendar and plain values."""

    first: date
    last: date
    values: dict[str, str]

    def period(self, zone: str) -> Period:
        return days(self.first, self.last, zone)

    def selection(self, principal: Principal, zone: str) -> Selection:
        period = self.period(zone)
        v = self.values
        overdue = {"yes": True, "no": False}.get(v.get("overdue", ""))
        return Selection(start=period.start, end=period.end, domain=v.get("domain") or None,
                         rule=v.get("rule") or None, severity=v.get("severity") or None,
                         region=v.get("region") or None, unit=v.get("unit") or None, state=v.get("state") or None,
                         overdue=overdue, text=(v.get("q") or "")[:200] or None,
                         scope=region_scope(principal))  # fmt: skip

    def href(self, path: str, **changes: str | None) -> str:
        """This query at `path`, with some filters changed (None removes one)."""
        values = {**self.values, **changes}
        args = {"from": self.first.isoformat(), "to": self.last.isoformat(),
                **{k: v for k, v in values.items() if v}}  # fmt: skip
        return f"{path}?{urlencode(args)}"

    def with_days(self, first: date, last: date) -> Query:
        return replace(self, first=first, last=last)


def read(args: dict, zone: str, now: datetime | None = None) -> Query:
    """The query of a page's URL or controls; what cannot be read falls back (the last DEFAULT_DAYS days, no
    filter) rather than failing: a link typed by hand shows something sensible."""
    today = (now or datetime.now(ZoneInfo(zone))).astimezone(ZoneInfo(zone)).date()
    last = _day(args.get("to")) or today
    first = _day(args.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    values = {k: str(args[k]) for k in FILTERS if args.get(k) not in (None, "")}
    if values.get("severity") not in (None, *SEVERITIES):
        values.pop("severity")
    if values.get("state") not in (None, "open", *ALERT_STATES):
        values.pop("state")
    if values.get("overdue") not in (None, "yes", "no"):
        values.pop("overdue")
    return Query(first, last, values)


def _day(value) -> date | None:
    """A day of the years a city's history can hold (a typed year 1 or 9999 is no such day)."""
    try:
        day = date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
    return day if day is not None and 2000 <= day.year <= 2099 else None
