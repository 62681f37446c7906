"""The leader's rule engine follows what every node stored (PostgreSQL, several nodes).

Each node's writer adds an entry to the store's journal in each batch's transaction (store/journal.py). While this
node leads, the reader takes the entries after the journal's position, a few at a time, reads back what they name
(the entities described, those with new readings, the events) and hands it to the rule engine, which moves the
position in the transaction of what it writes: each entry is evaluated once, whichever node stored it and whichever
node led at the time, and one stored while no node led (a failover) waits for the next leader.

It wakes on the store's news (a NOTIFY from the writing node) and every `every_s` in any case.
"""

from __future__ import annotations

import logging
import threading
from functools import partial

from alerts.engine import RuleEngine
from store import journal
from store.database import Store
from store.journal import NotLeading, Position

log = logging.getLogger(__name__)


class JournalReader:
    def __init__(self, store: Store, engine: RuleEngine, every_s: float = 1.0, entries_at_once: int = 50):
        self.store, self.engine = store, engine
        self.every_s = every_s
        self.entries_at_once = entries_at_once
        self.read = 0  # entries evaluated by this node
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Follow the journal (this node leads now)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cityops-journal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following (this node no longer leads, or stops)."""
        self.store.cancel_wait(self._stop)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def catch_up(self) -> int:
        """Evaluate the entries readable now; how many. NotLeading when another node moved the position."""
        done = 0
        while not self._stop.is_set():
            cur = self.store.cursor()
            at = journal.position(cur)
            entries = journal.entries_after(cur, at, self.entries_at_once)
            if not entries:
                return done
            touched = {i for e in entries for i in e.touched} | {i for e in entries for i in e.described}
            described = journal.entities(cur, sorted({i for e in entries for i in e.described}))
            events = journal.events(cur, [i for e in entries for i in e.events])
            last: Position = entries[-1].position
            # The engine's transaction is on this thread's cursor, `cur`: the position moves in it.
            self.engine.on_stored(touched, described, events, within=partial(journal.advance, cur, at, last))
            done += len(entries)
            self.read += len(entries)
        return done

    def _run(self) -> None:
        seen = self.store.data_version
        while not self._stop.is_set():
            try:
                self.catch_up()
            except NotLeading as exc:
                log.warning("%s; this node's rule engine waits", exc)
            except Exception:
                log.exception("following the journal failed; trying again")
            seen = self.store.wait_for_version(seen, self.every_s, cancel=self._stop)
