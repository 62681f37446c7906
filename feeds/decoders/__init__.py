"""Decoders turn the bytes of one message into unified records; each raises DecodeError with a reason.

DECODERS names every format with the factory that builds its decoder from a feed's settings (feeds/settings.py):
most formats read nothing from them (`fixed`), mapped JSON reads the feed's `mapping`, SL 651 its `stations`.
Adding a format is one module here (a `decode(message)`, or a factory that reads the settings it needs), one line
in DECODERS, and a test over real payloads in tests/fixtures/; the configuration accepts the new name by itself.
"""

from feeds.decoders import cap, cityops_json, datex2, ea_flood, firms, mapped_json, ngsi, open311, sl651
from feeds.decoders.base import DecodeError, Decoder, DecoderFactory, Message, fixed

DECODERS: dict[str, DecoderFactory] = {
    "cityops-json": fixed(cityops_json.decode),
    "firms-csv": fixed(firms.decode),
    "cap": fixed(cap.decode),
    "ngsi": fixed(ngsi.decode),
    "open311": fixed(open311.decode),
    "ea-flood": fixed(ea_flood.decode),
    "datex2": fixed(datex2.decode),
    "mapped-json": mapped_json.MappedJson.from_settings,
    "sl651": sl651.Sl651.from_settings,
}

__all__ = ["DECODERS", "DecodeError", "Decoder", "DecoderFactory", "Message"]
