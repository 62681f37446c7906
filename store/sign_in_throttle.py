"""Slowing password guessing down without letting anyone lock a user out (OWASP's "device cookies").

Every sign-in attempt counts against keys: the address it came from and the name it tried, or, when the browser
holds a device token that this name signed in with before, that device instead. After `Slowdown.name_after`
failures of a key (`address_after` for an address: many people may share one) the key must wait 1, 2, 4 … s, at most
`longest_s`, before its next try; a try during the wait is refused without looking at the password, so guessing
gains nothing from speed or from many threads. Someone guessing at `admin` from anywhere slows `admin` down on new
browsers only: the browsers admin signed in with before carry their own key and sign in as ever. Nothing here
depends on whether the name exists, so the answers tell nobody which names do.

The counts live in the accounts file (SQLite), so `cityops users` and every server thread see the same ones.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS sign_in_failures (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sign_in_failures_last ON sign_in_failures (last_at);
CREATE TABLE IF NOT EXISTS devices (token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created_at REAL NOT NULL);
"""
# A key that has not failed for this long starts afresh.
FORGET_S = 86_400.0


@dataclass(frozen=True)
class Slowdown:
    name_after: int = 5  # failures of one name (or one device) before the waits begin
    address_after: int = 20  # failures from one address, whatever the names
    longest_s: float = 900.0


DEFAULT_SLOWDOWN = Slowdown()


@dataclass(frozen=True)
class Keys:
    """What one attempt counts against. `device` replaces `name` when the browser's device token belongs to it."""

    name: str
    address: str

    @classmethod
    def of(cls, name: str, address: str, device_hash: str | None) -> Keys:
        who = f"device:{device_hash}" if device_hash else f"name:{name.casefold()}"
        return cls(who, f"address:{address}")


def delay(failures: int, free: int, longest_s: float) -> float:
    """How long a key with `failures` must wait after its last one."""
    return 0.0 if failures < free else min(2.0 ** (failures - free), longest_s)


def admit(db: sqlite3.Connection, keys: Keys, slow: Slowdown, now: float) -> float | None:
    """Count this attempt as a failure before the password is checked, or say until when it must wait (None: go on).

    Counting first, in one write transaction, is what keeps parallel tries from all passing the same check; a
    success takes its count back (`succeeded`)."""
    with db:
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM sign_in_failures WHERE last_at < ?", [now - FORGET_S])
        until = 0.0
        counts = {}
        for key, free in ((keys.name, slow.name_after), (keys.address, slow.address_after)):
            row = db.execute("SELECT failures, last_at FROM sign_in_failures WHERE key = ?", [key]).fetchone()
            failures, last_at = (row[0], row[1]) if row else (0, now)
            counts[key] = failures
            until = max(until, last_at + delay(failures, free, slow.longest_s))
        if until > now:
            return until
        for key, failures in counts.items():
            db.execute("INSERT INTO sign_in_failures VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                       "failures = excluded.failures, last_at = excluded.last_at",
                       [key, failures + 1, now])  # fmt: skip
    return None


def succeeded(db: sqlite3.Connection, keys: Keys) -> None:
    """The right password: the name (or device) starts afresh; the address only gets this attempt back, so that
    signing in to one's own account between guesses does not wipe the guesses at others."""
    with db:
        db.execute("DELETE FROM sign_in_failures WHERE key = ?", [keys.name])
        db.execute("UPDATE sign_in_failures SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END "
                   "WHERE key = ?", [keys.address])  # fmt: skip


def forget_name(db: sqlite3.Connection, name: str) -> None:
    """An administrator's reset: the name starts afresh (its devices have counts of their own)."""
    with db:
        db.execute("DELETE FROM sign_in_failures WHERE key = ?", [f"name:{name.casefold()}"])
