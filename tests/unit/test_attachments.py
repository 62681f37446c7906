"""Photos from the field (issue 23): checked by what they are, kept once by their digest with a thumbnail, and
refused with a reason that says why, never a stack trace."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from store.attachments import AttachmentFiles, PhotoError


def image_bytes(kind: str, size=(1600, 1200), colour=(120, 90, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


@pytest.fixture
def files(tmp_path):
    return AttachmentFiles(tmp_path / "attachments", 1024 * 1024)


@pytest.mark.parametrize(("kind", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                                  ("WEBP", "image/webp")])  # fmt: skip
def test_a_photo_is_kept_once_by_its_digest_with_a_thumbnail(files, kind, media_type):
    data = image_bytes(kind)
    stored = files.save(data)
    assert (stored.id, stored.media_type, stored.bytes, stored.width, stored.height) == (
        hashlib.sha256(data).hexdigest(), media_type, len(data), 1600, 1200)  # fmt: skip
    assert files.path(stored.id, media_type).read_bytes() == data
    with Image.open(files.thumbnail(stored.id)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 320
    assert files.save(data) == stored  # the same bytes again: the same file
    assert len(list(files.files.folder.rglob("*"))) == 3  # its folder, the photo and its thumbnail


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"%PDF-1.7 not a photo", "type"),
        (image_bytes("GIF"), "type"),  # an image, but not one a phone camera sends
        (image_bytes("JPEG")[:5000], "type"),  # cut off on the way
        (image_bytes("PNG", size=(5000, 4000), colour=(0, 0, 0)), "pixels"),  # 20 MP: a bomb's way in
        (b"\xff\xd8" + b"\x00" * (2 * 1024 * 1024), "size"),
    ],
)
def test_what_is_not_a_photo_is_refused_with_why(files, data, code):
    with pytest.raises(PhotoError) as refused:
        files.save(data)
    assert refused.value.code == code
    assert not files.files.folder.exists() or not list(files.files.folder.rglob("*.*"))  # nothing kept


def pdf(pages: int = 1) -> bytes:
    """A small PDF as publishers write them: header, objects, xref, trailer, %%EOF."""
    body = b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    return body + b"xref\n0 3\ntrailer<</Size 3/Root 1 0 R>>\nstartxref\n0\n%%EOF\n" * pages


def test_a_directive_takes_a_pdf_by_what_it_is_and_a_photo_as_a_photo(files):
    stored = files.save_document(pdf())
    assert stored.media_type == "application/pdf" and files.path(stored.id, "application/pdf").read_bytes() == pdf()
    assert files.save_document(image_bytes("PNG")).media_type == "image/png"
    with pytest.raises(PhotoError, match="cut off") as cut:
        files.save_document(pdf()[:-12])
    assert cut.value.code == "type"
    with pytest.raises(PhotoError) as renamed:  # a .pdf that is not one
        files.save_document(b"MZ\x90\x00 this is an executable")
    assert renamed.value.code == "type"
