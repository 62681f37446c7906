"""The audit log: who did what, when, from where, and whether it was allowed. Append-only (SQLite triggers refuse
updates and deletes), in the accounts file so the command line and the server both write it."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from store.accounts import Accounts

OUTCOMES: tuple[str, ...] = ("ok", "refused", "failed")
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    id: int
    ts: float
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    detail: str
    address: str

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)


def record(accounts: Accounts, actor: str, action: str, target: str = "", outcome: str = "ok", detail: str = "",
           role: str = "", address: str = "") -> None:  # fmt: skip
    """Append one entry. `actor` is a user name, `display:<name>` or `cli:<login>`; `outcome` is ok, refused or
    failed."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    with accounts.db() as db:
        db.execute(
            "INSERT INTO audit_log (ts, actor, role, action, target, outcome, detail, address) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [time.time(), actor, role, action, target, outcome, detail, address],
        )


@dataclass(frozen=True)
class Trail:
    """The audit log as one door sees it: the file to write and the address the request came from, so that code
    below the web layer (alerts.actions) records what a person did without knowing about requests."""

    accounts: Accounts
    address: str = ""

    def record(self, actor: str, action: str, target: str = "", outcome: str = "ok", detail: str = "",
               role: str = "") -> None:  # fmt: skip
        record(self.accounts, actor, action, target, outcome, detail, role=role, address=self.address)


def attempted(audit: Trail | None, actor: str, role: str, action: str, target: str, work: Callable[[], T],
              refusal: type[Exception], done: Callable[[T], tuple[str, str]] | None = None) -> T:  # fmt: skip
    """Run one door's `work` and record the attempt: refused, with why, when it raises `refusal` (raised again);
    else done, on the target and with the detail `done` gives for its result (by default `target`, no detail).
    Every door that people's actions pass (alerts.actions, alerts.silences, alerts.by_hand) records this way."""
    try:
        result = work()
    except refusal as exc:
        if audit is not None:
            audit.record(actor, action, target, "refused", str(exc), role=role)
        raise
    if audit is not None:
        done_target, detail = done(result) if done is not None else (target, "")
        audit.record(actor, action, done_target, detail=detail, role=role)
    return result


def search(accounts: Accounts, text: str = "", outcome: str = "", since: float | None = None,
           until: float | None = None, limit: int | None = 500) -> list[Entry]:  # fmt: skip
    """Newest first. `text` matches the actor, action, target or detail (case-insensitive)."""
    where, params = ["1 = 1"], []
    if text.strip():
        where.append("(actor LIKE ? OR action LIKE ? OR target LIKE ? OR detail LIKE ?)")
        params += [f"%{text.strip()}%"] * 4
    if outcome:
        where.append("outcome = ?")
        params.append(outcome)
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts < ?")
        params.append(until)
    sql = f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [Entry(**dict(row)) for row in accounts.db().execute(sql, params)]


def _cell(value: object) -> object:
    # A spreadsheet runs a cell starting with = + - @ as a formula; user and feed text must stay text.
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time_utc", "actor", "role", "action", "target", "outcome", "detail", "address"])
    for e in entries:
        row = [e.id, e.when.isoformat(timespec="seconds"), e.actor, e.role, e.action, e.target, e.outcome, e.detail,
               e.address]  # fmt: skip
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
