"""What every decoder shares: the message it reads, the one error it raises, and how it is built for a feed."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree as ET

import orjson

from store.records import Decoded


class DecodeError(ValueError):
    """The payload cannot be decoded; the message says why, for the dead-letter table."""


@dataclass(frozen=True, slots=True)
class Message:
    feed_id: str
    source: str  # MQTT topic, URL or file path
    payload: bytes
    received_at: datetime
    time_zone: tzinfo | None = None  # the feed's zone for times written without an offset

    @property
    def digest(self) -> str:
        """The message id when the source gives none: a message delivered twice has the same one."""
        return hashlib.blake2b(self.source.encode() + b"\0" + self.payload, digest_size=12).hexdigest()


Decoder = Callable[[Message], Decoded]


class FeedOptions(Protocol):
    """What a decoder's factory may read of its feed's settings (feeds.settings.FeedBase carries them)."""

    decoder: str
    mapping: Any  # the mapped-json decoder's field paths; None for every other format
    stations: Path | None  # the sl651 decoder's station table; None for every other format


# Builds the decoder of one feed from its settings; a ValueError says why they do not suit the format (the
# configuration shows it at the feed's line).
DecoderFactory = Callable[[FeedOptions], Decoder]


def fixed(decode: Decoder) -> DecoderFactory:
    """The factory of a format that reads nothing from its feed's settings: one decoder serves every feed."""

    def build(feed: FeedOptions) -> Decoder:
        if feed.mapping is not None:
            raise ValueError(f"the {feed.decoder} decoder takes no [feeds.mapping] table")
        if feed.stations is not None:
            raise ValueError(f"the {feed.decoder} decoder takes no stations table")
        return decode

    return build


def parse_json(payload: bytes) -> Any:
    """The payload as JSON, or DecodeError saying where it is not."""
    try:
        # orjson parses plain UTF-8 JSON several times faster (json.loads showed in the MQTT thread, bench/ingest.py);
        # what it refuses (a byte-order mark, UTF-16, NaN, huge integers) goes through json, which says what is wrong.
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(payload)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def parse_xml(payload: bytes) -> ET.Element:
    """The payload as XML (declared encoding and byte-order mark honoured), or DecodeError saying why not."""
    try:
        return ET.fromstring(payload)
    except ET.ParseError as exc:
        raise DecodeError(f"not well-formed XML: {exc}") from None
    except LookupError as exc:  # expat asks Python for the declared encoding, which may not exist
        encoding = str(exc).split(": ", 1)[-1][:40]
        raise DecodeError(f"XML declares an encoding Python does not know: {encoding}") from None


def parse_number(value: Any, name: str) -> float | None:
    """A number, or text that reads as one; None when missing, NaN or infinite; DecodeError otherwise (a boolean too:
    true is not a reading of 1)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DecodeError(f"'{name}' is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DecodeError(f"'{name}' is not a number: {str(value)[:30]!r}") from None
    return number if math.isfinite(number) else None


def parse_time(raw: str, name: str, assume: tzinfo | None = None) -> datetime:
    """An ISO 8601 time in UTC. One without an offset takes `assume` (the zone the source documents), or is refused."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise DecodeError(f"'{name}' is not an ISO 8601 time: {raw[:40]!r}") from None
    if value.tzinfo is None:
        if assume is None:
            raise DecodeError(f"'{name}' has no time zone: {raw[:40]!r}")
        value = value.replace(tzinfo=assume)
    return value.astimezone(UTC)


def parse_name(value: Any, field: str = "name") -> tuple[str | None, str | None]:
    """A name given as text, or in several languages: a map of language tags to text ({"zh_CN": …, "en": …}, or
    NGSI-LD's LanguageProperty, {"type": "LanguageProperty", "languageMap": {"zh": …, "en": …}}). Returns the name
    to store (the Chinese one when given, else the first) and the English one: None when there is none, or when it
    is the name stored. Tags are read by their primary subtag: "zh-Hans-CN", "zh_CN" and "zh" are Chinese."""
    if value is None:
        return None, None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value), None
    if not isinstance(value, dict):
        raise DecodeError(f"'{field}' must be text or a map of languages to text, got {type(value).__name__}")
    by_tag = value.get("languageMap", value) if value.get("type") == "LanguageProperty" else value
    if not isinstance(by_tag, dict) or not by_tag:
        raise DecodeError(f"'{field}' gives no language")
    texts: dict[str, str] = {}
    for tag, text in by_tag.items():
        if not isinstance(text, str) or not text.strip():
            raise DecodeError(f"'{field}' in {str(tag)[:20]!r} must be text")
        texts.setdefault(str(tag).replace("_", "-").split("-")[0].lower(), text)
    name, english = texts.get("zh", next(iter(texts.values()))), texts.get("en")
    return name, english if english != name else None
