"""A region's readings per day: the daily summaries and what arrived since they were rolled up, counted once."""

from datetime import UTC, date, datetime, timedelta

from store import queries, retention

TZ = "Asia/Shanghai"


def test_region_daily_adds_summaries_and_fresh_readings_in_the_citys_days(open_store):
    store = open_store("c")
    cur = store.cursor()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for entity, district in (("a", "130602"), ("b", "130602"), ("c", "130606")):
        cur.execute("INSERT INTO entities VALUES ($id, 'f', 'flood', 'river_gauge', $id, 115, 38, $d, NULL, NULL, "
                    "'{}', $now, $now)", {"id": entity, "d": district, "now": now})  # fmt: skip
    insert = "INSERT INTO observations VALUES ($e, 'level', $v, 'm', $ts, 'ok', 'f', $id, $received, NULL)"
    # 2026-11-30 17:00 UTC is already 1 December in Shanghai.
    old = [("a", 1.0, datetime(2026, 11, 30, 15, 0, tzinfo=UTC)), ("b", 3.0, datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),
           ("c", 100.0, datetime(2026, 11, 30, 17, 0, tzinfo=UTC))]  # fmt: skip
    for n, (entity, value, ts) in enumerate(old):
        cur.execute(insert, {"e": entity, "v": value, "ts": ts, "id": f"o{n}", "received": ts})
    retention.roll_up(store, TZ, now)
    cur.execute(insert, {"e": "a", "v": 5.0, "ts": now, "id": "fresh", "received": now})  # not rolled up yet
    days = queries.region_daily(store, "district", ["130602"], date(2026, 11, 1), TZ)
    assert [(r.day, r.readings, r.mean, r.min, r.max) for r in days.itertuples()] == [
        (date(2026, 11, 30), 1, 1.0, 1.0, 1.0),
        (date(2026, 12, 1), 2, 4.0, 3.0, 5.0),
    ]
    assert queries.region_daily(store, "district", ["130602"], date(2026, 12, 1), TZ).readings.sum() == 2
    retention.roll_up(store, TZ, now + timedelta(minutes=10))  # the fresh one summarised: still counted once
    assert queries.region_daily(store, "district", ["130602"], date(2026, 11, 1), TZ).readings.sum() == 3
    store.close()
