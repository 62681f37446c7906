"""The wall's snapshots computed in the background (dashboard/snapshot.py): stopping before the store closes."""

import threading
import time

import pytest

from dashboard.snapshot import AGE_LIMIT_S, Snapshots
from store.database import Store


def refreshers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cityops-snapshots"]


@pytest.mark.parametrize("watched", [False, True], ids=["nobody watching", "a wall watching"])
def test_stop_ends_the_background_thread_at_once_so_the_store_can_close(tmp_path, watched):
    # A daemon thread still inside DuckDB when the interpreter exits aborted `cityops run` on SIGTERM
    # ("terminate called ... FATAL: exception not rethrown", exit -6): the thread must be gone before the store closes.
    store = Store(tmp_path / "s.duckdb")
    snapshots = Snapshots(store, stale_after_s={"f1": 60}, timezone="Asia/Shanghai")
    snapshots.start()
    assert refreshers(), "start() runs the background thread"
    if watched:  # the thread then waits for the next data version instead of for a viewer
        assert snapshots.get(current=True).key
    time.sleep(0.3)  # let it reach its wait
    began = time.monotonic()
    snapshots.stop()
    assert not refreshers(), "stop() returns once the thread has ended"
    # Woken, not left to its timeout: SIGTERM must not wait for the next data version.
    assert time.monotonic() - began < AGE_LIMIT_S / 2
    store.close()
