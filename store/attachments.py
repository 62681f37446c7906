"""Photos sent from the field, kept as files beside the store (store/kept_files.py: they are large, written once and
read by the browser as they are; on PostgreSQL the database keeps them too, for the other nodes), each named by the
SHA-256 of its bytes, with a small JPEG thumbnail for timelines.

A photo is checked by what it is, not by what the phone calls it: Pillow must read it as a JPEG, PNG or WebP of a
sane size, else it is refused with the reason (a user's mistake gets a message, never a stack trace).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from store.database import Store
from store.kept_files import KeptFiles

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}
PDF_TAIL = 1024  # a PDF ends with %%EOF within its last kilobyte (ISO 32000-1, 7.5.5)
MAX_PIXELS = 16_000_000  # pixels decoded at once (the phone page sends 1,600 px); beyond it, a decompression bomb
THUMBNAIL = 320  # px, the longer side


def beside(store_path: str | Path) -> Path:
    """Where the photos of a store are kept: a folder beside its file (backups copy it with the store)."""
    return Path(store_path).parent / "attachments"


class PhotoError(ValueError):
    """A refused photo; `code`: type (not an image we take), size (too many bytes), pixels (too many pixels)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StoredPhoto:
    id: str  # the SHA-256 of its bytes, hex
    media_type: str
    bytes: int
    width: int
    height: int


class AttachmentFiles:
    def __init__(self, root: str | Path, max_bytes: int, store: Store | None = None):
        """`root`: this node's folder (`beside` the store); `store`: the store the nodes share, which keeps the
        files too when there are several nodes."""
        self.files = KeptFiles(root, store)
        self.max_bytes = max_bytes

    def save_document(self, data: bytes) -> StoredPhoto:
        """A PDF or a photo sent with a directive or a reply: a photo as save() takes it; a PDF by its header and
        its end-of-file marker (not by what it is called). PhotoError says why not."""
        if not data.startswith(b"%PDF-"):
            return self.save(data)
        if len(data) > self.max_bytes:
            raise PhotoError(f"a file has {self.max_bytes // 1024} KB at most; this one has {len(data) // 1024}",
                             "size")  # fmt: skip
        if b"%%EOF" not in data[-PDF_TAIL:]:
            raise PhotoError("a PDF cut off on the way (no end-of-file marker)", "type")
        digest = hashlib.sha256(data).hexdigest()
        self.files.keep(_name(digest, "application/pdf"), data)
        return StoredPhoto(digest, "application/pdf", len(data), 0, 0)

    def save(self, data: bytes) -> StoredPhoto:
        """Check a photo and keep it (once: the same bytes sent twice are one file); PhotoError says why not."""
        if len(data) > self.max_bytes:
            raise PhotoError(f"a photo has {self.max_bytes // 1024} KB at most; this one has {len(data) // 1024}",
                             "size")  # fmt: skip
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                if kind not in MEDIA_TYPES:
                    raise PhotoError(f"a photo is a JPEG, PNG or WebP image, not {kind}", "type")
                if width * height > MAX_PIXELS:
                    raise PhotoError(f"a photo has {MAX_PIXELS // 1_000_000} megapixels at most", "pixels")
                image.draft("RGB", (THUMBNAIL * 2, THUMBNAIL * 2))  # a JPEG decoded at a fraction of its size
                image.load()  # the whole image, not only its header: a truncated file is refused here
                thumb = image.convert("RGB")
                thumb.thumbnail((THUMBNAIL, THUMBNAIL))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
            if isinstance(exc, PhotoError):
                raise
            raise PhotoError("not an image that can be read (JPEG, PNG or WebP)", "type") from None
        digest = hashlib.sha256(data).hexdigest()
        media_type = MEDIA_TYPES[kind]
        out = io.BytesIO()
        thumb.save(out, "JPEG", quality=80)
        self.files.keep(_name(digest, "thumbnail"), out.getvalue())  # first: a photo that is kept has its thumbnail
        self.files.keep(_name(digest, media_type), data)
        return StoredPhoto(digest, media_type, len(data), width, height)

    def path(self, digest: str, media_type: str) -> Path | None:
        """The file on this node's disk; None if it was never kept."""
        return self.files.path(_name(digest, media_type))

    def thumbnail(self, digest: str) -> Path | None:
        return self.files.path(_name(digest, "thumbnail"))


def _name(digest: str, media_type: str) -> str:
    suffix = ".thumb.jpg" if media_type == "thumbnail" else SUFFIX[media_type]
    return f"{digest[:2]}/{digest}{suffix}"
