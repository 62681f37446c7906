"""The city itself, as its configuration's [city] table says: its names, its time zone, its regions file and where
the map opens. Times are stored in UTC and shown in this zone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


def known_zone(value: str) -> str:
    """An IANA time zone name, or ValueError saying what to write instead."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
    return value


class CitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_zh: str
    name_en: str
    timezone: str = "Asia/Shanghai"
    regions: Path
    center: tuple[float, float]  # lon, lat (WGS84)
    zoom: Annotated[int, Field(ge=1, le=18)] = 9

    @field_validator("timezone")
    @classmethod
    def _known_city_zone(cls, value: str) -> str:
        return known_zone(value)
