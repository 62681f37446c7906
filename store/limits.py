"""How big what comes in from outside may be: feeds' messages and the texts in them, requests to the web server, and
what a refused payload keeps of itself. One `[limits]` table of the configuration; every refusal says which limit.

They live on the ground floor because each floor enforces its own: ingest (feeds/), the embedded broker (cityops/)
and the web server (dashboard/).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One MQTT message: the embedded broker refuses bigger ones, ingest keeps a bigger one as a dead letter.
    mqtt_message_kb: Annotated[int, Field(ge=1, le=256 * 1024)] = 1024
    # One HTTP feed's answer (each page) and one file of a file feed: real sources (a day of fire hotspots, a CAP
    # distribution) are megabytes.
    feed_document_mb: Annotated[int, Field(ge=1, le=4096)] = 64
    # Ids and names from feeds (device, metric, unit) and from people (account names); longer ones are refused.
    name_chars: Annotated[int, Field(ge=16, le=10_000)] = 200
    # Free text: an event's title and description from a feed, a note typed at the duty desk.
    text_chars: Annotated[int, Field(ge=100, le=1_000_000)] = 4000
    # What a dead letter keeps of a payload too big to keep whole (the reason says the whole size).
    dead_letter_kb: Annotated[int, Field(ge=1, le=64 * 1024)] = 64
    # One request to the web server (a callback's body, a sign-in form); waitress answers 413 above it.
    web_request_kb: Annotated[int, Field(ge=16, le=64 * 1024)] = 1024
