"""Accounts, sign-in sessions and wall display tokens, in a small SQLite file beside the DuckDB store, or, for nodes
sharing a PostgreSQL store, in that database (store/accounts_postgres.py), so that a session holds on every node.

Why SQLite and not the DuckDB store: DuckDB lets one process open its file, and `cityops users …` must change
accounts while `cityops run` holds the store. SQLite locks per transaction, so both processes can, and a change made
from the command line (a disabled user, a revoked token) holds at the server's next request. The audit log
(store/audit.py) lives in the same file.

Passwords are hashed with scrypt (hashlib, no dependency); the parameters are stored with each hash so they can be
raised later. Session ids and display tokens are stored as SHA-256 digests: a copy of this file opens no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from store import accounts_postgres
from store import sign_in_throttle as throttle
from store.postgres_engine import MIGRATION_LOCK, PostgresStore
from store.sign_in_throttle import DEFAULT_SLOWDOWN, Slowdown

INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)
ROLES: tuple[str, ...] = ("admin", "supervisor", "duty_officer", "district_leader", "viewer", "field_worker")
MIN_PASSWORD = 10
# Longer names and passwords are no one's: refused before any lookup or hash, so that what anyone may send to the
# sign-in form costs little and lands in the audit log short.
NAME_MAX = 64
PASSWORD_MAX = 1024
DEVICE_TOKENS = 8  # device tokens one browser keeps (people who share a desk's computer), the newest first
# 32 MiB a hash: costly to guess offline, cheap enough for sign-ins on a small server.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, districts TEXT NOT NULL DEFAULT '[]', password TEXT NOT NULL,
    must_change INTEGER NOT NULL DEFAULT 0, disabled INTEGER NOT NULL DEFAULT 0, language TEXT,
    created_at REAL NOT NULL, changed_at REAL NOT NULL
);
-- The unit of the city's organisation the user works for (alerts/org.py sets it), and whether they see only the
-- tasks given to it (a department's people, a field worker) rather than regions: columns UNIT_COLUMNS adds.
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at REAL NOT NULL, seen_at REAL NOT NULL, address TEXT
);
CREATE TABLE IF NOT EXISTS displays (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL, created_at REAL NOT NULL, revoked_at REAL, seen_at REAL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts);
-- Append-only in the file itself, not only in our code.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


UNIT_COLUMNS = (("unit", "TEXT"), ("by_task", "INTEGER NOT NULL DEFAULT 0"))
# A role or districts an administrator sets by hand give an account outside the organisation its scope by region.
_BY_HAND = "by_task = CASE WHEN unit IS NULL THEN 0 ELSE by_task END"


class AccountError(ValueError):
    """A refused change to an account, phrased for the admin who asked for it; `code` says which refusal it is for
    the views, which say it in the reader's language (short, name, same, current, repeat, other)."""

    def __init__(self, message: str, code: str = "other"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class User:
    name: str
    role: str
    districts: tuple[str, ...]
    must_change: bool
    disabled: bool
    language: str | None
    unit: str | None = None
    by_task: bool = False


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: `ok`, `wrong` (name or password), `wait` (too many failures of its keys:
    not checked), `disabled`. `until` is when the wait ends."""

    outcome: str
    user: User | None = None
    until: float | None = None


@dataclass(frozen=True)
class Display:
    id: int
    name: str
    created_by: str
    created_at: float
    revoked_at: float | None
    seen_at: float | None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=2**26)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=2**26, dklen=len(expected))  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


# Compared against when the name is unknown, so a wrong name costs as long as a wrong password.
_NO_USER_HASH = hash_password(secrets.token_urlsafe(16))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def check_password(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters", "short")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"a password has at most {PASSWORD_MAX} characters", "long")
    if password.lower() == name.lower():
        raise AccountError("the password may not be the user name", "name")


class Accounts:
    def __init__(self, path: str | Path | None = None, *, postgres: PostgresStore | None = None):
        """In the SQLite file at `path`, or in the PostgreSQL database of `postgres` (several nodes)."""
        self.postgres = postgres
        self._local = threading.local()
        if postgres is not None:
            self.path = None
            with postgres.connect() as connection:  # nodes starting together make the tables once
                connection.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
                connection.execute(accounts_postgres.SCHEMA)
            return
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.db() as db:
            db.executescript(SCHEMA)
            db.executescript(throttle.SCHEMA)
            have = {row["name"] for row in db.execute("PRAGMA table_info(users)")}
            for column, kind in UNIT_COLUMNS:
                if column not in have:  # a file from before the organisation
                    db.execute(f"ALTER TABLE users ADD COLUMN {column} {kind}")
        self.path.chmod(0o600)  # password hashes and session digests: the service's own

    def db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections stay in their thread); `with` makes a transaction."""
        db = getattr(self._local, "db", None)
        if self.postgres is not None:
            if db is None or db.broken:  # made again after a failover
                db = self._local.db = accounts_postgres.AccountsConnection(self.postgres.connect())
            return db
        if db is None:
            db = sqlite3.connect(self.path, timeout=10)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    # -- users ---------------------------------------------------------------------------------------------------

    def add(self, name: str, role: str, districts: tuple[str, ...] = (), password: str | None = None,
            must_change: bool = True) -> str:  # fmt: skip
        """Create a user; returns the password (a one-time one unless given, which must be changed at sign-in)."""
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise AccountError(f"user name {name!r}: letters, digits, '-', '_' and '.' only")
        if len(name) > NAME_MAX:
            raise AccountError(f"user name: {NAME_MAX} characters at most")
        _check_role(role, districts)
        password = password if password is not None else one_time_password()
        now = time.time()
        with self.db() as db:
            try:
                db.execute(
                    "INSERT INTO users (name, role, districts, password, must_change, created_at, changed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [name, role, json.dumps(list(districts)), hash_password(password), int(must_change), now, now],
                )
            except INTEGRITY_ERRORS:
                raise AccountError(f"user {name!r} already exists") from None
        return password

    def get(self, name: str) -> User | None:
        row = self.db().execute("SELECT * FROM users WHERE name = ?", [name]).fetchone()
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(row) for row in self.db().execute("SELECT * FROM users ORDER BY name")]

    def count(self) -> int:
        return self.db().execute("SELECT count(*) FROM users").fetchone()[0]

    def set_role(self, name: str, role: str) -> None:
        user = self._existing(name)
        _check_role(role, user.districts)
        self._update(name, f"role = ?, {_BY_HAND}", role)

    def set_districts(self, name: str, districts: tuple[str, ...]) -> None:
        user = self._existing(name)
        _check_role(user.role, districts)
        self._update(name, f"districts = ?, {_BY_HAND}", json.dumps(list(districts)))

    def set_unit(self, name: str, role: str, regions: tuple[str, ...], unit: str | None, by_task: bool) -> None:
        """Where the organisation puts a user: their role, the regions they see, their unit, whether by task."""
        self._existing(name)
        _check_role(role, regions)
        self._update(name, "role = ?, districts = ?, unit = ?, by_task = ?", role, json.dumps(list(regions)), unit,
                     int(by_task))  # fmt: skip

    def set_disabled(self, name: str, disabled: bool) -> None:
        self._existing(name)
        self._update(name, "disabled = ?", int(disabled))
        if disabled:
            self.close_sessions(name)

    def set_language(self, name: str, language: str) -> None:
        with self.db() as db:
            db.execute("UPDATE users SET language = ? WHERE name = ?", [language, name])

    def reset_password(self, name: str) -> str:
        """A new one-time password (to be changed at the next sign-in); ends the user's sessions and the waits of
        failed sign-ins at the name."""
        self._existing(name)
        password = one_time_password()
        self._update(name, "password = ?, must_change = 1", hash_password(password))
        self.close_sessions(name)
        throttle.forget_name(self.db(), name)
        return password

    def change_password(self, name: str, old: str, new: str) -> None:
        row = self.db().execute("SELECT password FROM users WHERE name = ?", [name]).fetchone()
        if row is None or not password_matches(old, row["password"]):
            raise AccountError("the current password is not right", "current")
        check_password(name, new)
        if new == old:
            raise AccountError("the new password must differ from the current one", "same")
        self._update(name, "password = ?, must_change = 0", hash_password(new))

    def _existing(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise AccountError(f"no user {name!r}")
        return user

    def _update(self, name: str, assignments: str, *values) -> None:
        with self.db() as db:
            db.execute(f"UPDATE users SET {assignments}, changed_at = ? WHERE name = ?", [*values, time.time(), name])

    # -- signing in ----------------------------------------------------------------------------------------------

    def sign_in(self, name: str, password: str, address: str, devices: Sequence[str] = (),
                slow: Slowdown = DEFAULT_SLOWDOWN, now: float | None = None) -> SignIn:  # fmt: skip
        """Check a password, unless this attempt's keys must wait (store/sign_in_throttle.py). `devices` are the
        device tokens the browser holds: one this name signed in with before spares it the waits others caused."""
        now = time.time() if now is None else now
        db = self.db()
        too_long = len(name) > NAME_MAX or len(password) > PASSWORD_MAX
        keys = throttle.Keys.of(name, address, None if too_long else self._device(name, devices))
        until = throttle.admit(db, keys, slow, now)
        if until is not None:
            return SignIn("wait", until=until)
        row = None if too_long else db.execute("SELECT * FROM users WHERE name = ?", [name]).fetchone()
        if row is None:
            password_matches(password[:PASSWORD_MAX], _NO_USER_HASH)  # the same work as for a wrong password
            return SignIn("wrong")
        if not password_matches(password, row["password"]):
            return SignIn("wrong")
        throttle.succeeded(db, keys)
        if row["disabled"]:
            return SignIn("disabled")
        return SignIn("ok", user=_user(row))

    def trust_device(self, name: str, now: float | None = None) -> str:
        """A token for the browser `name` just signed in with (kept in a cookie; only its digest is stored)."""
        token = secrets.token_urlsafe(24)
        with self.db() as db:
            now = time.time() if now is None else now
            db.execute("INSERT INTO devices VALUES (?, ?, ?)", [digest(token), name, now])
        return token

    def known_device(self, name: str, tokens: Sequence[str]) -> bool:
        return self._device(name, tokens) is not None

    def _device(self, name: str, tokens: Sequence[str]) -> str | None:
        """The digest of the first of `tokens` that `name` signed in with before."""
        for token in tokens[:DEVICE_TOKENS]:
            hashed = digest(token)
            if self.db().execute("SELECT 1 FROM devices WHERE token_hash = ? AND user = ?", [hashed, name]).fetchone():
                return hashed
        return None

    # -- sessions ------------------------------------------------------------------------------------------------

    def open_session(self, name: str, address: str, now: float | None = None) -> tuple[str, str]:
        """A new session for `name`: (the cookie's token, the session's CSRF token)."""
        now = time.time() if now is None else now
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db() as db:
            db.execute("DELETE FROM sessions WHERE created_at < ?", [now - 31 * 86_400])  # long over, never closed
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", [digest(token), name, csrf, now, now, address])
        return token, csrf

    def session(self, token: str, idle_s: float, max_age_s: float, touch: bool,
                now: float | None = None) -> tuple[User, str] | None:  # fmt: skip
        """The user and CSRF token of a live session, or None when it has run out or its user is disabled.
        `touch` counts this request as the user's activity."""
        now = time.time() if now is None else now
        db = self.db()
        row = db.execute(
            "SELECT s.csrf, s.seen_at, s.created_at, u.* FROM sessions s JOIN users u ON u.name = s.user "
            "WHERE s.id_hash = ?",
            [digest(token)],
        ).fetchone()
        if row is None:
            return None
        if row["disabled"] or now - row["created_at"] > max_age_s:
            self.close_session(token)
            return None
        if now - row["seen_at"] > idle_s:
            return None  # kept until the sign-in page has said why (session_expired)
        if touch and now - row["seen_at"] > min(15, idle_s / 4):  # a write every 15 s per session at most
            with db:
                db.execute("UPDATE sessions SET seen_at = ? WHERE id_hash = ?", [now, digest(token)])
        return _user(row), row["csrf"]

    def session_expired(self, token: str, idle_s: float, now: float | None = None) -> bool:
        """Whether the token names a session that has run out by inactivity (to say so on the sign-in page)."""
        now = time.time() if now is None else now
        row = self.db().execute("SELECT seen_at FROM sessions WHERE id_hash = ?", [digest(token)]).fetchone()
        return row is not None and now - row["seen_at"] > idle_s

    def close_session(self, token: str) -> None:
        with self.db() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", [digest(token)])

    def close_sessions(self, name: str) -> None:
        with self.db() as db:
            db.execute("DELETE FROM sessions WHERE user = ?", [name])

    # -- wall display tokens -------------------------------------------------------------------------------------

    def add_display(self, name: str, created_by: str, token: str | None = None) -> str:
        """A read-only token for one wall; returns the token (shown once: only its digest is kept)."""
        token = token or secrets.token_urlsafe(24)
        with self.db() as db:
            db.execute("INSERT INTO displays (name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?)",
                       [name, digest(token), created_by, time.time()])  # fmt: skip
        return token

    def display(self, token: str, now: float | None = None) -> Display | None:
        """The display a token opens, or None when it is unknown or revoked. Marks it seen (once a minute)."""
        now = time.time() if now is None else now
        db = self.db()
        row = db.execute("SELECT * FROM displays WHERE token_hash = ? AND revoked_at IS NULL",
                         [digest(token)]).fetchone()  # fmt: skip
        if row is None:
            return None
        if not row["seen_at"] or now - row["seen_at"] > 60:
            with db:
                db.execute("UPDATE displays SET seen_at = ? WHERE id = ?", [now, row["id"]])
        return _display(row)

    def displays(self) -> list[Display]:
        return [_display(row) for row in self.db().execute("SELECT * FROM displays ORDER BY id")]

    def revoke_display(self, display_id: int) -> Display:
        with self.db() as db:
            changed = db.execute("UPDATE displays SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                 [time.time(), display_id]).rowcount  # fmt: skip
        row = self.db().execute("SELECT * FROM displays WHERE id = ?", [display_id]).fetchone()
        if row is None:
            raise AccountError(f"no display {display_id}")
        if not changed:
            raise AccountError(f"display {display_id} ({row['name']}) was already revoked")
        return _display(row)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _check_role(role: str, districts: tuple[str, ...]) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "district_leader" and not districts:
        raise AccountError("a district_leader needs at least one district (--districts)")


def _user(row: sqlite3.Row) -> User:
    return User(
        name=row["name"],
        role=row["role"],
        districts=tuple(json.loads(row["districts"])),
        must_change=bool(row["must_change"]),
        disabled=bool(row["disabled"]),
        language=row["language"],
        unit=row["unit"],
        by_task=bool(row["by_task"]),
    )


def _display(row: sqlite3.Row) -> Display:
    return Display(row["id"], row["name"], row["created_by"], row["created_at"], row["revoked_at"], row["seen_at"])
