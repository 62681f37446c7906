"""The dashboard's own keys of the configuration ([web] and [auth]), and what of the whole configuration the
dashboard reads (DashboardSettings): cityops.config.Settings is one, and a test may hand over any other."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from alerts.units import UnitSettings
from feeds.settings import FeedBase
from layers.city import CitySettings
from store.limits import Limits
from store.sign_in_throttle import Slowdown


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8050
    threads: Annotated[int, Field(ge=1, le=256)] = 16
    language: Literal["zh_CN", "en"] = "zh_CN"
    refresh_ms: Annotated[int, Field(ge=200, le=60_000)] = 1_000
    # The tick of what a tab reads with queries of its own instead of from the shared snapshot (a device's history,
    # the duty desk's chart of an alert's readings, a region's devices, the feeds page): those queries run once per
    # tab, so they run less often than the pages that follow the snapshot on refresh_ms.
    query_refresh_ms: Annotated[int, Field(ge=200, le=300_000)] = 5_000
    # The wall keeps a request open that the server answers when its data changes, and refreshes then instead of
    # waiting for its tick (dashboard/news.py). Off: it refreshes on the tick alone (a proxy that cuts long
    # requests).
    wall_news: bool = True
    tile_url: str | None = None  # optional; the map works offline without one
    # The wall shows each district in turn for this long, then the whole city (0: stays on the city).
    wall_rotate_s: Annotated[int, Field(ge=0, le=3600)] = 20
    # A new red incident nobody has acknowledged stops the tour on its place for this long, once, and never sooner
    # than this long after the last hold ended; then the tour goes on and a red banner names it until someone
    # acknowledges it. A storm's every new red incident held the wall (11 jumps in 17 minutes, never the city again).
    wall_pin_s: Annotated[int, Field(ge=5, le=3600)] = 60
    # A wall with more devices than this on its map gets them gathered into cells by the server for its view,
    # instead of sent whole and clustered in the browser (layers/cells.py; BENCHMARKS.md measures both).
    server_cells_above: Annotated[int, Field(ge=0)] = 50_000
    # The wall draws devices from this zoom in (a district and closer); at the city view it shows the districts'
    # status, the incidents and the alerts, and a domain's devices only when its layer is turned on.
    device_zoom: Annotated[float, Field(ge=0, le=20)] = 11
    # Pages that may show CityOps in a frame (CSP frame-ancestors), e.g. ["https://portal.city.gov.cn"]; none by
    # default.
    frame_ancestors: list[str] = Field(default_factory=list)
    # Reverse proxies in front of CityOps whose X-Forwarded-For/-Proto/-Host to believe (0: none). Behind TLS
    # termination this makes cookies Secure, sends HSTS, lets the pages' https origin through the CSRF check and has
    # the audit log name the browser's address. The web server (waitress) applies it, to requests that come from
    # trusted_proxy_address only ("*": from anywhere, for when nothing but the proxy can reach CityOps).
    trusted_proxies: Annotated[int, Field(ge=0, le=5)] = 0
    trusted_proxy_address: str = "127.0.0.1"


class AuthSettings(Section):
    path: Path = Path("var/accounts.sqlite")  # accounts, sessions, display tokens and the audit log (SQLite)
    idle_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 30  # a session ends after this long without a touch
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12  # … and this long after sign-in in any case
    # Failed sign-ins slow the next tries down (waits of 1, 2, 4 … s) but lock nobody out: the counts are per name
    # (or per browser the user signed in with before) and per address (store/sign_in_throttle.py).
    slow_after: Annotated[int, Field(ge=1, le=100)] = 5  # failures of one name before the waits begin
    slow_address_after: Annotated[int, Field(ge=1, le=10_000)] = 20  # … of one address, whatever the names
    longest_wait_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15

    def slowdown(self) -> Slowdown:
        return Slowdown(self.slow_after, self.slow_address_after, self.longest_wait_minutes * 60)

    # Create the documented demo accounts (one per role) and say so on the sign-in page. Never in production.
    demo_accounts: bool = False


class DashboardSettings(Protocol):
    """What the pages read of the configuration."""

    @property
    def city(self) -> CitySettings: ...
    @property
    def web(self) -> WebSettings: ...
    @property
    def auth(self) -> AuthSettings: ...
    @property
    def units(self) -> Sequence[UnitSettings]: ...
    @property
    def feeds(self) -> Sequence[FeedBase]: ...
    @property
    def limits(self) -> Limits: ...
