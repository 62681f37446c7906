from alerts.levels import level_of, status_of, summarize

GAUGE = {"metric": "water_level", "blue": 11.5, "yellow": 12.0, "orange": 13.0, "red": 14.0}


def test_four_colours_in_order():
    assert [level_of(v, GAUGE) for v in (10, 11.5, 12.2, 13.0, 20)] == [
        "ok",
        "blue",
        "yellow",
        "orange",
        "red",
    ]


def test_below_direction():
    speed = {"metric": "speed", "direction": "below", "yellow": 20, "red": 5}
    assert [level_of(v, speed) for v in (50, 20, 4)] == ["ok", "yellow", "red"]


def test_no_data_and_offline_are_never_ok():
    assert status_of(10, GAUGE, fresh=False, online=None) == "nodata"
    assert status_of(None, GAUGE, fresh=True, online=None) == "nodata"  # reports, but not the metric that matters
    assert status_of(None, None, fresh=True, online=0) == "offline"
    assert status_of(None, None, fresh=False, online=None) == "nodata"


def test_a_reporting_device_without_levels_is_ok():
    assert status_of(None, None, fresh=True, online=None) == "ok"


def test_a_group_shows_its_worst_warning_else_no_data_when_mostly_silent():
    assert summarize(["ok", "blue", "nodata", "red", "yellow"]) == "red"
    assert summarize(["ok", "ok", "ok", "nodata"]) == "ok"
    assert summarize(["ok", "nodata", "offline"]) == "nodata"
    assert summarize([]) == "nodata"


def test_regions_are_summarised_as_summarize_says():
    import random

    import pandas as pd

    from dashboard.snapshot import _region_groups, _region_status

    rng = random.Random(3)
    statuses = ["red", "orange", "yellow", "blue", "ok", "nodata", "offline"]
    frame = pd.DataFrame({
        "status": [rng.choice(statuses[rng.randrange(3):]) for _ in range(3000)],
        "district_id": [f"d{rng.randrange(5)}" for _ in range(3000)],
        "town_id": [f"t{rng.randrange(60)}" if rng.random() > 0.1 else None for _ in range(3000)],
        "grid_id": [rng.choice(["", f"g{rng.randrange(400)}"]) for _ in range(3000)],
    })  # fmt: skip
    expected = {
        region: summarize(group["status"])
        for column in ("district_id", "town_id", "grid_id")
        for region, group in frame.groupby(column)
        if region
    }
    assert _region_status(frame["status"].to_numpy(), _region_groups(frame)) == expected
    assert set(expected.values()) >= {"red", "ok", "nodata"}  # the cases the sample must cover


def test_statuses_over_arrays_are_what_status_of_says_of_each_device():
    import random

    import numpy as np

    from alerts.levels import statuses
    from store.records import SEVERITIES

    rng = random.Random(5)
    devices = []
    for _ in range(5000):
        levels = rng.choice([None, {}, {"metric": "m"}, dict(GAUGE), {"metric": "speed", "direction": "below",
                             "yellow": 20, "red": 5}, {"metric": "m", "red": 50}])  # fmt: skip
        value = rng.choice([None, rng.uniform(0, 60), 12.0, 5.0, 20.0])
        online = rng.choice([None, None, 0.0, 1.0])
        devices.append((value, levels, rng.random() > 0.2, online))
    nan = float("nan")
    got = statuses(
        np.array([nan if v is None else v for v, *_ in devices]),
        {c: np.array([(lv or {}).get(c, nan) for _, lv, *_ in devices], dtype=float) for c in SEVERITIES},
        np.array([bool(lv) and lv.get("direction") == "below" for _, lv, *_ in devices]),
        np.array([bool(lv) for _, lv, *_ in devices]),
        fresh=np.array([f for *_, f, _ in devices]),
        online=np.array([nan if o is None else o for *_, o in devices], dtype=float),
    )
    expected = [status_of(v, lv, fresh=f, online=o) for v, lv, f, o in devices]
    assert list(got) == expected
    assert set(expected) == {"red", "orange", "yellow", "blue", "ok", "nodata", "offline"}  # every case is covered


def test_a_reading_is_fresh_within_its_feeds_limit_and_never_while_its_feed_is_down():
    import numpy as np

    from alerts.levels import fresh

    age = np.array([10.0, 200.0, 10.0, np.nan])
    limit = np.array([120.0, 120.0, 120.0, 120.0])
    down = np.array([False, False, True, False])
    assert fresh(age, limit, down).tolist() == [True, False, False, False]
