"""The units alerts are dispatched to, as the configuration's [[units]] tables list them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class UnitSettings(BaseModel):
    """A unit alerts are dispatched to (交警大队, 消防救援大队, 水务局, 城管, 街道办 …)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    type: str
    name_zh: str
    name_en: str
    district: str | None = None
