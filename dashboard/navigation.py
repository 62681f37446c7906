"""Links between the views: every state has a URL, and breadcrumbs lead back up from any place to the city."""

from __future__ import annotations

from urllib.parse import quote, unquote

from dash import html

from access.policy import Principal, permission_allowed, place
from dashboard.i18n import translator
from layers.regions import RegionIndex
from store import alerts as alert_store
from store.database import Store

CITY = "city"  # /region/city is the whole city


def record_id(value) -> int | None:
    """A stored record's id (an alert's, a dead letter's) as the browser sent it: a whole number or its digits;
    None for anything else, which is then no record at all rather than an error."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else None


def visible_alert(store: Store, principal: Principal, alert_id) -> dict | None:
    """The alert the browser named (`alert_id` as it was sent), if it is there and in the principal's places."""
    wanted = record_id(alert_id)
    alert = alert_store.get(store.cursor(), wanted) if wanted is not None else None
    return alert if alert is not None and permission_allowed(principal, "view", place(alert)) else None


def region_href(region_id: str, lang: str) -> str:
    return f"/region/{quote(region_id, safe='')}?lang={lang}"


def entity_href(entity_id: str, lang: str) -> str:
    return f"/entity/{quote(entity_id, safe='')}?lang={lang}"


def alert_href(alert_id: int, lang: str) -> str:
    return f"/alert/{int(alert_id)}?lang={lang}"


def tablet_href(district_id: str | None, lang: str) -> str:
    """A district on the tablet, or (None) the tablet's district chooser."""
    return f"/tablet?lang={lang}" + (f"&district={quote(district_id, safe='')}" if district_id else "")


def path_id(raw: str | None) -> str:
    """A path variable as the id it stands for (ids may hold ':' or '/', so links quote them)."""
    return unquote(raw or "")


def breadcrumbs(regions: RegionIndex, region_id: str | None, lang: str, tail: str | None = None) -> html.Nav:
    """City › district › town › grid [› tail]; every step but the last is a link."""
    t = translator(lang)
    steps: list[tuple[str, str | None]] = [(t("City"), region_href(CITY, lang))]
    if region_id and region_id != CITY:
        steps += [(r.name(lang), region_href(r.id, lang)) for r in regions.ancestors(region_id) if r.level != "city"]
    if tail is not None:
        steps.append((tail, None))
    items = []
    for n, (label, href) in enumerate(steps):
        last = n == len(steps) - 1
        items.append(html.Li(html.Span(label, **{"aria-current": "page"}) if last or href is None
                             else html.A(label, href=href)))  # fmt: skip
    return html.Nav(html.Ol(items, className="breadcrumbs"), **{"aria-label": t("Breadcrumbs")})
