"""Backup and restore: a consistent copy of the store, the accounts and the photos from the field, taken while
CityOps runs.

DuckDB lets one process open the file, so the running server makes the copy (the CLI asks it through the control
socket, `cityops/control.py`); with no server running, the CLI opens the store and makes it itself. The store is
copied in one transaction (`COPY FROM DATABASE`), a snapshot of one moment while the writer goes on committing;
the counts in the manifest are read in that same transaction. The accounts (SQLite) are copied with SQLite's own
online backup. The photos (store/attachments.py) are files written once, named by the SHA-256 of their bytes: they
are copied as they are, and a photo whose bytes do not match its name is a damaged backup. A backup is a folder: it
appears whole or not at all (written aside, then renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from store.attachments import beside
from store.database import Store
from store.duckdb_engine import DuckDBStore
from store.schema import MIGRATIONS
from store.transaction import transaction

STORE_FILE = "cityops.duckdb"
ACCOUNTS_FILE = "accounts.sqlite"
MANIFEST = "manifest.json"
PHOTOS = "attachments"


class BackupError(Exception):
    """A backup or restore that cannot be done, said for the operator who asked."""


def make(store: Store, accounts_path: Path, destination: Path) -> dict:
    """Copy the store and the accounts into the new folder `destination`; returns the manifest."""
    destination = Path(destination)
    if destination.exists():
        raise BackupError(f"{destination} exists already; a backup goes into a new folder")
    partial = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, mode=0o700)
    try:
        counts = _copy_store(store, partial / STORE_FILE)
        _copy_accounts(accounts_path, partial / ACCOUNTS_FILE)
        photos = _copy_photos(beside(store.path), partial / PHOTOS)
        manifest = {
            "created_at": datetime.now(UTC).isoformat(),
            "schema_version": MIGRATIONS[-1][0],
            "counts": counts,
            "photos": photos,
            "files": {name: _sha256(partial / name) for name in (STORE_FILE, ACCOUNTS_FILE)},
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        partial.rename(destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _copy_store(store: Store, target: Path) -> dict[str, int]:
    cur = store.cursor()
    (source,) = cur.execute("SELECT current_database()").fetchone()
    alias = f"backup_{secrets.token_hex(4)}"
    cur.execute(f"ATTACH '{_sql_string(str(target))}' AS {alias}")
    try:
        with transaction(cur):
            cur.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
            tables = [r[0] for r in cur.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = $db ORDER BY 1", {"db": source}
            ).fetchall()]  # fmt: skip
            counts = {t: cur.execute(f'SELECT count(*) FROM "{source}"."{t}"').fetchone()[0] for t in tables}
    finally:
        cur.execute(f"DETACH {alias}")
    return counts


def _copy_accounts(source: Path, target: Path) -> None:
    if not Path(source).exists():
        raise BackupError(f"the accounts database {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.chmod(target, 0o600)  # password hashes and session digests


def _copy_photos(source: Path, target: Path) -> int:
    """The photos kept so far (a file still being written, `.part`, is not one yet); how many."""
    copied = 0
    for path in sorted(source.rglob("*")) if source.exists() else []:
        if path.is_file() and not path.name.endswith(".part"):
            (target / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.parent.name / path.name)
            copied += 1
    return copied


def restore(backup: Path, store_path: Path, accounts_path: Path, force: bool = False) -> dict:
    """Put a backup in place of the configured store and accounts; returns the manifest, its counts verified."""
    backup = Path(backup)
    manifest = read_manifest(backup)
    targets = {STORE_FILE: Path(store_path), ACCOUNTS_FILE: Path(accounts_path)}
    companions = [Path(f"{store_path}.wal"), Path(f"{accounts_path}-wal"), Path(f"{accounts_path}-shm")]
    existing = [p for p in (*targets.values(), *companions) if p.exists()]
    if existing and not force:
        listed = ", ".join(str(p) for p in existing)
        raise BackupError(f"{listed} exist(s): restore into a fresh install, or pass --force to set them aside")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in existing:
        path.rename(path.with_name(f"{path.name}.before-restore-{stamp}"))
    for name, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restoring")
        shutil.copyfile(backup / name, partial)
        os.chmod(partial, 0o600)
        partial.rename(target)
    if (backup / PHOTOS).exists():
        shutil.copytree(backup / PHOTOS, beside(store_path), dirs_exist_ok=True)  # named by digest: no clash
    store = DuckDBStore(store_path)  # opens it as the server will, and migrates a backup of an older schema forward
    try:
        cur = store.cursor()
        found = {t: cur.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in manifest["counts"]}
    finally:
        store.close()
    if found != manifest["counts"]:
        raise BackupError(f"the restored store does not hold what the backup says: {found} != {manifest['counts']}")
    return manifest


def read_manifest(backup: Path) -> dict:
    """The backup's manifest, after checking every file it lists is there and unchanged."""
    try:
        manifest = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{backup} is not a CityOps backup: it has no {MANIFEST}") from None
    except json.JSONDecodeError as exc:
        raise BackupError(f"{backup / MANIFEST} is damaged: {exc}") from None
    for name, digest in manifest["files"].items():
        path = backup / name
        if not path.exists():
            raise BackupError(f"{path} is missing from the backup")
        if _sha256(path) != digest:
            raise BackupError(f"{path} is damaged: its checksum differs from the manifest's")
    photos = [p for p in (backup / PHOTOS).rglob("*") if p.is_file()] if (backup / PHOTOS).exists() else []
    if len(photos) != manifest.get("photos", 0):
        raise BackupError(f"{backup / PHOTOS} holds {len(photos)} files; the manifest says {manifest.get('photos')}")
    for path in photos:
        if ".thumb." not in path.name and _sha256(path) != path.name.split(".")[0]:
            raise BackupError(f"{path} is damaged: its bytes do not match its name")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sql_string(text: str) -> str:
    return text.replace("'", "''")
