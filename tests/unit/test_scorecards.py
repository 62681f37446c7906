"""Data-quality scorecards: three feeds replayed over six hours with known outages, silent devices, delays, suspect
readings and dead letters, rolled up into `feed_hours` on a real DuckDB file, and every figure checked against the
value worked out by hand here.

The readings are written by SQL in the writer's columns (store/writer.py), not through the writer: the writer
stamps `received_at` with the wall clock, and the delays are what is measured. The feeds' changes of health go
through store/feed_health.py, the one writer of `feed_log`.

The replay, hours 0-5 from T0 (UTC):

    feed a (water-city, stale_after_s 60): devices a1-a4, each one reading an hour at :10, stored 3 s later; in
        hour 3 only a1 (stored 40 s late) and a2 (400 s late) report; in hour 1 a1's and a2's readings are suspect;
        two dead letters in hour 3; down 20 min in hour 3, degraded 6 min in hour 5, ok before and otherwise.
    feed b (traffic-police-city, stale_after_s 120): devices b1, b2 each hour at :20, stored 1.5 s later; hour 0's
        message of b1 holds two readings; one event in hour 2; ok throughout (down until 2 h before).
    feed c (water-city, stale_after_s 5): first heard at 2:30 (no state before: not ok), device c1 first seen then,
        a reading an hour at :40 from hour 2 on, stored 10 s later; a new device c2's one reading, of 3:50, stored
        (and c2 first seen) at 4:05, too late to count c2 as reporting in hour 3, and c2 known but silent from hour
        4 on; one dead letter in hour 4.
    feed d (configured, no owner): never heard of.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.org import OrgError
from cityops import DEMO_DIR
from cityops.config import load
from feeds.mqtt import MqttFeedSettings
from feeds.plausibility import SUSPECT
from store import feed_hours
from store.database import Store
from store.feed_health import FeedEvent, record
from supervision import scorecards
from supervision.scorecards import LATENCY_BOUNDS_S, by_department, ranking, roll_up

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
END = T0 + 6 * HOUR
EXACT = 1e-12  # the figures are ratios of whole numbers: only float rounding may differ


def at(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def feed(feed_id: str, owner: str | None, stale_after_s: int) -> MqttFeedSettings:
    return MqttFeedSettings(id=feed_id, topics=[f"{feed_id}/#"], decoder="cityops-json", owner=owner,
                            stale_after_s=stale_after_s)  # fmt: skip


FEEDS = [feed("a", "water-city", 60), feed("b", "traffic-police-city", 120), feed("c", "water-city", 5),
         feed("d", None, 60)]  # fmt: skip


def entity(cur, entity_id: str, feed_id: str, first_seen: datetime) -> None:
    cur.execute("INSERT INTO entities VALUES ($id, $feed, 'flood', 'gauge', $id, 115.5, 38.9, NULL, NULL, NULL, "
                "'{}', $seen, $seen)", {"id": entity_id, "feed": feed_id, "seen": first_seen})  # fmt: skip


def reading(cur, feed_id: str, entity_id: str, msg_id: str, ts: datetime, delay_s: float,
            quality: str = "ok", metric: str = "level") -> None:  # fmt: skip
    cur.execute(
        "INSERT INTO observations VALUES ($entity, $metric, 1.0, 'm', $ts, $quality, $feed, $msg, $received, NULL)",
        {"entity": entity_id, "metric": metric, "ts": ts, "quality": quality, "feed": feed_id, "msg": msg_id,
         "received": ts + timedelta(seconds=delay_s)},
    )  # fmt: skip


def dead_letter(cur, feed_id: str, received: datetime) -> None:
    cur.execute("INSERT INTO dead_letters (ts, feed_id, source, reason, raw) VALUES ($ts, $feed, 't', 'bad', 'x')",
                {"ts": received, "feed": feed_id})  # fmt: skip


def health(cur, feed_id: str, event: FeedEvent, when: datetime) -> None:
    assert record(cur, feed_id, event, event.value, when).changed


def replay(store: Store) -> None:
    cur = store.cursor()
    # feed a
    health(cur, "a", FeedEvent.STORED, T0 - timedelta(days=1))
    health(cur, "a", FeedEvent.SILENT, at(3, 15))
    health(cur, "a", FeedEvent.STORED, at(3, 35))  # down 1200 s
    health(cur, "a", FeedEvent.POLL_FAILED, at(5, 30))
    health(cur, "a", FeedEvent.POLL_RECOVERED, at(5, 36))  # degraded 360 s
    for device in ("a1", "a2", "a3", "a4"):
        entity(cur, f"a:{device}", "a", T0 - timedelta(days=1))
    for hour in (0, 1, 2, 4, 5):
        for device in ("a1", "a2", "a3", "a4"):
            quality = SUSPECT if hour == 1 and device in ("a1", "a2") else "ok"
            reading(cur, "a", f"a:{device}", f"a-{device}-{hour}", at(hour, 10), 3, quality)
    reading(cur, "a", "a:a1", "a-a1-3", at(3, 10), 40)
    reading(cur, "a", "a:a2", "a-a2-3", at(3, 10), 400)
    dead_letter(cur, "a", at(3, 20))
    dead_letter(cur, "a", at(3, 21))
    # feed b
    health(cur, "b", FeedEvent.SILENT, T0 - 3 * HOUR)  # down before the period, but ok at its start
    health(cur, "b", FeedEvent.STORED, T0 - 2 * HOUR)
    for device in ("b1", "b2"):
        entity(cur, f"b:{device}", "b", T0 - timedelta(days=1))
    for hour in range(6):
        for device in ("b1", "b2"):
            reading(cur, "b", f"b:{device}", f"b-{device}-{hour}", at(hour, 20), 1.5)
    reading(cur, "b", "b:b1", "b-b1-0", at(0, 20), 1.5, metric="flow")  # the same message's second reading
    cur.execute("INSERT INTO events (id, feed_id, msg_id, domain, type, ts, title, description, received_at) "
                "VALUES ('b:e1', 'b', 'b-event', 'traffic', 'jam', $ts, 'jam', '', $received)",
                {"ts": at(2, 5), "received": at(2, 5, 2)})  # fmt: skip
    # feed c
    health(cur, "c", FeedEvent.STORED, at(2, 30))
    entity(cur, "c:c1", "c", at(2, 30))
    for hour in range(2, 6):
        reading(cur, "c", "c:c1", f"c-c1-{hour}", at(hour, 40), 10)
    entity(cur, "c:c2", "c", at(4, 5))
    reading(cur, "c", "c:c2", "c-c2-3", at(3, 50), 15 * 60)
    dead_letter(cur, "c", at(4, 50))


@pytest.fixture
def store(open_store):
    store = open_store("scorecards")
    replay(store)
    yield store
    store.close()


def buckets(**counts: int) -> tuple[int, ...]:
    """Latency counts by the bucket's lower bound, e.g. b2=20 for [2 s, 5 s)."""
    lows = ["b0", *(f"b{bound:g}" for bound in LATENCY_BOUNDS_S)]
    assert set(counts) <= set(lows)
    return tuple(counts.get(low, 0) for low in lows)


