"""What the rule engine reads from the store: SQL only; what it means is decided in alerts/.

The entity table the rules select from, the latest values and the spans that rates are computed from, the feeds'
last messages, the number of events near a place, and the chain of an official warning's messages.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa

from store.database import arrow, frame
from store.transaction import registered

Cursor = duckdb.DuckDBPyConnection


def entity_table(cur: Cursor) -> pd.DataFrame:
    """Every entity, ordered by id, with `attributes` as dicts."""
    table = frame(
        cur,
        "SELECT id, name, domain, kind, feed_id, district_id, town_id, grid_id, lon, lat, first_seen, attributes "
        "FROM entities ORDER BY id",
    )
    table["attributes"] = [json.loads(a) if a else {} for a in table["attributes"]]
    return table


def latest_and_spans(
    cur: Cursor, ids: list[str], spans_since: dict[str, datetime]
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """For the entities `ids`: their latest values (entity_id, metric, value, us: epoch microseconds), and for each
    metric of `spans_since` the span of its values since then (entity_id, first, last, hours between them)."""
    # The ids go in as a registered Arrow table: binding thousands of strings as a parameter costs more.
    with registered(cur, "frame_ids", pa.table({"entity_id": pa.array(ids, pa.string())})):
        latest = arrow(
            cur,
            "SELECT entity_id, metric, value, epoch_us(ts) AS us FROM latest "
            "WHERE entity_id IN (SELECT entity_id FROM frame_ids)",
        )
        spans = {
            metric: arrow(
                cur,
                "SELECT entity_id, arg_min(value, ts) AS first, arg_max(value, ts) AS last, "
                "(epoch_us(max(ts)) - epoch_us(min(ts))) / 3.6e9 AS hours FROM observations "
                "WHERE entity_id IN (SELECT entity_id FROM frame_ids) "
                "AND metric = $metric AND ts >= $since AND value IS NOT NULL AND quality <> 'suspect' "
                "GROUP BY entity_id",
                {"metric": metric, "since": since},
            )
            for metric, since in spans_since.items()
        }
    return latest, spans


def events_near(cur: Cursor, since: datetime, event_type: str | None, domain: str | None, lon: float, lat: float,
                km: float) -> int:  # fmt: skip
    """How many events since `since` (of that type and domain, None: any) lie within `km` of (lon, lat)."""
    return cur.execute(
        """
        SELECT count(*) FROM events
        WHERE ts >= $since AND (CAST($type AS VARCHAR) IS NULL OR type = $type)
          AND (CAST($domain AS VARCHAR) IS NULL OR domain = $domain)
          AND lon IS NOT NULL
          AND 2 * 6371 * asin(sqrt(pow(sin(radians(lat - $lat) / 2), 2)
              + cos(radians($lat)) * cos(radians(lat)) * pow(sin(radians(lon - $lon) / 2), 2))) <= $km
        """,
        {"since": since, "type": event_type, "domain": domain, "lat": lat, "lon": lon, "km": km},
    ).fetchone()[0]


def references_of(cur: Cursor, feed_id: str, msg_id: str) -> list[str]:
    """The messages an official warning's message (by its feed and msg_id) follows: what its Update or Cancel
    names."""
    rows = cur.execute(
        "SELECT refs FROM events WHERE feed_id = ? AND msg_id = ? AND refs IS NOT NULL", [feed_id, msg_id]
    ).fetchall()
    return [reference for (refs,) in rows for reference in refs]


def cancelled(cur: Cursor, feed_id: str, chain: list[str]) -> bool:
    """Whether a Cancel of any of these messages is stored (it may have come before them)."""
    row = cur.execute(
        "SELECT 1 FROM events WHERE feed_id = ? AND details->>'msg_type' = 'Cancel' AND list_has_any(refs, ?) LIMIT 1",
        [feed_id, chain],
    ).fetchone()
    return row is not None
