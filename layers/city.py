"""The city itself, as its configuration's [city] table says: its names, its time zone, its regions (a file per
level, `[[city.levels]]`) and where the map opens. Times are stored in UTC and shown in this zone."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from layers.region_files import RegionLevel, check_levels, load_regions
from layers.regions import RegionIndex


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
    code: str = "city"  # the city's id (its 行政区划代码) when no file draws the city level
    levels: Annotated[list[RegionLevel], Field(min_length=1)]
    center: tuple[float, float]  # lon, lat (WGS84)
    zoom: Annotated[int, Field(ge=1, le=18)] = 9

    @field_validator("timezone")
    @classmethod
    def _known_city_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("levels")
    @classmethod
    def _levels_in_order(cls, value: list[RegionLevel]) -> list[RegionLevel]:
        return check_levels(value)

    def regions(self) -> RegionIndex:
        """The city's regions, read from its files (GeoFileError naming the file and feature)."""
        return load_regions(self.levels, self.code, self.name_zh, self.name_en)
