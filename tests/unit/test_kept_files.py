"""Files written once and read by name (photos, directives' files, reports), on both engines; with several nodes on
PostgreSQL, a file one node kept is served by another, which keeps a copy in its own folder."""

from __future__ import annotations

import pytest

from store.attachments import AttachmentFiles
from store.kept_files import KeptFiles
from tests.unit.test_attachments import image_bytes


def test_a_file_is_kept_whole_once_and_a_name_never_kept_is_none(open_store, tmp_path):
    files = KeptFiles(tmp_path / "a", open_store())
    files.keep("r/report.html", b"<p>first</p>")
    files.keep("r/report.html", b"<p>second</p>")  # a name keeps its first bytes
    assert files.path("r/report.html").read_bytes() == b"<p>first</p>"
    assert files.path("r/other.html") is None
    assert sorted(p.name for p in (tmp_path / "a").rglob("*")) == ["r", "report.html"]  # no partial file left


@pytest.mark.parametrize("open_store", ["postgresql"], indirect=True)  # one DuckDB process is the only node
def test_a_photo_kept_on_node_a_is_served_by_node_b(open_store, tmp_path):
    on_a = AttachmentFiles(tmp_path / "a", 1024 * 1024, open_store("city", node="a"))
    on_b = AttachmentFiles(tmp_path / "b", 1024 * 1024, open_store("city", node="b"))
    photo = image_bytes("JPEG")
    stored = on_a.save(photo)
    assert not (tmp_path / "b").exists()
    assert on_b.path(stored.id, "image/jpeg").read_bytes() == photo
    assert on_b.thumbnail(stored.id).read_bytes() == on_a.thumbnail(stored.id).read_bytes()
    # Now node b has its copy: the database is not asked again.
    assert on_b.path(stored.id, "image/jpeg").parent.parent == tmp_path / "b"
