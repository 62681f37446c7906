"""Each feed's hours, rolled up for its data-quality scorecard (supervision/scorecards.py), and read back.

One row of `feed_hours` per feed and UTC hour says what the hour was made of: the seconds the feed was ok (from
`feed_log`), its messages, readings and suspect readings, its dead letters, its known devices and those that
reported, and the delays from the source's time to storage as counts per latency bucket. A period's figures are sums
over its rows, so they stay answerable after retention (store/retention.py) has removed the observations.

Where an hour's figures come from:

- ok_s: the feed's state through the hour, from its changes in `feed_log`; before its first change a feed has no
  state, which is not ok.
- messages, readings, suspect, latency, dead_letters: what was *stored* in the hour (observations' and events'
  `received_at`, dead letters' `ts`, which is when they were received). Like the retention's summaries, this counts
  every row exactly once whatever its own time, and an hour once over is complete: nothing stored later belongs to
  it. Messages are the distinct `msg_id` of the feed's observations and events; latency is over readings only (an
  event's own time is often the time of the thing it reports, hours before anyone could send it).
- devices_known, devices_reporting: the feed's entities first seen before the hour's end, and those of them with a
  reading whose *source* time lies in the hour (a device reports for the hour it measured). A reading stored after
  its hour was rolled up does not make its device count as reporting there: it was late.

A feed has rows from the hour of its first change in `feed_log` on (every feed's first message or failure writes
one), and for any hour in which something of it was stored.

Rolling up is a handful of set-based statements over all feeds and hours of [start, end) at once, in one
transaction: the hours' rows are deleted and inserted again, so rolling an hour twice gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from store.database import frame
from store.transaction import transaction

PROGRESS = "feed_hours"  # its row in summary_progress: hours before `until` are rolled up

_ROLL_UP = """
WITH
hours AS (
    SELECT hour, hour + INTERVAL '1 hour' AS hour_end
    FROM generate_series($start, $end - INTERVAL '1 hour', INTERVAL '1 hour') AS series(hour)
),
born AS (SELECT feed_id, min(ts) AS since FROM feed_log GROUP BY feed_id),
stored_readings AS (
    SELECT feed_id, date_trunc('hour', received_at) AS hour, count(*) AS readings,
           -- the quality the writer stores for a reading feeds/plausibility.py found implausible
           count(*) FILTER (WHERE quality = 'suspect') AS suspect,
           {latency_counts} AS latency
    FROM (SELECT feed_id, received_at, quality, (epoch_us(received_at) - epoch_us(ts)) / 1e6 AS delay_s
          FROM observations WHERE received_at >= $start AND received_at < $end) AS o
    GROUP BY 1, 2
),
stored_messages AS (
    SELECT feed_id, hour, count(*) AS messages
    FROM (SELECT feed_id, msg_id, date_trunc('hour', received_at) AS hour
          FROM observations WHERE received_at >= $start AND received_at < $end
          UNION
          SELECT feed_id, msg_id, date_trunc('hour', received_at)
          FROM events WHERE received_at >= $start AND received_at < $end) AS m
    GROUP BY 1, 2
),
dead AS (
    SELECT feed_id, date_trunc('hour', ts) AS hour, count(*) AS dead_letters
    FROM dead_letters WHERE ts >= $start AND ts < $end GROUP BY 1, 2
),
reporting AS (
    SELECT o.feed_id, date_trunc('hour', o.ts) AS hour, count(DISTINCT o.entity_id) AS devices_reporting
    FROM observations o JOIN entities e ON e.id = o.entity_id AND e.feed_id = o.feed_id
    WHERE o.ts >= $start AND o.ts < $end AND e.first_seen < date_trunc('hour', o.ts) + INTERVAL '1 hour'
    GROUP BY 1, 2
),
grid AS (
    SELECT feed_id, hour, hour + INTERVAL '1 hour' AS hour_end
    FROM (SELECT b.feed_id, h.hour FROM born b JOIN hours h ON h.hour_end > b.since
          UNION SELECT feed_id, hour FROM stored_readings
          UNION SELECT feed_id, hour FROM stored_messages
          UNION SELECT feed_id, hour FROM dead
          UNION SELECT feed_id, hour FROM reporting) AS any_hour
),
-- How many devices a feed knows from each moment one was first seen on (ties counted together), so that each hour
-- takes the count of the last such moment before its end without pairing every hour with every device.
known_from AS (
    SELECT DISTINCT feed_id, first_seen, count(*) OVER (PARTITION BY feed_id ORDER BY first_seen) AS known
    FROM entities WHERE first_seen < $end
),
known AS (
    SELECT g.feed_id, g.hour, coalesce(k.known, 0) AS devices_known
    FROM grid g LEFT JOIN LATERAL (SELECT known FROM known_from k WHERE k.feed_id = g.feed_id
                                   AND k.first_seen < g.hour_end ORDER BY k.first_seen DESC LIMIT 1) AS k ON true
),
-- Each feed's states over [start, end): the last change before the period, then its changes inside it.
changes AS (
    SELECT feed_id, id, ts, state FROM feed_log WHERE ts >= $start AND ts < $end
    UNION ALL
    SELECT * FROM (SELECT DISTINCT ON (feed_id) feed_id, id, ts, state FROM feed_log WHERE ts < $start
                   ORDER BY feed_id, ts DESC, id DESC) AS before
),
ok_spans AS (
    SELECT feed_id, since, until
    FROM (SELECT feed_id, state, ts AS since,
                 coalesce(lead(ts) OVER (PARTITION BY feed_id ORDER BY ts, id), $end) AS until
          FROM changes) AS spans
    WHERE state = 'ok' AND until > since
),
ok AS (
    SELECT g.feed_id, g.hour,
           sum(epoch_us(least(s.until, g.hour_end)) - epoch_us(greatest(s.since, g.hour))) / 1e6 AS ok_s
    FROM grid g JOIN ok_spans s ON s.feed_id = g.feed_id AND s.since < g.hour_end AND s.until > g.hour
    GROUP BY 1, 2
)
INSERT INTO feed_hours
SELECT g.feed_id, g.hour, coalesce(ok.ok_s, 0), coalesce(m.messages, 0), coalesce(r.readings, 0),
       coalesce(r.suspect, 0), coalesce(d.dead_letters, 0), k.devices_known, coalesce(p.devices_reporting, 0),
       coalesce(r.latency, {no_latency})
