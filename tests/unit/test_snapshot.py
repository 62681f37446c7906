"""The wall's snapshots computed in the background (dashboard/snapshot.py): stopping before the store closes."""

import threading
import time

import pytest

from dashboard.snapshot import AGE_LIMIT_S, Snapshots


def refreshers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cityops-snapshots"]


@pytest.mark.parametrize("watched", [False, True], ids=["nobody watching", "a wall watching"])
def test_stop_ends_the_background_thread_at_once_so_the_store_can_close(open_store, watched):
    # A daemon thread still inside DuckDB when the interpreter exits aborted `cityops run` on SIGTERM
    # ("terminate called ... FATAL: exception not rethrown", exit -6): the thread must be gone before the store closes.
    store = open_store("s")
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


def test_a_wall_waiting_for_news_hears_of_the_next_snapshot_as_soon_as_it_is_computed(open_store):
    store = open_store("s")
    snapshots = Snapshots(store, stale_after_s={"f1": 60}, timezone="Asia/Shanghai")
    snapshots.start()
    try:
        shown = snapshots.get(current=True).key
        assert snapshots.wait_for_news("a key from before", 5) == shown, "a wall behind is told at once"
        began = time.monotonic()
        assert snapshots.wait_for_news(shown, 0.3) == shown, "nothing new: the same key, after the wait"
        assert time.monotonic() - began >= 0.3

        heard: dict[str, str] = {}
        waiter = threading.Thread(target=lambda: heard.update(key=snapshots.wait_for_news(shown, 30)))
        waiter.start()
        time.sleep(0.2)
        committed = time.monotonic()
        store.bump_version()  # what the writer does after a commit
        waiter.join(10)
        assert heard["key"] != shown and heard["key"] == snapshots.current_key()
        assert time.monotonic() - committed < AGE_LIMIT_S, "heard of the new data, not of the snapshot's age limit"

        waiter = threading.Thread(target=lambda: heard.update(key=snapshots.wait_for_news(heard["key"], 30)))
        waiter.start()
        time.sleep(0.2)
        began = time.monotonic()
        snapshots.stop()
        waiter.join(10)
        assert not waiter.is_alive() and time.monotonic() - began < AGE_LIMIT_S, "stopping releases a waiting wall"
    finally:
        snapshots.stop()
        store.close()


def test_a_snapshot_reads_again_only_the_parts_whose_data_changed(open_store):
    import json
    from datetime import UTC, datetime

    from feeds.decoders import Message
    from feeds.decoders.cityops_json import decode
    from store.writer import Envelope, Writer

    store = open_store("s")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    snapshots = Snapshots(store, stale_after_s={"f1": 60}, timezone="Asia/Shanghai")

    def write(items: list[dict]) -> None:
        now = datetime.now(UTC)
        for item in items:
            item.setdefault("ts", now.isoformat())
        writer.put(Envelope("f1", now, records=decode(Message("f1", "t", json.dumps(items).encode(), now))))
        assert writer.flush(60)

    try:
        write([{"type": "entity", "id": "g1", "domain": "flood", "kind": "gauge", "name": "g", "lon": 115.5,
                "lat": 38.8, "attributes": {"levels": {"metric": "level", "red": 5.0}}}])  # fmt: skip
        first = snapshots.get(current=True)
        write([{"type": "observation", "entity": "g1", "values": {"level": 9.0}}])
        readings = snapshots.get(current=True)
        assert readings.key != first.key and readings.layers["flood"].status == "r", "the new reading shows"
        assert readings.alerts is first.alerts and readings.events is first.events, "nothing else is read again"
        assert readings.layers["flood"].features is first.layers["flood"].features
        assert snapshots.stats()["rows_read"] == 1

        write([{"type": "event", "id": "ev1", "domain": "flood", "event_type": "x", "title": "t", "lon": 115.5,
                "lat": 38.8}])  # fmt: skip
        events = snapshots.get(current=True)
        assert events.events is not readings.events and list(events.events["title"]) == ["t"]
        assert events.alerts is readings.alerts

        store.bump_version("handling")  # an action's commit
        handled = snapshots.get(current=True)
        assert handled.alerts is not events.alerts and handled.events is events.events

        write([{"type": "entity", "id": "g1", "domain": "flood", "kind": "gauge", "name": "g", "lon": 115.6,
                "lat": 38.8, "attributes": {"levels": {"metric": "level", "red": 5.0}}}])  # fmt: skip
        moved = snapshots.get(current=True)
        assert moved.layers["flood"].key != handled.layers["flood"].key, "a device moved: the features are new"
        assert moved.layers["flood"].features[0]["geometry"]["coordinates"] == [115.6, 38.8]
    finally:
        writer.stop()
        store.close()
