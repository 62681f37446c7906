"""The entities and their latest readings kept between the wall's snapshots (dashboard/city_state.py): brought up
to date with what the real writer wrote since, they say what a copy read afresh says, at a cost that follows what
changed."""

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dashboard.city_state import CityState
from feeds.decoders import Message
from feeds.decoders.cityops_json import decode
from store.writer import Envelope, Writer

NOW = datetime.now(UTC).replace(microsecond=0)
STALE = {"f1": 60, "f2": 60}


def envelope(feed: str, items: list[dict]) -> Envelope:
    return Envelope(feed, NOW, records=decode(Message(feed, "t", json.dumps(items).encode(), NOW)))


def entity(i: int, *, lon: float | None = 115.5, red: float = 90.0, warning: float | None = None) -> dict:
    attributes: dict = {"levels": {"metric": "level", "red": red, "yellow": 50.0}}
    if warning is not None:
        attributes["warning_level"] = warning
    return {"type": "entity", "id": f"e{i}", "domain": "flood", "kind": "gauge", "name": f"gauge {i}",
            "lon": lon, "lat": None if lon is None else 38.8 + i / 1000, "attributes": attributes}  # fmt: skip


def reading(i: int, seconds_ago: float, **values: float | None) -> dict:
    ts = NOW - timedelta(seconds=seconds_ago)
    return {"type": "observation", "entity": f"e{i}", "id": f"m{i}-{ts.timestamp()}-{sorted(values)}",
            "ts": ts.isoformat(), "values": values}  # fmt: skip


@pytest.fixture
def city(open_store):
    store = open_store("c")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    yield store, writer
    writer.stop()
    store.close()


def write(writer: Writer, feed: str, items: list[dict]) -> None:
    writer.put(envelope(feed, items))
    assert writer.flush(60), "the writer did not commit within a minute"


def same(kept: CityState, fresh: CityState, down: set[str]) -> None:
    assert list(kept.placed["id"]) == list(fresh.placed["id"])
    assert list(kept.statuses(NOW, STALE, down)) == list(fresh.statuses(NOW, STALE, down))
    since = NOW - timedelta(seconds=60)
    # The same, but for the last bit of a mean: the rows of `latest` may come in another order, and so be added up.
    kept_figures, fresh_figures = kept.figures(since, down), fresh.figures(since, down)
    assert kept_figures.keys() == fresh_figures.keys()
    for name, value in kept_figures.items():
        assert value == (fresh_figures[name] if value is None else pytest.approx(fresh_figures[name], rel=1e-12)), name


def test_a_copy_kept_up_to_date_says_what_a_copy_read_afresh_says(city):
    store, writer = city
    rng = random.Random(7)
    write(writer, "f1", [entity(i, lon=None if i % 9 == 0 else 115.5, warning=40.0 if i % 3 else None)
                         for i in range(60)])  # fmt: skip
    write(writer, "f2", [entity(i) for i in range(60, 80)])
    kept, seen = CityState(store), store.data_version
    kept.refresh(entities_changed=True)
    for step in range(40):
        feed, low, high = ("f1", 0, 60) if step % 2 else ("f2", 60, 80)
        items = [reading(i, rng.uniform(0, 120), level=rng.choice([None, rng.uniform(0, 100)]),
                         online=float(rng.random() > 0.1), speed=rng.uniform(0, 80), water_level=rng.uniform(0, 80))
                 for i in rng.sample(range(low, high), 8)]  # fmt: skip
        if step % 10 == 5:  # a device moved, a threshold changed
            items += [entity(rng.randrange(low, high), red=rng.uniform(60, 95)), entity(low, lon=116.0)]
        if step == 20:  # an undescribed device reports (it counts in the figures, not on the map)
            items.append(reading(999, 1, speed=33.0))
        write(writer, feed, items)
        changes, seen = store.changed_since(seen), store.data_version
        kept.refresh(entities_changed="entities" in changes)
        fresh = CityState(store)
        fresh.refresh(entities_changed=True)
        same(kept, fresh, down=set() if step % 4 else {"f2"})
    statuses = set(kept.statuses(NOW, STALE, set()))
    assert {"red", "yellow", "ok", "nodata", "offline"} <= statuses, f"the sample must cover them: {statuses}"


def test_a_look_reads_only_the_rows_written_since_the_last(city):
    store, writer = city
    write(writer, "f1", [entity(i) for i in range(200)])
    write(writer, "f1", [reading(i, 5, level=10.0, online=1.0) for i in range(200)])
    kept = CityState(store)
    kept.refresh(entities_changed=True)
    assert kept.rows_read == 400
    described = kept.entities
    write(writer, "f1", [reading(i, 1, level=95.0) for i in range(3)])
    kept.refresh(entities_changed=False)
    assert kept.rows_read == 3
    assert kept.entities is described, "descriptions are not read again when only readings changed"
    status = dict(zip(kept.placed["id"], kept.statuses(NOW, STALE, set()), strict=True))
    assert [status[f"f1:e{i}"] for i in range(4)] == ["red", "red", "red", "ok"]


def test_descriptions_sent_again_unchanged_do_not_say_entities_changed(city):
    store, writer = city
    write(writer, "f1", [entity(i) for i in range(5)])
    seen = store.data_version
    write(writer, "f1", [entity(i) for i in range(5)] + [reading(0, 1, level=1.0)])
    assert store.changed_since(seen) == {"readings"}
    seen = store.data_version
    write(writer, "f1", [entity(0, red=70.0)])
    assert store.changed_since(seen) == {"entities"}


def test_the_key_figures_count_what_reported_lately_through_a_feed_not_down(city):
    store, writer = city
    write(writer, "f1", [entity(1, warning=40.0), entity(2, warning=40.0), entity(3)])
    write(writer, "f2", [entity(4, warning=10.0)])
    write(writer, "f1", [reading(1, 10, speed=10.0, congestion_index=7.0, water_level=45.0, online=1.0, alarm=1.0),
                         reading(2, 10, speed=20.0, congestion_index=3.0, water_level=35.0, online=0.0),
                         reading(3, 10, water_level=99.0, rain_1h=12.5, depth=0.4),
                         reading(2, 600, rain_1h=80.0, depth=3.0)])  # fmt: skip
    write(writer, "f2", [reading(4, 10, speed=90.0, water_level=50.0, rain_1h=60.0)])
    kept = CityState(store)
    kept.refresh(entities_changed=True)
    figures = kept.figures(NOW - timedelta(seconds=60), {"f2"})
    assert figures == {
        "avg_speed": 15.0,  # 90 from the feed that is down is left out
        "congested_share": 0.5,
        "max_rain": 12.5,  # 80 and 60 are too old or from the feed down
        "gauges_over_warning": 1,  # 45 over 40; 99 has no warning level; 35 under
        "gauges_reporting": 3,
        "max_depth": 0.4,
        "fire_alarms": 1.0,
        "cameras_online_share": 0.5,
    }
    empty = kept.figures(NOW + timedelta(hours=1), set())
    assert empty["avg_speed"] is None and empty["gauges_reporting"] == 0 and empty["fire_alarms"] is None
    assert np.isnan(kept._last_seen).sum() == 0
