"""Reports made on schedule: a daily, weekly and monthly report per centre (the city's, and the centres of the levels
[reports] names), written as HTML with its charts and as PDF, archived beside the store (the reports page lists
them), and told through the notification channels to the centre's subscribers.

A report of a period is due once the period is over and the city's clock has passed `at` (a day's report the next
morning, a week's on Monday, a month's on the 1st). The scheduler asks every few minutes what is due; a report made
once is never made again (its key is the kind, the centre and the period), so a restart changes nothing, and a
centre missed while the service was down gets its latest report when it is back. The report's words
and charts come from `render` (the dashboard's, which knows the language); this module decides what and when.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from alerts.org import Organisation
from alerts.working_time import time_of_day
from store import notifications
from store import reports as report_store
from store.database import Store
from store.kept_files import KeptFiles
from store.transaction import transaction
from supervision import periods
from supervision.periods import Period

log = logging.getLogger(__name__)
KIND_NAMES = {
    "daily": ("日报", "daily report"),
    "weekly": ("周报", "weekly report"),
    "monthly": ("月报", "monthly report"),
}


def reports_folder(store_path: str | Path) -> Path:
    """Where a store's reports are kept: a folder beside its file."""
    return Path(store_path).parent / "reports"


class ReportSettings(BaseModel):
    """[reports]: which centres get which reports, when, and in which language."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    kinds: list[Literal["daily", "weekly", "monthly"]] = Field(default_factory=lambda: ["daily", "weekly", "monthly"])
    # The levels of the organisation's centres that get reports: the city's by default; "district" adds each
    # district centre's (a few seconds of the machine each, three kinds a day at most).
    levels: list[Literal["city", "district", "town"]] = Field(default_factory=lambda: ["city"])
    at: Annotated[time, BeforeValidator(time_of_day)] = time(8, 0)  # when the period before's report is made
    language: Literal["zh_CN", "en"] = "zh_CN"
    check_every_min: Annotated[int, Field(ge=1, le=60)] = 5


@dataclass(frozen=True)
class Centre:
    """Whom a report is for: a centre of the organisation (id None: the city, without one) and its region."""

    id: str | None
    region_id: str | None
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class ReportRequest:
    kind: str
    centre: Centre
    period: Period
    language: str
    made_at: datetime

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.centre.id or 'city'}:{self.period.first_day.isoformat()}"


@dataclass(frozen=True)
class Rendered:
    html: str
    pdf: bytes | None  # None where the PDF could not be made (no Pango on the machine): the HTML is kept
    pages: int


class Reports:
    def __init__(self, store: Store, folder: Path, settings: ReportSettings, zone: str, org: Organisation | None,
                 regions, render: Callable[[ReportRequest], Rendered], city_name: tuple[str, str]):  # fmt: skip
        """`folder`: where the files are kept (beside the store); `render`: a report's HTML and PDF."""
        self.store = store
        self.files = KeptFiles(folder, store)
        self.settings = settings
        self.zone = zone
        self.org = org
        self.regions = regions
        self.render = render
        self.city_name = city_name

    def centres(self) -> list[Centre]:
        """The centres that get reports: the organisation's of the configured levels, or the city alone."""
        if self.org is None:
            return [Centre(None, None, *self.city_name)]
        out = []
        for unit in self.org.units.values():
            region = self.regions.get(unit.regions[0]) if unit.kind == "centre" and unit.regions else None
            level = "city" if region is not None and region.parent is None else region.level if region else None
            if level in self.settings.levels:
                out.append(Centre(unit.id, None if level == "city" else region.id, unit.name.zh_CN, unit.name.en))
        return out

    def due(self, now: datetime) -> list[ReportRequest]:
        """The reports whose period is over and whose time has come, not made yet."""
        local = now.astimezone(ZoneInfo(self.zone))
        made = report_store.made_keys(self.store.cursor())
        out = []
        for kind in self.settings.kinds:
            period = periods.last_complete(kind, now, self.zone)
            ready = datetime.combine(period.last_day + timedelta(days=1), self.settings.at, ZoneInfo(self.zone))
            if local < ready:
                continue
            for centre in self.centres():
                request = ReportRequest(kind, centre, period, self.settings.language, now)
                if request.key not in made:
                    out.append(request)
        return out

    def run_due(self, now: datetime) -> list[str]:
        """Make the reports due at `now`; their keys."""
        made = []
        for request in self.due(now):
            try:
                self.make(request)
            except Exception:  # one report that fails must not keep the others from being made
                log.exception("report %s could not be made", request.key)
                continue
            made.append(request.key)
        return made

    def make(self, request: ReportRequest) -> int:
        """Render, keep and archive one report, and tell its centre's subscribers; its id (a report made before
        is left as it was)."""
        made = report_store.id_of(self.store.cursor(), request.key)
        if made is not None:
            return made
        rendered = self.render(request)
        stem = request.key.replace(":", "-")
        html_file, pdf_file = f"{stem}.html", f"{stem}.pdf" if rendered.pdf is not None else ""
        self.files.keep(html_file, rendered.html.encode())
        if rendered.pdf is not None:
            self.files.keep(pdf_file, rendered.pdf)
        zh, en = KIND_NAMES[request.kind]
        days = periods.span(request.period.first_day, request.period.last_day)
        title_zh, title_en = f"{request.centre.name_zh}{zh}（{days}）", f"{request.centre.name_en} {en} ({days})"
        cur = self.store.cursor()
        with transaction(cur):
            report_id = report_store.insert(cur, {
                "key": request.key, "kind": request.kind, "centre_id": request.centre.id,
                "region_id": request.centre.region_id, "period_start": request.period.start,
                "period_end": request.period.end, "language": request.language, "html_file": html_file,
                "pdf_file": pdf_file, "pages": rendered.pages, "bytes": len(rendered.pdf or b""),
                "created_at": request.made_at,
            })  # fmt: skip
            if report_id is None:
                return report_store.id_of(cur, request.key)
            notifications.tell(cur, key=f"report:{request.key}", event="report", now=request.made_at,
                               title_zh=title_zh, title_en=title_en, units=[request.centre.id],
                               details={"kind": request.kind,
                                        "path": f"/reports/{report_id}.{'pdf' if pdf_file else 'html'}"})  # fmt: skip
        return report_id

    def id_of(self, key: str) -> int | None:
        return report_store.id_of(self.store.cursor(), key)
