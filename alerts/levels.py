"""China's four warning colours and a device's status from its latest value.

red (I) > orange (II) > yellow (III) > blue (IV); then `ok`. An entity's `levels` attribute names the metric that
decides its status and the threshold of each colour, e.g.
{"metric": "water_level", "blue": 11.5, "yellow": 12.0, "orange": 13.1, "red": 14.2}; a value at or above a
threshold takes its colour (for a "direction": "below" metric, at or below).

Why is this device grey? It is one of these, never shown as `ok`:
- `offline`: it reports itself offline (a camera's `online` metric below 0.5);
- `nodata`: its latest reading is not fresh (`fresh`): older than its feed's `stale_after_s`, or none at all;
- `nodata`: its feed is down, whatever the age of its readings (store/feed_health.py says why the feed is);
- `nodata`: its `levels` name a metric it has never reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from store.records import SEVERITIES

STATUS_RANK: dict[str, int] = {
    "red": 6,
    "orange": 5,
    "yellow": 4,
    "blue": 3,
    "offline": 2,
    "nodata": 1,
    "ok": 0,
}
STATUS_CODE: dict[str, str] = {
    "red": "r",
    "orange": "o",
    "yellow": "y",
    "blue": "b",
    "ok": "k",
    "nodata": "n",
    "offline": "x",
}


def level_of(value: float | None, levels: dict[str, Any] | None) -> str:
    """The colour of `value` under `levels`, or 'ok'; None values are not judged here (see status_of)."""
    if value is None or not levels:
        return "ok"
    below = levels.get("direction") == "below"
    for colour in SEVERITIES:
        threshold = levels.get(colour)
        if threshold is None:
            continue
        if (value <= threshold) if below else (value >= threshold):
            return colour
    return "ok"


def statuses(value: np.ndarray, thresholds: dict[str, np.ndarray], below: np.ndarray, has_levels: np.ndarray, *,
             fresh: np.ndarray, online: np.ndarray) -> np.ndarray:  # fmt: skip
    """`status_of` over arrays, one element per device (at city scale a loop over devices is too slow):
    `value`, `online` and each colour's threshold are floats with NaN for none; `below`, `has_levels` (levels that
    are not empty) and `fresh` booleans."""
    out = np.full(len(value), "ok", dtype=object)
    for colour in reversed(SEVERITIES):  # blue first: a more severe colour that also holds wins
        threshold = thresholds[colour]
        with np.errstate(invalid="ignore"):
            hit = np.where(below, value <= threshold, value >= threshold)
        out[has_levels & hit] = colour  # a comparison with NaN (no value, no threshold) is never a hit
    out[~fresh | (has_levels & np.isnan(value))] = "nodata"
    out[online < 0.5] = "offline"  # NaN (no online flag) is not below
    return out


def summarize_groups(ranks: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """`summarize` for many groups at once, as array operations: `ranks` are STATUS_RANK values, `groups` each
    one's group number (0 to count - 1); returns each group's summary as a STATUS_RANK value."""
    worst = np.full(count, -1, dtype=np.int16)
    np.maximum.at(worst, groups, np.where(ranks >= STATUS_RANK["blue"], ranks, -1).astype(np.int16))
    silent = np.bincount(groups, weights=np.isin(ranks, (STATUS_RANK["nodata"], STATUS_RANK["offline"])),
                         minlength=count)  # fmt: skip
    total = np.bincount(groups, minlength=count)
    quiet = np.where(2 * silent >= total, STATUS_RANK["nodata"], STATUS_RANK["ok"])
    return np.where(worst >= 0, worst, quiet)


_RANK_OF_CODE = np.full(128, -1, dtype=np.int8)
for _status, _code in STATUS_CODE.items():
    _RANK_OF_CODE[ord(_code)] = STATUS_RANK[_status]
_CODE_OF_RANK = np.zeros(max(STATUS_RANK.values()) + 1, dtype=np.uint8)
for _status, _rank in STATUS_RANK.items():
    _CODE_OF_RANK[_rank] = ord(STATUS_CODE[_status])


def status_codes(codes: str, count: int) -> np.ndarray:
    """`count` devices' status codes (STATUS_CODE, one letter each) as bytes; a device past the end of `codes` has
    no status yet, so no data."""
    out = np.full(count, ord(STATUS_CODE["nodata"]), dtype=np.uint8)
    known = np.frombuffer(codes.encode("ascii"), dtype=np.uint8)[:count]
    out[: len(known)] = known
    return out


def summarize_codes(codes: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """`summarize_groups` over status codes as bytes (status_codes): each group's summary code."""
    return _CODE_OF_RANK[summarize_groups(_RANK_OF_CODE[codes], groups, count)]


def fresh(age_s: np.ndarray, stale_after_s: np.ndarray, feed_down: np.ndarray) -> np.ndarray:
    """Whether each device's latest reading still stands: no older than its feed's `stale_after_s`, and its feed not
    down. A feed that is down makes its devices unavailable at once, as a failed fetch does in Home Assistant: their
    last values are not shown as current while they age out. A device that never reported (NaN age) is not fresh."""
    return (age_s <= stale_after_s) & ~feed_down


def status_of(value: float | None, levels: dict[str, Any] | None, *, fresh: bool, online: float | None) -> str:
    """A device's status: offline, no data (silent, or silent on the metric its levels name), or its colour."""
    if online is not None and online < 0.5:
        return "offline"
    if not fresh or (levels and value is None):
        return "nodata"
    return level_of(value, levels)


def summarize(statuses) -> str:
    """The status that stands for a group (a district, a cluster): its worst warning colour if it has one;
    otherwise `nodata` when at least half of it is silent or offline (or it is empty), else `ok`.
    dashboard/assets/cityops_map.js applies the same rule to clusters."""
    worst = None
    silent = total = 0
    for status in statuses:
        total += 1
        if status in ("nodata", "offline"):
            silent += 1
        elif status != "ok" and (worst is None or STATUS_RANK[status] > STATUS_RANK[worst]):
            worst = status
    if worst is not None:
        return worst
    return "nodata" if total == 0 or 2 * silent >= total else "ok"
