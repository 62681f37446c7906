"""The names and texts of decoded records held to the `[limits]` table (store/limits.py): `name_chars` for ids,
names and the words rules match on, `text_chars` for free text.

FeedDecoding.envelope calls `check` on whatever a decoder produced, so MQTT, HTTP and file ingest, `cityops feeds
check` and the dead-letter replay apply the same limits.

A name over its limit refuses the whole message: `check` raises DecodeError naming the record, the field and its
length, and the message becomes a dead letter. Cutting would be worse: two devices whose ids differ only past the
limit would become one, and a cut metric, kind or unit is one no rule knows. An attribute's value is data the rules
read, so it is refused too. A free text over its limit (an event's title, description, source reference, raw
excerpt and every text of its details) is cut instead and ends with CUT_MARK: a CAP warning with a long description
must still reach the duty desk, and the whole text is still at its source.
"""

from __future__ import annotations

from typing import Any

import orjson

from feeds.decoders import DecodeError
from store.limits import Limits
from store.records import Decoded, Entity, Event, Observation

# The fields of each record that come from a payload, as the store keeps them (ids carry their feed's prefix).
NAMES: dict[type, tuple[str, ...]] = {
    Entity: ("id", "domain", "kind", "name"),
    Observation: ("entity_id", "metric", "unit", "msg_id", "quality"),
    Event: ("id", "msg_id", "domain", "type", "severity", "entity_id"),
}
TEXTS: dict[type, tuple[str, ...]] = {Event: ("title", "description", "source_ref", "raw")}
CUT_MARK = "…"
_ANY_KEYS = orjson.OPT_NON_STR_KEYS


def check(decoded: Decoded, limits: Limits) -> Decoded:
    """The records with their free texts cut to `text_chars`; raises DecodeError if a name is over `name_chars`."""
    names, texts = limits.name_chars, limits.text_chars
    for entity in decoded.entities:
        _names(entity, "entity", NAMES[Entity], names)
        if entity.attributes:
            _attributes(entity.attributes, names, texts)
    fields = NAMES[Observation]
    for observation in decoded.observations:
        _names(observation, "observation", fields, names)
    for event in decoded.events:
        _names(event, "event", NAMES[Event], names)
        _cut(event, TEXTS[Event], texts)
        if event.details:
            event.details = _cut_texts(event.details, texts)
        event.references = [r for r in event.references if len(r) <= names]  # what no stored msg_id can be
    return decoded


def _names(record: Any, kind: str, fields: tuple[str, ...], limit: int) -> None:
    for name in fields:
        value = getattr(record, name)
        if value is not None and len(value) > limit:
            raise DecodeError(_too_long(f"{kind} {name}", value, limit, "name_chars"))


def _attributes(attributes: dict[str, Any], names: int, texts: int) -> None:
    for key, value in attributes.items():
        if len(str(key)) > names:
            raise DecodeError(_too_long("entity attribute name", str(key), names, "name_chars"))
        if isinstance(value, str | list | dict):  # numbers and flags are short by nature
            text = value if isinstance(value, str) else orjson.dumps(value, default=str, option=_ANY_KEYS).decode()
            if len(text) > texts:
                raise DecodeError(_too_long(f"entity attribute {key!r}", text, texts, "text_chars"))


def _cut(record: Any, fields: tuple[str, ...], limit: int) -> None:
    for name in fields:
        value = getattr(record, name)
        if value and len(value) > limit:
            setattr(record, name, value[: limit - len(CUT_MARK)] + CUT_MARK)


def _cut_texts(value: Any, limit: int) -> Any:
    """Every text inside a record's details (an official warning's instruction …) cut as its free texts are."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - len(CUT_MARK)] + CUT_MARK
    if isinstance(value, dict):
        return {k: _cut_texts(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_texts(v, limit) for v in value]
    return value


def _too_long(what: str, value: str, limit: int, key: str) -> str:
    return f"{what} is {len(value):,} characters; the limit is {limit:,} (limits.{key}); it begins {value[:40]!r}"
