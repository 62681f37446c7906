"""Times as people in the city read them: in the city's time zone, whatever zone they were stored in."""

from __future__ import annotations

import pandas as pd


def local_time(value, tz: str, pattern: str = "%m-%d %H:%M:%S") -> str:
    """`value` (a datetime or timestamp, with a zone) in `tz`; empty for a missing time."""
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).tz_convert(tz).strftime(pattern)
