"""Backup folders: made whole or not at all, checked before a restore, and never restored over an install unasked."""

import pytest

from store import backup
from store.accounts import Accounts
from store.duckdb_engine import DuckDBStore


@pytest.fixture
def made(tmp_path):
    store = DuckDBStore(tmp_path / "site" / "cityops.duckdb")
    store.cursor().execute("INSERT INTO feed_log (feed_id, ts, state, reason) VALUES ('f', now(), 'down', 'test')")
    Accounts(tmp_path / "site" / "accounts.sqlite").close()
    manifest = backup.make(store, tmp_path / "site" / "accounts.sqlite", tmp_path / "b")
    store.close()
    return tmp_path / "b", manifest


def test_a_backup_lists_its_counts_and_files_and_restores(made, tmp_path):
    folder, manifest = made
    assert manifest["counts"]["feed_log"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["accounts.sqlite", "cityops.duckdb", "manifest.json"]
    assert not list(tmp_path.glob(".b.partial"))
    assert (folder / "accounts.sqlite").stat().st_mode & 0o777 == 0o600
    restored = backup.restore(folder, tmp_path / "new" / "c.duckdb", tmp_path / "new" / "a.sqlite")
    assert restored["counts"] == manifest["counts"]


def test_a_damaged_or_foreign_folder_is_refused_with_its_reason(made, tmp_path):
    folder, _ = made
    with (folder / "cityops.duckdb").open("r+b") as f:
        f.seek(5000)
        f.write(b"rot")
    with pytest.raises(backup.BackupError, match="cityops.duckdb is damaged"):
        backup.restore(folder, tmp_path / "new" / "c.duckdb", tmp_path / "new" / "a.sqlite")
    (tmp_path / "other").mkdir()
    with pytest.raises(backup.BackupError, match="not a CityOps backup"):
        backup.restore(tmp_path / "other", tmp_path / "new" / "c.duckdb", tmp_path / "new" / "a.sqlite")
    assert not (tmp_path / "new" / "c.duckdb").exists()


def test_restore_sets_an_existing_install_aside_only_when_forced(made, tmp_path):
    folder, _ = made
    site = tmp_path / "site"
    with pytest.raises(backup.BackupError, match="fresh install"):
        backup.restore(folder, site / "cityops.duckdb", site / "accounts.sqlite")
    backup.restore(folder, site / "cityops.duckdb", site / "accounts.sqlite", force=True)
    assert len(list(site.glob("cityops.duckdb.before-restore-*"))) == 1


def test_the_photos_from_the_field_are_backed_up_checked_and_restored(tmp_path):
    import io

    from PIL import Image

    from store.attachments import AttachmentFiles, beside

    site = tmp_path / "site"
    store = DuckDBStore(site / "cityops.duckdb")
    Accounts(site / "accounts.sqlite").close()
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 80, 120)).save(out, "JPEG")
    photo = AttachmentFiles(beside(store.path), 1 << 20).save(out.getvalue())
    manifest = backup.make(store, site / "accounts.sqlite", tmp_path / "b")
    store.close()
    assert manifest["photos"] == 2  # the photo and its thumbnail
    backup.restore(tmp_path / "b", tmp_path / "new" / "c.duckdb", tmp_path / "new" / "a.sqlite")
    restored = AttachmentFiles(beside(tmp_path / "new" / "c.duckdb"), 1 << 20)
    assert restored.path(photo.id, "image/jpeg").read_bytes() == out.getvalue()
    with (tmp_path / "b" / "attachments" / photo.id[:2] / f"{photo.id}.jpg").open("r+b") as kept:
        kept.seek(100)
        kept.write(b"rot")
    with pytest.raises(backup.BackupError, match="its bytes do not match its name"):
        backup.restore(tmp_path / "b", tmp_path / "other" / "c.duckdb", tmp_path / "other" / "a.sqlite")
