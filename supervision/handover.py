"""Shift handover (交接班): at the end of a shift the outgoing duty officer hands over a report of what the shift saw —
incidents opened, ended, still open, and of those the overdue — with their notes; the incoming officer of the same
desk signs it over. Both steps are in the audit log.

A desk is the officer's centre of the organisation (the city's desk without one); a shift runs from the end of the
desk's last handover (or SHIFT before now, at the first) to the moment it is handed over. The report is kept as it
stood then: what the incoming officer signed for does not change as the incidents move on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from access.policy import Principal, place, region_scope
from store import handovers as handover_store
from store import supervision as sql
from store.audit import Trail, attempted
from store.database import Store
from store.records import ENDED_STATES
from store.transaction import retrying, transaction

SHIFT = timedelta(hours=12)  # the first shift of a desk, before any handover says where it began
SECTIONS = ("opened", "ended", "open", "overdue")
SHOWN = 100  # items kept of each section; the counts are whole, the history has the rest
NOTE_CHARS = 4000


class HandoverError(ValueError):
    """A handover step refused; `code` says which refusal (for the page, in the reader's language): pending,
    missing, own, taken."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Shift:
    desk: str
    start: datetime
    end: datetime
    report: dict  # SECTIONS → list of incidents (id, title_zh, title_en, state, severity, opened_at, overdue)


def desk_of(principal: Principal) -> str:
    """The principal's desk: their centre; without one, the regions they are given (the city's desk for none)."""
    if principal.unit:
        return principal.unit
    return "regions:" + ",".join(sorted(principal.regions)) if principal.regions else "city"


def current_shift(store: Store, principal: Principal, now: datetime) -> Shift:
    """The principal's desk's shift from the end of its last handover until now, with its report."""
    desk = desk_of(principal)
    cur = store.cursor()
    last = handover_store.of_desk(cur, desk, limit=1)
    start = last[0]["shift_end"] if last else now - SHIFT
    return Shift(desk, start, now, report(store, principal, start, now))


def report(store: Store, principal: Principal, start: datetime, end: datetime) -> dict:
    """The shift's incidents in the principal's scope, by section: the first SHOWN of each, and how many in all."""
    rows = sql.shift_items(store.cursor(), start, end, region_scope(principal))
    opened = rows["opened_at"] >= start
    closed = rows["closed_at"].notna() & (rows["closed_at"] < end)
    still_open = ~closed
    late = rows["overdue_stages"].map(lambda stages: stages is not None and len(stages) > 0)
    sections = {"opened": rows[opened], "ended": rows[closed], "open": rows[still_open],
                "overdue": rows[still_open & late]}  # fmt: skip
    return {**{name: [_item(row) for row in part.head(SHOWN).to_dict("records")] for name, part in sections.items()},
            "counts": {name: len(part) for name, part in sections.items()}}  # fmt: skip


def seen_by(principal: Principal, report: dict) -> dict:
    """A kept report with only the items the principal sees (a desk's officers share a scope; this holds if not)."""
    return {**report, **{name: [item for item in report.get(name, []) if principal.sees(tuple(item["place"]))]
                         for name in SECTIONS}}  # fmt: skip


def hand_over(store: Store, principal: Principal, notes: str, now: datetime, audit: Trail | None) -> int:
    """Hand the desk's shift over: its report as it stands and the notes; the handover's id. Refused while an
    earlier handover of the desk waits to be taken over."""

    def work() -> int:
        shift = current_shift(store, principal, now)
        cur = store.cursor()
        with transaction(cur):
            waiting = [h for h in handover_store.of_desk(cur, shift.desk, limit=1) if h["taken_by"] is None]
            if waiting:
                raise HandoverError(f"handover {waiting[0]['id']} of this desk waits to be taken over", "pending")
            return handover_store.insert(cur, shift.desk, shift.start, shift.end, principal.actor,
                                         notes.strip()[:NOTE_CHARS], shift.report)  # fmt: skip

    return attempted(audit, principal.actor, principal.role, "handover give", desk_of(principal),
                     lambda: retrying(work), HandoverError,
                     done=lambda handover_id: (f"handover {handover_id}", notes.strip()[:200]))  # fmt: skip


def take_over(store: Store, principal: Principal, handover_id: int, note: str, now: datetime,
              audit: Trail | None) -> dict:  # fmt: skip
    """The incoming officer signs the handover over; refused for another desk's, one's own, or one already taken."""

    def work() -> dict:
        cur = store.cursor()
        with transaction(cur):
            handover = handover_store.get(cur, handover_id)
            if handover is None or handover["desk"] != desk_of(principal):
                raise HandoverError(f"there is no handover {handover_id} at this desk", "missing")
            if handover["handed_by"] == principal.actor:
                raise HandoverError("the officer who handed the shift over cannot take it over", "own")
            if not handover_store.take(cur, handover_id, principal.actor, note.strip()[:NOTE_CHARS], now):
                raise HandoverError(f"handover {handover_id} was taken over by {handover['taken_by']}", "taken")
        return handover_store.get(cur, handover_id)

    return attempted(audit, principal.actor, principal.role, "handover take", f"handover {handover_id}",
                     lambda: retrying(work), HandoverError)  # fmt: skip


def recent(store: Store, principal: Principal, limit: int = 10) -> list[dict]:
    """The desk's handovers, newest first."""
    return handover_store.of_desk(store.cursor(), desk_of(principal), limit)


def _item(row: dict) -> dict:
    stages = row["overdue_stages"]
    return {
        "id": int(row["id"]), "title_zh": row["title_zh"], "title_en": row["title_en"], "state": row["state"],
        "severity": row["severity"], "opened_at": pd.Timestamp(row["opened_at"]).isoformat(),
        "ended": row["state"] in ENDED_STATES, "overdue": list(stages) if stages is not None else [],
        "place": list(place(row)),
    }  # fmt: skip
