"""What every feed's settings share, whatever its transport: one `[[feeds]]` table of the configuration file.

Each transport adds its own keys in a model beside it (feeds/mqtt.py, feeds/http.py, feeds/file.py) that extends
FeedBase with `transport = "<name>"`; feeds/transports.py puts them together, and the configuration
(cityops/config.py) picks the model by the feed's `transport`. A key of another transport is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from feeds.decoders import DECODERS
from feeds.decoders.mapped_json import Mapping
from feeds.plausibility import PlausibleSettings
from layers.city import known_zone
from layers.crs import Crs


class UnitConversion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str
    factor: float
    offset: float = 0.0


class FeedBase(BaseModel):
    """The keys of every feed: its id, how its payloads decode, and how long a silence it is allowed."""

    model_config = ConfigDict(extra="forbid")
    # The [limits] key that bounds one payload: a document (an HTTP answer, a file) unless the transport says.
    payload_limit: ClassVar[str] = "feed_document_mb"

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    decoder: str
    crs: Crs = "wgs84"
    time_zone: str | None = None  # IANA zone for times without an offset (default: the format's own rule)
    stale_after_s: Annotated[int, Field(ge=1)] = 120
    mapping: Mapping | None = None  # the field paths of a decoder that reads them (mapped-json)
    stations: Path | None = None  # where stations that do not say it stand: CSV address,name,lon,lat (sl651)
    sentinels: list[float] = Field(default_factory=list)  # values meaning "no reading" (-9999, 255 …)
    units: dict[str, UnitConversion] = Field(default_factory=dict)  # e.g. cm = { to = "m", factor = 0.01 }
    # The source's metric name → the city's, e.g. level = "water_level".
    metrics: dict[str, str] = Field(default_factory=dict)
    # Where its devices stand and what their values may be (feeds/plausibility.py); what fails is kept as suspect.
    plausible: PlausibleSettings = Field(default_factory=PlausibleSettings)
    # The department of the organisation ([alerts] org) that owns the feed and answers for its data, e.g.
    # "water-city": the feed's data-quality scorecard counts for it (supervision/scorecards.py). Checked against
    # the organisation where one is loaded (cityops/config.py).
    owner: str | None = None

    @field_validator("decoder")
    @classmethod
    def _known_decoder(cls, value: str) -> str:
        if value not in DECODERS:
            raise ValueError(f"unknown decoder {value!r}; known: {', '.join(sorted(DECODERS))}")
        return value

    @field_validator("stations")
    @classmethod
    def _beside_the_configuration(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Resolved now, not with the other paths after validation: the decoder reads the table to check it.
        base = (info.context or {}).get("base")
        return base / value if value is not None and base is not None and not value.is_absolute() else value

    @model_validator(mode="after")
    def _decoder_builds(self) -> FeedBase:
        DECODERS[self.decoder](self)  # raises ValueError when the settings do not suit the format
        return self

    @field_validator("time_zone")
    @classmethod
    def _known_feed_zone(cls, value: str | None) -> str | None:
        return value if value is None else known_zone(value)
