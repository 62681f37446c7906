"""Where a feed's bytes come from (Telegraf's inputs), beside the decoders that say what they mean (its data formats).

TRANSPORTS names each transport with the model of its `[[feeds]]` tables and its `start(feeds, wiring)`, which is
given that transport's feeds and the Wiring and returns what it started (each with `stop()`). Every transport hands
each payload to its feed's FeedDecoding (feeds/decoding.py), built with the Wiring's `limits`, and puts the result to
the writer; the decoder is built from the feed's settings by feeds/decoders' registry, whatever the transport. A
transport that reads a payload bit by bit stops at the feed's `max_bytes` and hands over an Oversize.

Adding a transport is one module beside feeds/mqtt.py, holding a settings model that extends feeds.settings.FeedBase
with `transport: Literal["<name>"] = "<name>"` and its own keys (and `payload_limit: ClassVar[str]`, the `[limits]`
key that bounds one payload, if not `feed_document_mb`), and `start(feeds, wiring)`; and one line in TRANSPORTS. The
configuration then accepts its feeds, and `cityops run` starts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Union

from pydantic import Field

from feeds import file, http, mqtt
from feeds.settings import FeedBase
from feeds.wiring import Started, Wiring


@dataclass(frozen=True)
class Transport:
    settings: type[FeedBase]  # the keys of its [[feeds]] tables
    start: Callable[[list, Wiring], list[Started]]


TRANSPORTS: dict[str, Transport] = {
    "mqtt": Transport(mqtt.MqttFeedSettings, mqtt.start),
    "http": Transport(http.HttpFeedSettings, http.start),
    "file": Transport(file.FileFeedSettings, file.start),
}

# One [[feeds]] table: the model its `transport` names.
FeedSettings = Annotated[
    Union[tuple(transport.settings for transport in TRANSPORTS.values())],  # noqa: UP007 (built from the registry)
    Field(discriminator="transport"),
]


def start(feeds: list[FeedSettings], wiring: Wiring) -> list[Started]:
    """Start each transport that has feeds, in the order of TRANSPORTS; returns what was started."""
    started: list[Started] = []
    for name, transport in TRANSPORTS.items():
        mine = [feed for feed in feeds if feed.transport == name]
        if mine:
            started += transport.start(mine, wiring)
    return started
