"""NASA FIRMS active-fire text files (MODIS and VIIRS, near-real-time and archive) → fire events.

Columns are found by header name (MODIS and VIIRS files differ). `acq_time` is HHMM in UTC and is zero-padded
again when a tool dropped the padding. `confidence` is 0–100 for MODIS and l / n / h for VIIRS; both become
low / nominal / high. VIIRS brightness of 367 K and more is a saturated sensor, not a temperature, and is said so.
The same detection twice (same place, time and satellite) is one event; its id is stable across files. A file
with the header only is valid: no fire was detected.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime

from feeds.decoders.base import DecodeError, Message
from store.records import Decoded, Event

REQUIRED = ("latitude", "longitude", "acq_date", "acq_time")
VIIRS_SATURATION_K = 367.0
LETTERS = {"l": "low", "n": "nominal", "h": "high"}


def confidence(raw: str) -> str:
    raw = raw.strip().lower()
    if raw in LETTERS:
        return LETTERS[raw]
    try:
        value = float(raw)
    except ValueError:
        raise DecodeError(f"confidence {raw[:10]!r} is neither 0-100 nor l/n/h") from None
    # FIRMS MODIS guidance: < 30 low, 30-79 nominal, >= 80 high.
    return "low" if value < 30 else "nominal" if value < 80 else "high"


def decode(message: Message) -> Decoded:
    try:
        text = message.payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise DecodeError(f"not CSV: {exc}") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DecodeError(f"not a FIRMS file: no column {', '.join(missing)} (header: {','.join(header)[:120]})")
    reader.fieldnames = header
    events: dict[str, Event] = {}
    try:
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise DecodeError(f"line {line}: more fields than the header has")
            try:
                events.setdefault(*_event(row, message))
            except DecodeError as exc:
                raise DecodeError(f"line {line}: {exc}") from None
    except csv.Error as exc:
        raise DecodeError(f"line {reader.line_num}: not CSV: {exc}") from None
    return Decoded(events=list(events.values()))


def _event(row: dict[str, str], message: Message) -> tuple[str, Event]:
    try:
        lat, lon = float(row["latitude"]), float(row["longitude"])
    except (TypeError, ValueError):
        raise DecodeError(
            f"latitude/longitude not numbers: {row.get('latitude')!r}, {row.get('longitude')!r}"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DecodeError(f"coordinate out of range: {lat}, {lon}")
    hhmm = (row["acq_time"] or "").strip()
    if not hhmm.isdigit() or len(hhmm) > 4:
        raise DecodeError(f"acq_time {hhmm[:10]!r} is not HHMM")
    hhmm = hhmm.zfill(4)
    try:
        ts = datetime.strptime(f"{row['acq_date'].strip()} {hhmm}", "%Y-%m-%d %H%M").replace(tzinfo=UTC)
    except ValueError:
        raise DecodeError(f"acq_date/acq_time {row['acq_date']!r} {hhmm!r} is not a date and time") from None
    satellite = (row.get("satellite") or "").strip()
    instrument = (row.get("instrument") or ("MODIS" if satellite in ("T", "A", "Terra", "Aqua") else "")).strip()
    level = confidence(row["confidence"]) if row.get("confidence") is not None else "unknown"
    details = [f"{instrument or 'FIRMS'} {satellite}".strip(), f"confidence {level}"]
    if row.get("frp"):
        details.append(f"FRP {row['frp'].strip()} MW")
    if row.get("brightness"):
        try:
            kelvin = float(row["brightness"])
        except ValueError:
            raise DecodeError(f"brightness {row['brightness'][:10]!r} is not a number") from None
        saturated = instrument == "VIIRS" and kelvin >= VIIRS_SATURATION_K
        details.append(f"brightness {kelvin:g} K" + (" (saturated)" if saturated else ""))
    key = f"{lat:.5f},{lon:.5f},{ts:%Y%m%d%H%M},{satellite}"
    source_id = "firms-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    event = Event(
        id=f"{message.feed_id}:{source_id}",
        feed_id=message.feed_id,
        msg_id=source_id,
        domain="fire",
        type="hotspot",
        ts=ts,
        lon=lon,
        lat=lat,
        title="Active fire detection",
        description=", ".join(details),
        source_ref=message.source,
        raw=",".join(f"{k}={v}" for k, v in row.items())[:2000],
    )
    return event.id, event