def cards_by_id(cards):
    return {c.feed_id: c for c in cards}


def all_rows(store):
    return store.cursor().execute("SELECT * FROM feed_hours ORDER BY feed_id, hour").fetchall()


A_AVAILABILITY = (6 * 3600 - 1200 - 360) / (6 * 3600)
A_COMPLETENESS = (5 * 4 / 4 + 2 / 4) / 6
A_PLAUSIBLE = 20 / 22
A_DEAD_LETTER_RATE = 2 / (22 + 2)
A_TIMELY = 21 / 22  # all but the reading 400 s late were stored within 60 s
A_SCORE = (A_AVAILABILITY + A_TIMELY + A_COMPLETENESS + A_PLAUSIBLE + (1 - A_DEAD_LETTER_RATE)) / 5
C_AVAILABILITY = (1800 + 3 * 3600) / (4 * 3600)  # from 2:30 on, of its four hours
C_COMPLETENESS = (1 / 1 + 1 / 1 + 1 / 2 + 1 / 2) / 4  # hours 2-5: c1 of c1; c1 of c1 (c2 not known yet); c1 of both
C_SCORE = (C_AVAILABILITY + 0 + C_COMPLETENESS + 1 + (1 - 1 / 6)) / 5  # none of its readings within 5 s


def test_each_feeds_hours_hold_what_happened_in_them(store):
    assert roll_up(store, END + timedelta(minutes=10)) == 6
    rows = feed_hours.hours(store.cursor(), T0, END)
    assert list(rows.columns) == ["feed_id", "hour", "ok_s", "messages", "readings", "suspect", "dead_letters",
                                  "devices_known", "devices_reporting", "latency"]  # fmt: skip
    figures = {(r.feed_id, r.hour.to_pydatetime() - T0): r for r in rows.itertuples()}
    a3 = figures["a", 3 * HOUR]
    assert (a3.ok_s, a3.messages, a3.readings, a3.suspect, a3.dead_letters, a3.devices_known,
            a3.devices_reporting) == (3600 - 1200, 2, 2, 0, 2, 4, 2)  # fmt: skip
    assert tuple(a3.latency) == buckets(b30=1, b300=1)
    a5 = figures["a", 5 * HOUR]
    assert (a5.ok_s, a5.readings, a5.devices_reporting, tuple(a5.latency)) == (3600 - 360, 4, 4, buckets(b2=4))
    b0 = figures["b", 0 * HOUR]
    assert (b0.messages, b0.readings, tuple(b0.latency)) == (2, 3, buckets(b1=3))
    assert figures["b", 2 * HOUR].messages == 3  # two readings' messages and the event's
    # c is heard of at 2:30: no hours before, and the half hour before is not ok.
    assert sorted(h // HOUR for f, h in figures if f == "c") == [2, 3, 4, 5]
    c2 = figures["c", 2 * HOUR]
    assert (c2.ok_s, c2.devices_known, c2.devices_reporting) == (1800, 1, 1)
    c3, c4 = figures["c", 3 * HOUR], figures["c", 4 * HOUR]
    assert (c3.readings, c3.devices_known, c3.devices_reporting) == (1, 1, 1)  # c2's reading is stored in hour 4
    assert (c4.readings, c4.devices_known, c4.devices_reporting, tuple(c4.latency)) == (2, 2, 1, buckets(b10=1, b600=1))
    assert not any(f == "d" for f, _ in figures)


def test_scorecards_figures_are_the_hand_counted_ones(store):
    roll_up(store, END + timedelta(minutes=10))
    cards = cards_by_id(scorecards.scorecards(store, T0, END, FEEDS))
    assert list(cards) == ["a", "b", "c", "d"]
    a = cards["a"]
    assert (a.owner, a.hours, a.readings, a.suspect, a.messages, a.dead_letters) == ("water-city", 6, 22, 2, 22, 2)
    assert a.availability == pytest.approx(A_AVAILABILITY, rel=EXACT)
    assert a.completeness == pytest.approx(A_COMPLETENESS, rel=EXACT)
    assert a.plausible == pytest.approx(A_PLAUSIBLE, rel=EXACT)
    assert a.dead_letter_rate == pytest.approx(A_DEAD_LETTER_RATE, rel=EXACT)
    assert a.timely == pytest.approx(A_TIMELY, rel=EXACT)
    assert a.latency == buckets(b2=20, b30=1, b300=1)
    # Interpolated in the bucket (the true values are 3 s and 40 s): the median is the 11th of 22 readings, 11/20
    # of the way through the 20 in [2, 5) s; p95 is the 20.9th, 0.9 of the way through the one in [30, 60) s.
    assert a.latency_p50_s == pytest.approx(2 + 3 * 11 / 20, rel=EXACT)
    assert a.latency_p95_s == pytest.approx(30 + 30 * 0.9, rel=EXACT)
    assert a.score == pytest.approx(A_SCORE, rel=EXACT)

    b = cards["b"]
    assert (b.hours, b.readings, b.messages, b.suspect, b.dead_letters) == (6, 13, 13, 0, 0)
    assert (b.availability, b.completeness, b.plausible, b.dead_letter_rate, b.timely, b.score) == (1, 1, 1, 0, 1, 1)
    # All 13 readings in [1, 2) s: the median is 6.5/13 and p95 12.35/13 of the way through it.
    assert b.latency_p50_s == pytest.approx(1.5, rel=EXACT)
    assert b.latency_p95_s == pytest.approx(1 + 12.35 / 13, rel=EXACT)

    c = cards["c"]
    assert (c.hours, c.readings, c.messages, c.dead_letters, c.plausible, c.timely) == (4, 5, 5, 1, 1, 0)
    assert c.availability == pytest.approx(C_AVAILABILITY, rel=EXACT)
    assert c.completeness == pytest.approx(C_COMPLETENESS, rel=EXACT)
    assert c.dead_letter_rate == pytest.approx(1 / 6, rel=EXACT)
    # Four readings in [10, 30) s and one in [600, 1800) s: the median is the 2.5th, p95 the 4.75th.
    assert c.latency_p50_s == pytest.approx(10 + 20 * 2.5 / 4, rel=EXACT)
    assert c.latency_p95_s == pytest.approx(600 + 1200 * 0.75, rel=EXACT)
    assert c.score == pytest.approx(C_SCORE, rel=EXACT)

    d = cards["d"]  # never heard of: nothing to measure, no score, no division by zero
    assert (d.hours, d.messages, d.readings, d.availability, d.latency_p50_s, d.completeness, d.score) == (
        0, 0, 0, None, None, None, None)  # fmt: skip


def test_departments_pool_their_feeds_and_rank_best_first(store):
    roll_up(store, END + timedelta(minutes=10))
    cards = scorecards.scorecards(store, T0, END, FEEDS)
    departments = {d.department: d for d in by_department(cards)}
    assert list(departments) == ["traffic-police-city", "water-city"]  # d has no owner
    water = departments["water-city"]
    assert (water.feeds, water.hours, water.readings, water.suspect, water.messages, water.dead_letters) == (
        ("a", "c"), 10, 27, 2, 27, 3)  # fmt: skip
    assert water.availability == pytest.approx((20040 + 12600) / (10 * 3600), rel=EXACT)  # by hours
    assert water.completeness == pytest.approx((6 * A_COMPLETENESS + 4 * C_COMPLETENESS) / 10, rel=EXACT)
    assert water.plausible == pytest.approx(25 / 27, rel=EXACT)  # pooled over readings
    assert water.dead_letter_rate == pytest.approx(3 / 30, rel=EXACT)  # pooled over messages and dead letters
    assert water.latency == buckets(b2=20, b10=4, b30=1, b300=1, b600=1)
    assert water.latency_p50_s == pytest.approx(2 + 3 * 13.5 / 20, rel=EXACT)  # the 13.5th of 27
    assert water.latency_p95_s == pytest.approx(300 + 300 * 0.65, rel=EXACT)  # the 25.65th: 0.65 into [300, 600) s
    assert water.score == pytest.approx((6 * A_SCORE + 4 * C_SCORE) / 10, rel=EXACT)
    assert departments["traffic-police-city"].score == 1

    feeds = ranking(cards)
    assert [(r.rank, r.id) for r in feeds] == [(1, "b"), (2, "a"), (3, "c"), (None, "d")]
    assert [(r.rank, r.id) for r in ranking(departments.values())] == [(1, "traffic-police-city"), (2, "water-city")]
    twin = replace(cards_by_id(cards)["b"], feed_id="b2")  # an equal score shares the rank
    assert [(r.rank, r.id) for r in ranking([*cards, twin])] == [(1, "b"), (1, "b2"), (3, "a"), (4, "c"), (None, "d")]


def test_rolling_hours_again_gives_the_same_rows(store):
    roll_up(store, END + timedelta(minutes=10))
    first = all_rows(store)
    assert len(first) == 6 + 6 + 4
    assert feed_hours.roll_up(store.cursor(), T0, END, LATENCY_BOUNDS_S) == 16
    assert feed_hours.roll_up(store.cursor(), at(3), at(4), LATENCY_BOUNDS_S) == 3
    assert all_rows(store) == first
    assert roll_up(store, END + timedelta(minutes=10)) == 0  # nothing new is over


def test_a_period_past_the_rolled_hours_counts_those_rolled_and_the_rest_once_rolled(store):
    assert roll_up(store, at(3, 2)) == 2  # hour 2 has not settled: a row's received_at precedes its commit
    assert roll_up(store, at(3, 10)) == 1
    assert scorecards.rolled_until(store) == at(3)
    early = cards_by_id(scorecards.scorecards(store, T0, END, FEEDS))
    a, c = early["a"], early["c"]
    assert (a.hours, a.availability, a.completeness, a.readings, a.suspect, a.dead_letters) == (3, 1, 1, 12, 2, 0)
    assert (c.hours, c.availability, c.readings) == (1, 0.5, 1)

    assert roll_up(store, END + timedelta(minutes=10)) == 3
    late = cards_by_id(scorecards.scorecards(store, T0, END, FEEDS))
    assert late["a"].hours == 6 and late["a"].score == pytest.approx(A_SCORE, rel=EXACT)
    assert late["c"].score == pytest.approx(C_SCORE, rel=EXACT)


def test_an_empty_period_or_store_answers_without_figures(open_store, store):
    roll_up(store, END + timedelta(minutes=10))
    later = END + timedelta(days=30)
    for start, end in ((later, later + timedelta(days=1)), (T0, T0)):
        cards = scorecards.scorecards(store, start, end, FEEDS)
        assert [(c.hours, c.availability, c.latency_p95_s, c.dead_letter_rate, c.score) for c in cards] == [
            (0, None, None, None, None)] * 4  # fmt: skip
        departments = by_department(cards)
        assert [(d.department, d.hours, d.availability, d.plausible, d.score) for d in departments] == [
            ("traffic-police-city", 0, None, None, None), ("water-city", 0, None, None, None)]  # fmt: skip
        assert [r.rank for r in ranking(departments)] == [None, None]
    empty = open_store("empty")
    assert roll_up(empty, END) == 0 and scorecards.rolled_until(empty) is None
    assert scorecards.monthly_ranking(empty, 2026, 3, FEEDS, "Asia/Shanghai").feeds[0].rank is None
    empty.close()


def test_a_call_rolls_up_a_week_at_most(open_store):
    store = open_store("history")
    cur = store.cursor()
    health(cur, "a", FeedEvent.STORED, T0 - timedelta(days=10))
    entity(cur, "a:a1", "a", T0 - timedelta(days=10))
    reading(cur, "a", "a:a1", "old", T0 - timedelta(days=10), 1)
    due = 10 * 24 - 1  # the hour before T0 has not settled at T0
    assert roll_up(store, T0) == 7 * 24
    assert roll_up(store, T0) == due - 7 * 24
    assert roll_up(store, T0) == 0
    assert cur.execute("SELECT count(*), min(hour) FROM feed_hours").fetchone() == (due, T0 - timedelta(days=10))
    store.close()


def test_a_month_is_the_citys_month(open_store):
    store = open_store("m")
    month = scorecards.monthly_ranking(store, 2026, 12, FEEDS, "Asia/Shanghai")
    store.close()
    assert (month.start, month.end) == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC))


