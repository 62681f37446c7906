"""Each incident's figures, kept current from its timeline: when it was acknowledged (left "new" for the work),
dispatched and resolved, how long each took from its opening (on the clock and in the city's working time), which
stages ran past their time limit, and how often it was returned, reopened and escalated.

A refresh rewrites the rows of the incidents with timeline entries written since the refresh before, or changed
since a margin before it (an entry may commit after a later one was read, and some changes, a severity raised or
a member counted, write no entry), so the figures of a year are an aggregate over one row per incident however long
their timelines. `rebuild` computes every row from scratch: what
an incremental refresh must always equal.

Resolved means resolved by people: an incident the rules closed by themselves once all its alerts cleared counts in
the incidents and the on-time rates it reached, not in MTTR.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pandas as pd

from alerts.working_time import WorkingCalendar
from store import supervision as sql
from store.database import Store
from store.retention import COMMIT_MARGIN
from store.transaction import retrying, transaction

PROGRESS = "incident_figures"
STAGES = (("ack", "acknowledged_at"), ("dispatch", "dispatched_at"), ("resolve", "resolved_at"))


class Facts:
    def __init__(self, store: Store, calendar: WorkingCalendar | None = None):
        """`calendar`: the city's working days and hours, for the figures in working time (none without it)."""
        self.store = store
        self.calendar = calendar
        self.calendar_id = fingerprint(calendar)  # figures kept under another calendar are computed again
        self._lock = threading.Lock()  # one refresh at a time: the scheduler's and a page's may meet

    def refresh(self, now: datetime | None = None) -> int:
        """Bring the figures up to the timeline; how many incidents' rows were rewritten."""
        with self._lock:
            return retrying(lambda: self._refresh(now or datetime.now(UTC)))

    def rebuild(self, now: datetime | None = None) -> int:
        """Every incident's figures computed again from its whole timeline."""
        with self._lock:
            return retrying(lambda: self._refresh(now or datetime.now(UTC), whole=True))

    def _refresh(self, now: datetime, whole: bool = False) -> int:
        cur = self.store.cursor()
        mark = sql.progress(cur, PROGRESS)
        top = sql.last_log_id(cur)
        whole = whole or mark is None or mark[2] != self.calendar_id  # asked, the first refresh, another calendar
        rows = sql.incident_facts(cur) if whole else sql.incident_facts(cur, mark[0], mark[1] - COMMIT_MARGIN)
        rows = with_durations(rows, self.calendar)
        with transaction(cur):
            if whole:
                sql.clear_facts(cur)
            sql.replace_facts(cur, rows)
            sql.set_progress(cur, PROGRESS, top, now, self.calendar_id)
        return len(rows)


def fingerprint(calendar: WorkingCalendar | None) -> str:
    """What a calendar counts as working time, in a few characters ("clock" without one)."""
    if calendar is None:
        return "clock"
    days = (sorted(calendar.holidays), sorted(calendar.workdays), calendar.hours, str(calendar.zone))
    return hashlib.sha256(repr(days).encode()).hexdigest()[:16]


def with_durations(rows: pd.DataFrame, calendar: WorkingCalendar | None) -> pd.DataFrame:
    """The rows with each stage's time from the opening, in seconds: on the clock (ack_s …) and in working time
    (ack_ws …; missing without a calendar)."""
    rows = rows.copy()
    opened = pd.to_datetime(rows["opened_at"], utc=True)
    for stage, reached in STAGES:
        at = pd.to_datetime(rows[reached], utc=True)
        rows[f"{stage}_s"] = (at - opened).dt.total_seconds()
        rows[f"{stage}_ws"] = calendar.seconds_between(opened, at) if calendar is not None and len(rows) else None
    return rows