FROM grid g
JOIN known k USING (feed_id, hour)
LEFT JOIN ok USING (feed_id, hour)
LEFT JOIN stored_messages m USING (feed_id, hour)
LEFT JOIN stored_readings r USING (feed_id, hour)
LEFT JOIN dead d USING (feed_id, hour)
LEFT JOIN reporting p USING (feed_id, hour)
"""

_TOTALS = """
SELECT feed_id, count(*) AS hours, sum(ok_s) AS ok_s, sum(messages) AS messages, sum(readings) AS readings,
       sum(suspect) AS suspect, sum(dead_letters) AS dead_letters,
       count(*) FILTER (WHERE devices_known > 0) AS device_hours,
       avg(devices_reporting::DOUBLE / devices_known) FILTER (WHERE devices_known > 0) AS completeness,
       {latency_sums} AS latency
FROM feed_hours WHERE hour >= $start AND hour < $end
GROUP BY feed_id ORDER BY feed_id
"""


@dataclass(frozen=True)
class FeedTotals:
    """A feed's hours of a period added up."""

    feed_id: str
    hours: int  # its rolled-up hours in the period
    ok_s: float
    messages: int
    readings: int
    suspect: int
    dead_letters: int
    device_hours: int  # hours in which it knew at least one device
    completeness: float | None  # the mean over those hours of the share of its devices that reported
    latency: tuple[int, ...]  # readings per latency bucket


def roll_up(cur, start: datetime, end: datetime, bounds: Sequence[float]) -> int:
    """Roll up the whole UTC hours of [start, end) for every feed, replacing their rows, and note that hours before
    `end` are rolled up; one transaction. `bounds` are the latency buckets' upper bounds in seconds, ascending (one
    more bucket holds the rest). Returns the rows written."""
    no_latency = "ARRAY[" + ", ".join(["0"] * (len(bounds) + 1)) + "]::BIGINT[]"
    sql = _ROLL_UP.format(latency_counts=_latency_counts(bounds), no_latency=no_latency)
    with transaction(cur):
        cur.execute("DELETE FROM feed_hours WHERE hour >= $start AND hour < $end", {"start": start, "end": end})
        (rows,) = cur.execute(sql, {"start": start, "end": end}).fetchone()
        cur.execute(
            "INSERT INTO summary_progress VALUES ($name, $end) "
            "ON CONFLICT (name) DO UPDATE SET until = greatest(summary_progress.until, excluded.until)",
            {"name": PROGRESS, "end": end},
        )
    return rows


def rolled_until(cur) -> datetime | None:
    """The end of the newest hour rolled up (None: none yet)."""
    row = cur.execute("SELECT until FROM summary_progress WHERE name = $name", {"name": PROGRESS}).fetchone()
    return row[0] if row else None


def first_stored(cur) -> datetime | None:
    """When the oldest data still stored came: the oldest reading kept, or without readings the oldest event or dead
    letter. Events and dead letters outlive retention; hours of theirs older than the oldest reading kept would be
    scored as hours in which no device reported, when in truth their readings were summarised away."""
    (oldest,) = cur.execute("SELECT min(received_at) FROM observations").fetchone()
    if oldest is None:
        (oldest,) = cur.execute(
            "SELECT least((SELECT min(received_at) FROM events), (SELECT min(ts) FROM dead_letters))"
        ).fetchone()
    return oldest


def totals(cur, start: datetime, end: datetime, buckets: int) -> list[FeedTotals]:
    """Each feed's rolled-up hours that begin in [start, end), added up; `buckets` is the length of the latency
    counts (the bounds and one)."""
    sums = "ARRAY[" + ", ".join(f"sum(latency[{i + 1}])" for i in range(buckets)) + "]"
    rows = cur.execute(_TOTALS.format(latency_sums=sums), {"start": start, "end": end}).fetchall()
    return [FeedTotals(*row[:-1], latency=tuple(int(n) for n in row[-1])) for row in rows]


def hours(cur, start: datetime, end: datetime) -> pd.DataFrame:
    """The rolled-up rows of the hours that begin in [start, end), by feed and hour."""
    return frame(
        cur,
        "SELECT * FROM feed_hours WHERE hour >= $start AND hour < $end ORDER BY feed_id, hour",
        {"start": start, "end": end},
    )


def _latency_counts(bounds: Sequence[float]) -> str:
    """The readings per bucket as one list: below the first bound, between each pair (lower bound included), and
    at or above the last. A negative delay (the source's clock ahead of ours) counts in the first bucket."""
    edges = [float(b) for b in bounds]
    if not edges or edges != sorted(set(edges)):
        raise ValueError(f"latency bounds go up strictly: {bounds}")
    lower, upper = [None, *edges], [*edges, None]
    counts = []
    for low, high in zip(lower, upper, strict=True):
        terms = [f"delay_s >= {low!r}" if low is not None else "", f"delay_s < {high!r}" if high is not None else ""]
        counts.append(f"count(*) FILTER (WHERE {' AND '.join(t for t in terms if t)})")
    return "ARRAY[" + ", ".join(counts) + "]"
