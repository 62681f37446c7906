"""SL 651-2014 (水文监测数据通信规约): the frames China's rain, river, reservoir and gate stations send to their
centre, in HEX/BCD or ASCII, each checked by its CRC.

The clauses cited are those of the standard (its 报批稿 text; the published print has the same numbering):
- HEX frame (6.5, 表20/21): `7E7E`, centre address (1 byte), station address (5), password (2), function code (1),
  direction (high 4 bits, 0 up / 8 down) and body length L (12 bits), STX `02` (SYN `16` with 3 packet bytes for a
  message of several packets, 6.5.3), the body, ETX `03` / ETB `17`, and a CRC-16 high byte first: L + 17 bytes.
  A downward frame (centre → station) carries the station address first.
- ASCII frame (6.4, 表16): SOH `01`, the same header written as hex characters, the body as `identifier value`
  pairs with a closing space (6.6.2.1), the CRC as 4 hex characters: L + 29 bytes.
- CRC (表11): CRC-16 with the polynomial x16+x15+x2+1, reflected (0xA001), preset 0xFFFF (H.3.2), over every byte
  before it, written high byte first: CRC-16/MODBUS, sent big-endian.
- Body (6.6.1, 表24): serial number (2 bytes), send time (6 bytes BCD YYMMDDHHmmSS), then for each station
  `F1F1` + address + its class letter (附录A), `F0F0` + observation time (5 bytes BCD YYMMDDHHmm), which applies
  to the elements after it until the next, and the elements (6.6.3, 表26): an identifier (附录C 表C.1; `FF` and one
  more byte for one of the user's own), a definition byte (high 5 bits the bytes of data, low 3 the decimals) and
  the value in BCD; a leading `FF` byte makes it negative (6.6.3.3 a). The frame's definition byte decides the width,
  as stations differ from the table's nominal one.
- Series (表C.1 notes): DRP `F4` twelve 5-minute rains of one byte each (0.1 mm, `FF` none), DRZ1–8 `F5`–`FC` twelve
  5-minute levels of two bytes (cm, `FFFF` none), in binary, from the observation time on. A uniform-interval report
  (31H) and a period reply (38H) give a time step (`04 18` + d h m in BCD) and one element followed by its values.

Which function codes carry readings (附录B): 32 timed, 33 added, 34 hourly, 31 uniform interval, and the replies
37, 38 and 3A. A test report (30H) is no reading: its values are counted as refused. A link keep-alive (2FH), a
manual entry (35H), a picture (36H) and the centre's own frames change no device; they tell that the feed is alive.
A message of several packets (SYN, 6.5.3) is read when all its packets come in one payload.
A value that is no BCD (`AAAAAAAA`, all `F`: stations' "no reading") is missing. Times are the stations' clocks,
Beijing time unless the feed says another zone. Stations do not send where they stand: the feed's `stations` table
(CSV: address, name, lon, lat) places them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from feeds.decoders.base import DecodeError, FeedOptions, Message
from store.records import Decoded, Entity, Observation

BEIJING = ZoneInfo("Asia/Shanghai")
STX, SYN, ETX, ETB = 0x02, 0x16, 0x03, 0x17
END_CHARS = {0x03, 0x17, 0x05, 0x04, 0x06, 0x15, 0x1B}  # ETX ETB ENQ EOT ACK NAK ESC (表10)
READINGS = {0x31, 0x32, 0x33, 0x34, 0x37, 0x38, 0x3A, 0x44}
SERIES_FUNCTIONS = {0x31, 0x38}  # an element followed by its values at the time step
TEST = 0x30
STATUS = 0x45
FIVE_MINUTES = timedelta(minutes=5)
PADDING = set(b"\x7e\x00\r\n\t ")

# 附录A: the station's class letter → the kind of device.
KINDS = {"P": "rain_gauge", "H": "river_gauge", "K": "reservoir_gauge", "Z": "gate", "D": "pump_station",
         "T": "tide_gauge", "M": "soil_moisture", "G": "groundwater_well", "Q": "water_quality", "I": "intake",
         "O": "outlet"}  # fmt: skip
# 附录C 表C.1: identifier → (its ASCII name, the metric it is stored as, unit). Unknown identifiers are kept as
# `sl651_<hex>` with no unit; a feed's `metrics` renames any of them.
ELEMENTS: dict[int, tuple[str, str, str]] = {
    0x02: ("AI", "air_temperature", "°C"), 0x03: ("C", "water_temperature", "°C"),
    0x06: ("ED", "evaporation_day", "mm"), 0x07: ("EJ", "evaporation", "mm"), 0x08: ("FL", "air_pressure", "hPa"),
    0x09: ("GH", "gate_opening", "m"), 0x0E: ("H", "groundwater_depth", "m"), 0x0F: ("HW", "wave_height", "m"),
    0x18: ("MST", "humidity", "%"), 0x19: ("NS", "units_running", ""),
    0x1A: ("P1", "rain_1h", "mm"), 0x1B: ("P2", "rain_2h", "mm"), 0x1C: ("P3", "rain_3h", "mm"),
    0x1D: ("P6", "rain_6h", "mm"), 0x1E: ("P12", "rain_12h", "mm"), 0x1F: ("PD", "rain_day", "mm"),
    0x20: ("PJ", "rain_current", "mm"), 0x21: ("PN01", "rain_1min", "mm"), 0x22: ("PN05", "rain_5min", "mm"),
    0x23: ("PN10", "rain_10min", "mm"), 0x24: ("PN30", "rain_30min", "mm"), 0x25: ("PR", "rain_storm", "mm"),
    0x26: ("PT", "rain_total", "mm"), 0x27: ("Q", "discharge", "m3/s"), 0x30: ("QA", "outflow_total", "m3/s"),
    0x33: ("UC", "wind_direction", ""), 0x34: ("UE", "wind_force", ""), 0x35: ("US", "wind_speed", "m/s"),
    0x36: ("VA", "velocity_mean", "m/s"), 0x37: ("VJ", "velocity", "m/s"), 0x38: ("VT", "voltage", "V"),
    0x39: ("Z", "water_level", "m"), 0x3A: ("ZB", "downstream_level", "m"), 0x3B: ("ZU", "upstream_level", "m"),
    0x44: ("SQ", "sediment", "kg/m3"),
    **{0x10 + i: (f"M{d}", f"soil_moisture_{d}cm", "%") for i, d in enumerate((10, 20, 30, 40, 50, 60, 80, 100))},
    **{0x28 + i: (f"Q{i + 1}", f"discharge_{i + 1}", "m3/s") for i in range(8)},
    **{0x3C + i: (f"Z{i + 1}", f"water_level_{i + 1}", "m") for i in range(8)},
}  # fmt: skip
# The 5-minute series: DRP rain, DRZ1–8 levels (binary, not BCD).
SERIES = {0xF4: ("DRP", "rain_5min", "mm", 1, 0.1), **{0xF5 + i: (f"DRZ{i + 1}", "water_level" if i == 0 else
          f"water_level_{i + 1}", "m", 2, 0.01) for i in range(8)}}  # fmt: skip
ASCII_NAMES = {ascii_name: guide for guide, (ascii_name, _, _) in ELEMENTS.items()}
_STEP = re.compile(r"^DR([DHN])(\d\d)$")


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, preset 0xFFFF), as 表11 and H.3.2 define it."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass
class Reading:
    metric: str
    value: float | None
    unit: str
    ts: datetime


@dataclass
class Station:
    address: str  # the 10 hex digits as sent: many stations' addresses are no valid BCD
    kind: str
    readings: list[Reading] = field(default_factory=list)


@dataclass
class Frame:
    function: int
    upward: bool
    centre: int
    address: str
    serial: int | None = None
    sent: datetime | None = None
    stations: list[Station] = field(default_factory=list)
    packet: tuple[int, int] | None = None  # (this packet, of how many) for a message of several
    body: bytes = b""  # a packet's part of its message's body, read once all its packets are there


def parse(payload: bytes, zone: tzinfo = BEIJING) -> list[Frame]:
    """Every frame of `payload` (raw bytes, or a HEX frame written as hex text), its CRC checked."""
    data = _unhex(payload)
    frames, at = [], 0
    while at < len(data):
        if data[at : at + 2] == b"\x7e\x7e":
            frame, at = _hex_frame(data, at, zone)
        elif data[at] == 0x01:
            frame, at = _ascii_frame(data, at, zone)
        elif len(data) - at < 17 and set(data[at:]) <= PADDING:
            break  # what a serial line or a gateway leaves after the last frame, too short to be one
        else:
            raise DecodeError(f"byte {at}: no frame starts here (0x{data[at]:02X}; a frame starts 7E7E or 01)")
        frames.append(frame)
    if not frames:
        raise DecodeError("no SL 651 frame in the payload")
    return _joined(frames, zone)


def _joined(frames: list[Frame], zone: tzinfo) -> list[Frame]:
    """The frames with each message of several packets (6.5.3) read as one, when all its packets came in this
    payload; the packets of a message not all here stay unread (a picture's, usually): the message is then the
    station's to send again."""
    out: list[Frame] = []
    waiting: dict[tuple, dict[int, Frame]] = {}
    for frame in frames:
        if frame.packet is None or not frame.upward:
            out.append(frame)
            continue
        number, total = frame.packet
        key = (frame.address, frame.function, total)
        parts = waiting.setdefault(key, {})
        parts[number] = frame
        if len(parts) == total and set(parts) == set(range(1, total + 1)):
            first = parts[1]
            if first.function not in (0x36,):  # a picture's bytes are not read
                _hex_body(first, b"".join(parts[n].body for n in range(1, total + 1)), zone)
            out.append(first)
            del waiting[key]
    out += [part for parts in waiting.values() for part in parts.values()]  # unread: no station, no time
    return out


def _unhex(payload: bytes) -> bytes:
    """A HEX frame as gateways often forward it, written as hex text (spaces allowed), or the bytes as they are."""
    text = re.sub(rb"\s+", b"", payload)
    if text[:4].upper() == b"7E7E" and re.fullmatch(rb"[0-9A-Fa-f]+", text):
        if len(text) % 2:
            raise DecodeError("hex text with an odd number of digits")
        return bytes.fromhex(text.decode("ascii"))
    return payload


def _hex_frame(data: bytes, at: int, zone: tzinfo) -> tuple[Frame, int]:
    if len(data) - at < 17:
        raise DecodeError(f"byte {at}: a HEX frame of {len(data) - at} bytes; the shortest is 17")
    head = data[at + 11 : at + 13]
    upward = head[0] >> 4 == 0
    if head[0] >> 4 not in (0, 8):
        raise DecodeError(f"byte {at + 11}: direction 0x{head[0] >> 4:X} is neither up (0) nor down (8)")
    length = ((head[0] & 0x0F) << 8) | head[1]
    end = at + 14 + length
    if end + 3 > len(data):
        raise DecodeError(f"byte {at}: the frame says its body is {length} bytes; only {len(data) - at - 17} follow")
    frame_bytes = data[at : end + 3]
    _check_crc(frame_bytes[:-2], int.from_bytes(frame_bytes[-2:], "big"), at)
    if data[end] not in END_CHARS:
        raise DecodeError(f"byte {end}: 0x{data[end]:02X} is no end character (ETX, ETB, ENQ, EOT, ACK, NAK, ESC)")
    first, second = (data[at + 2 : at + 3], data[at + 3 : at + 8]) if upward else (data[at + 7 : at + 8],
                                                                                     data[at + 2 : at + 7])  # fmt: skip
    frame = Frame(data[at + 10], upward, first[0], second.hex().upper())
    body = data[at + 14 : end]
    if data[at + 13] == SYN:
        if len(body) < 3:
            raise DecodeError(f"byte {at + 13}: a packet of a longer message without its packet numbers")
        packets = int.from_bytes(body[:3], "big")
        frame.packet, frame.body = (packets & 0xFFF, packets >> 12), body[3:]
        return frame, end + 3  # read with its message's other packets (_joined)
    elif data[at + 13] != STX:
        raise DecodeError(f"byte {at + 13}: 0x{data[at + 13]:02X} where the body starts (STX 02 or SYN 16)")
    if upward:
        _hex_body(frame, body, zone)
    return frame, end + 3


def _check_crc(covered: bytes, sent: int, at: int) -> None:
    if crc16(covered) != sent:
        raise DecodeError(f"frame at byte {at}: CRC {sent:04X} does not match its contents ({crc16(covered):04X})")


def _hex_body(frame: Frame, body: bytes, zone: tzinfo) -> None:
    if len(body) < 8:
        raise DecodeError(f"a body of {len(body)} bytes; it starts with a serial number and the time it was sent")
    frame.serial = int.from_bytes(body[:2], "big")
    frame.sent = _bcd_time(body[2:8], "send time", zone)
    station: Station | None = None
    observed = frame.sent
    step: timedelta | None = None
    at = 8
    while at < len(body):
        guide = body[at]
        pair = body[at : at + 2]
        if pair == b"\xf1\xf1":
            if at + 8 > len(body):
                raise DecodeError(f"body byte {at}: a station address cut short")
            station = Station(body[at + 2 : at + 7].hex().upper(), KINDS.get(chr(body[at + 7]), "station"))
            frame.stations.append(station)
            at += 8
            continue
        if pair == b"\xf0\xf0":
            observed = _bcd_time(body[at + 2 : at + 7], "observation time", zone)
            at += 7
            continue
        if station is None:
            if frame.function in READINGS or frame.function == TEST:
                raise DecodeError(f"body byte {at}: an element before the station's address (F1F1)")
            return  # a reply that names no station (a clock, a version): nothing to read
        if guide in (0xF2, 0xF3, 0xFD):  # manual text, a picture, a batch: the rest of the body is theirs
            return
        if pair == b"\x04\x18":
            step = _bcd_step(body[at + 2 : at + 5], at)
            at += 5
            continue
        if guide in SERIES:
            name, metric, unit, width, scale = SERIES[guide]
            values = body[at + 2 : at + 2 + 12 * width]
            if len(values) < 12 * width:
                raise DecodeError(f"body byte {at}: {name} needs {12 * width} bytes, {len(values)} follow")
            none = (1 << (8 * width)) - 1
            for i in range(12):
                raw = int.from_bytes(values[i * width : (i + 1) * width], "big")
                value = None if raw == none else round(raw * scale, 2)
                station.readings.append(Reading(metric, value, unit, observed + i * FIVE_MINUTES))
            at += 2 + 12 * width  # the table's width, whatever the definition byte says (stations err there)
            continue
        if guide == 0xFF:  # one of the user's own identifiers: FF and one more byte (6.6.3.2)
            if at + 1 >= len(body):
                raise DecodeError(f"body byte {at}: an extended identifier (FF) cut short")
            key, at = f"ff{body[at + 1]:02x}", at + 2
        else:
            key, at = f"{guide:02x}", at + 1
        if at >= len(body):
            raise DecodeError(f"body byte {at}: element {key.upper()} without its definition byte")
        width, decimals = body[at] >> 3, body[at] & 0x07
        at += 1
        if guide == STATUS:  # ZT: the station's states and alarms as bits (表58), binary, not BCD
            if width == 0 or at + width > len(body):
                raise DecodeError(f"body byte {at}: status element says {width} bytes; {len(body) - at} remain")
            station.readings.append(Reading("station_status", int.from_bytes(body[at : at + width], "big"), "",
                                            observed))  # fmt: skip
            at += width
            continue
        _, metric, unit = ELEMENTS.get(guide, ("", f"sl651_{key}", "")) if guide != 0xFF else ("", f"sl651_{key}", "")
        count = 1
        if frame.function in SERIES_FUNCTIONS and step is not None:
            count = (len(body) - at) // max(width, 1)  # the element's values, one per step, to the end of the body
        for i in range(count):
            if width == 0 or at + width > len(body):
                raise DecodeError(f"body byte {at}: element {key.upper()} says {width} bytes; "
                                  f"{len(body) - at} remain")  # fmt: skip
            value = _bcd_value(body[at : at + width], decimals)
            station.readings.append(Reading(metric, value, unit, observed + i * (step or timedelta(0))))
            at += width


def _bcd_digits(raw: bytes) -> str | None:
    digits = raw.hex()
    return digits if digits.isdigit() else None


def _bcd_value(raw: bytes, decimals: int) -> float | None:
    """A BCD value; negative after a leading FF byte (6.6.3.3 a) or a leading F nibble (stations that write it so);
    None when it is no BCD (the stations' "no reading": AAAAAAAA, all F)."""
    sign = 1
    if len(raw) > 1 and raw[0] == 0xFF:
        sign, raw = -1, raw[1:]
    elif raw and raw[0] >> 4 == 0xF and raw[0] != 0xFF:
        sign, raw = -1, bytes([raw[0] & 0x0F]) + raw[1:]
    digits = _bcd_digits(raw)
    if digits is None:
        return None
    return sign * int(digits) / 10**decimals


def _bcd_time(raw: bytes, what: str, zone: tzinfo) -> datetime:
    digits = _bcd_digits(raw)
    if digits is None or len(digits) not in (10, 12):
        raise DecodeError(f"{what} {raw.hex().upper()} is no BCD time")
    return _time(digits, what, zone)


def _time(digits: str, what: str, zone: tzinfo) -> datetime:
    try:
        parts = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
        moment = datetime(2000 + parts[0], parts[1], parts[2], parts[3], parts[4], parts[5] if len(parts) > 5 else 0,
                          tzinfo=zone)  # fmt: skip
    except (ValueError, IndexError):
        raise DecodeError(f"{what} {digits} is no date and time") from None
    return moment.astimezone(UTC)


def _bcd_step(raw: bytes, at: int) -> timedelta:
    digits = _bcd_digits(raw)
    if digits is None or len(digits) != 6:
        raise DecodeError(f"body byte {at}: time step {raw.hex().upper()} is no BCD day, hour and minute")
    days, hours, minutes = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    return timedelta(days=days, hours=hours, minutes=minutes)


def _ascii_frame(data: bytes, at: int, zone: tzinfo) -> tuple[Frame, int]:
    """SOH, then in hex characters: centre (2) and station (10) addresses (the station first when downward),
    password (4), function code (2), direction and body length (4); STX or SYN (6.4, 表16)."""
    head = data[at : at + 24]
    if len(head) < 24 or not re.fullmatch(rb"[0-9A-Fa-f]{22}", head[1:23]) or head[23] not in (STX, SYN):
        raise DecodeError(f"byte {at}: SOH without the header of an ASCII frame")
    text = head[1:23].decode("ascii")
    if text[18] not in "08":
        raise DecodeError(f"byte {at + 19}: direction {text[18]} is neither up (0) nor down (8)")
    upward = text[18] == "0"
    length = int(text[19:22], 16)  # of the body, a packet's 6 characters of numbers counted in it (as HEX does)
    start = at + 24
    end = start + length
    if end + 5 > len(data):
        raise DecodeError(f"byte {at}: the frame says its body is {length} characters; fewer follow")
    crc_text = data[end + 1 : end + 5]
    if not re.fullmatch(rb"[0-9A-Fa-f]{4}", crc_text):
        raise DecodeError(f"byte {end + 1}: the CRC {crc_text!r} is not 4 hex characters")
    _check_crc(data[at : end + 1], int(crc_text, 16), at)
    if data[end] not in END_CHARS:
        raise DecodeError(f"byte {end}: 0x{data[end]:02X} is no end character")
    centre, address = (text[0:2], text[2:12]) if upward else (text[10:12], text[0:10])
    frame = Frame(int(text[16:18], 16), upward, int(centre, 16), address.upper())
    if head[23] == SYN:  # an ASCII message of several packets: not seen in the field; left unread (no station)
        return frame, end + 5
    if upward:
        _ascii_body(frame, data[start:end].decode("ascii", errors="replace"), zone)
    return frame, end + 5


def _ascii_body(frame: Frame, body: str, zone: tzinfo) -> None:
    if len(body) < 16 or not re.fullmatch(r"[0-9A-Fa-f]{4}\d{12}", body[:16]):
        raise DecodeError("the body does not start with a serial number (4 hex) and the time it was sent (12 digits)")
    frame.serial = int(body[:4], 16)
    frame.sent = _time(body[4:16], "send time", zone)
    tokens = body[16:].split()
    station: Station | None = None
    observed = frame.sent
    step: timedelta | None = None
    i = 0
    while i < len(tokens):
        name = tokens[i]
        if name == "ST":
            if i + 2 >= len(tokens):
                raise DecodeError("ST without the station's address and class")
            station = Station(tokens[i + 1].upper(), KINDS.get(tokens[i + 2], "station"))
            frame.stations.append(station)
            i += 3
            continue
        if name == "TT":
            observed = _time(tokens[i + 1] if i + 1 < len(tokens) else "", "observation time", zone)
            i += 2
            continue
        if station is None:
            raise DecodeError(f"element {name} before the station's address (ST)")
        if (found := _STEP.match(name)) is not None:
            unit = {"D": "days", "H": "hours", "N": "minutes"}[found.group(1)]
            step = timedelta(**{unit: int(found.group(2))})
            i += 1
            continue
        guide = ASCII_NAMES.get(name)
        _, metric, unit = ELEMENTS[guide] if guide is not None else ("", f"sl651_{name.lower()}", "")
        values = tokens[i + 1 : i + 2]
        if frame.function in SERIES_FUNCTIONS and step is not None:
            values = tokens[i + 1 :]
        if not values:
            raise DecodeError(f"element {name} without its value")
        for n, text in enumerate(values):
            when = observed + n * (step or timedelta(0))
            station.readings.append(Reading(metric, _ascii_value(name, text), unit, when))
        i += 1 + len(values)


def _ascii_value(name: str, text: str) -> float | None:
    if text == "M":  # missing (6.6.4.4 d)
        return None
    if not re.fullmatch(r"[+-]?\d+(\.\d*)?", text):  # decimal text, never "nan" or "inf"
        raise DecodeError(f"element {name}: {text[:20]!r} is no number")
    return float(text)


class Sl651:
    """The decoder of one feed: its frames, and its station table for where each station stands."""

    def __init__(self, stations: dict[str, tuple[str, float | None, float | None]]):
        self.stations = stations

    @classmethod
    def from_settings(cls, feed: FeedOptions) -> Sl651:
        if feed.mapping is not None:
            raise ValueError("the sl651 decoder takes no [feeds.mapping] table")
        return cls(read_stations(feed.stations) if feed.stations is not None else {})

    def __call__(self, message: Message) -> Decoded:
        out = Decoded()
        for frame in parse(message.payload, message.time_zone or BEIJING):
            self._frame(frame, message, out)
        return out

    def _frame(self, frame: Frame, message: Message, out: Decoded) -> None:
        if not frame.upward:
            return  # the centre's confirm or query: nothing the station said
        # A frame that names no station's class (a keep-alive, a manual entry, an unread packet) changes no device:
        # it only tells that the feed is alive.
        for station in frame.stations:
            entity_id = f"{message.feed_id}:{station.address}"
            name, lon, lat = self.stations.get(station.address, (station.address, None, None))
            out.entities.append(Entity(entity_id, message.feed_id, "flood", station.kind, name, lon, lat,
                                       attributes={"sl651_address": station.address}))  # fmt: skip
            if frame.function == TEST:
                out.discarded += len(station.readings)
                continue
            if frame.function not in READINGS:
                continue
            msg_id = f"{station.address}:{frame.serial}:{frame.sent:%Y%m%d%H%M%S}"
            for r in station.readings:
                out.observations.append(Observation(entity_id, r.metric, r.value, r.unit, r.ts, message.feed_id,
                                                    msg_id, "ok" if r.value is not None else "missing"))  # fmt: skip


def read_stations(path: Path) -> dict[str, tuple[str, float | None, float | None]]:
    """The station table: a CSV with the columns address, name, lon, lat (in the feed's CRS)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ValueError(f"stations {path}: {exc.strerror}") from None
    table = {}
    for n, row in enumerate(rows, start=2):
        missing = {"address", "name", "lon", "lat"} - set(row)
        if missing:
            raise ValueError(f"stations {path}: the columns {', '.join(sorted(missing))} are needed")
        address = row["address"].strip().upper()
        if not re.fullmatch(r"[0-9A-F]{10}", address):
            raise ValueError(f"stations {path}:{n}: address {row['address']!r} is not 10 hex digits")
        try:
            lon, lat = (float(row["lon"]), float(row["lat"])) if row["lon"].strip() else (None, None)
        except ValueError:
            raise ValueError(f"stations {path}:{n}: lon and lat must be numbers") from None
        table[address] = (row["name"].strip() or address, lon, lat)
    return table
