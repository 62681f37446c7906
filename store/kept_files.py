"""Files written once and read by name: the photos from the field, the files sent with directives, the reports.

They live in a folder beside the store, each written whole or not at all, and are served from there. With several
nodes (the PostgreSQL engine) a browser may ask any node for a file another node kept: the store then also keeps the
bytes (`Store.share_file`), and a node that lacks a file fetches it into its folder, which is its cache of them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from store.database import Store


class KeptFiles:
    def __init__(self, folder: str | Path, store: Store | None = None):
        """`folder`: this node's; `store`: the store the nodes share (none: the folder is the only copy)."""
        self.folder = Path(folder)
        self.store = store

    def keep(self, name: str, data: bytes) -> None:
        """Keep `data` as `name` (a path relative to the folder); a name kept before keeps its first bytes."""
        path = self.folder / name
        if path.exists():  # this node has it, so the store has it too (it is shared first)
            return
        if self.store is not None:
            self.store.share_file(name, data)  # first: a file this node has is one every node can have
        _write(path, data)

    def path(self, name: str) -> Path | None:
        """Where the file is on this node's disk, fetched from the store if another node kept it; None if no node
        kept it."""
        path = self.folder / name
        if path.is_file():
            return path
        data = self.store.shared_file(name) if self.store is not None else None
        if data is None:
            return None
        _write(path, data)
        return path


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a file half written when the process stops is never taken for the file. The partial
    file is this thread's own: two requests may fetch the same file at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    partial.write_bytes(data)
    partial.replace(path)