def test_percentiles_past_the_last_bound_and_the_timely_share_in_proportion():
    overflow = buckets(b86400=2)
    assert scorecards.percentile(overflow, 0.5) == LATENCY_BOUNDS_S[-1]  # "at least"
    assert scorecards.percentile(buckets(b10=4), 0) == 10  # the lowest bound holding a reading, not 0
    assert scorecards.timely_share(overflow, 10**6) == 0  # beyond the last bound: counted late
    # Four readings in [10, 30) s against a 15 s limit: a quarter of the bucket's width, so one reading's worth.
    assert scorecards.timely_share(buckets(b10=4), 15) == pytest.approx(1 / 4, rel=EXACT)
    assert scorecards.percentile(buckets(), 0.5) is None and scorecards.timely_share(buckets(), 60) is None


def test_the_demo_feeds_are_owned_by_departments_of_the_demo_organisation(demo_regions):
    settings = load(DEMO_DIR / "cityops.toml", environ={})
    org = settings.organisation(demo_regions)
    owners = {f.id: f.owner for f in settings.feeds}
    assert all(owners.values()), owners
    assert {org.units[owner].kind for owner in owners.values()} <= {"water", "traffic_police", "fire", "police",
                                                                     "urban_management"}  # fmt: skip


def test_an_owner_that_is_no_department_names_the_file_the_line_and_the_feed(tmp_path, demo_regions):
    text = (DEMO_DIR / "cityops.toml").read_text(encoding="utf-8")
    text = text.replace('org = "org.yaml"', f'org = "{DEMO_DIR / "org.yaml"}"')
    text = text.replace('owner = "water-city"', 'owner = "water-cty"', 1)
    text = text.replace('owner = "fire-city"', 'owner = "d130606"', 1)  # a centre, not a department
    path = tmp_path / "cityops.toml"
    path.write_text(text, encoding="utf-8")
    settings = load(path, environ={})
    with pytest.raises(OrgError) as err:
        settings.organisation(demo_regions)
    lines = text.splitlines()
    typo = lines.index('owner = "water-cty"') + 1
    centre = lines.index('owner = "d130606"') + 1
    message = str(err.value)
    assert (f"{path}:{typo}: feeds.1.owner: feed demo-flood: 'water-cty' is no unit of the organisation, not a "
            "department; did you mean 'water-city'?") in message  # fmt: skip
    assert f"{path}:{centre}: feeds.2.owner: feed demo-fire: 'd130606' is a centre of the organisation" in message
    assert "demo-hotspots" not in message  # its owner is still fire-city
