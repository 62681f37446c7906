"""Decoders turn the bytes of one message into unified records; each raises DecodeError with a reason.

Adding a format is one module here and one line in DECODERS.
"""

from feeds.decoders import cap, cityops_json, datex2, ea_flood, firms, ngsi, open311
from feeds.decoders.base import DecodeError, Decoder, Message

DECODERS: dict[str, Decoder] = {
    "cityops-json": cityops_json.decode,
    "firms-csv": firms.decode,
    "cap": cap.decode,
    "ngsi": ngsi.decode,
    "open311": open311.decode,
    "ea-flood": ea_flood.decode,
    "datex2": datex2.decode,
}

__all__ = ["DECODERS", "DecodeError", "Decoder", "Message"]
