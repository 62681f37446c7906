"""The queue: what an officer may see and handle, filtered and ordered overdue first, each row counting down to its
time limit in the browser (assets/cityops_duty.js reads the row's data-due).

People handle incidents, so the alerts of one incident are one row, the incident's: its severity, title, place,
state, clock and how many of its alerts the filters keep. The row opens (▸) to its alerts; selecting it selects its
most urgent alert, whose detail offers the actions on the whole incident. An alert in no incident is a row of its
own. However many alerts the store holds, one answer draws a page of QUEUE_ROWS lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import pandas as pd
from dash import html

from access import policy
from access.policy import Principal
from dashboard.i18n import N_, translator
from dashboard.labels import ALERT_STATE_LABELS, SEVERITY_LABELS
from dashboard.pages.duty.desk import Desk
from dashboard.timefmt import local_time
from layers.regions import RegionIndex
from store.records import severity_rank

STAGE_LABELS = {"acknowledge": N_("Acknowledge within"), "dispatch": N_("Dispatch within"),
                "resolve": N_("Resolve within")}  # fmt: skip
ALARMING = ("red", "orange")  # a new alert of these sounds and flashes until acknowledged
QUEUE_ROWS = 40  # the lines one answer draws (about two screens); the pager reaches the others


@dataclass(frozen=True)
class Shown:
    """One page of the queue: its lines, the counts over all of it, which page of how many, and "lines 41–80 of
    359" (empty when it is all on one page)."""

    rows: list
    counts: list
    page: int
    pages: int
    where: str


def ordered(alerts: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Overdue first, then severity, then the nearest time limit, then the newest; snoozed alerts after the rest.
    `alerts` are the snapshot's (with due and overdue); a `snoozed` column is added."""
    if alerts.empty:
        return alerts.assign(snoozed=[])
    # Whole columns at once: the queue is ordered at every refresh, and at storm volume a row at a time was slow.
    out = alerts.assign(
        snoozed=(pd.to_datetime(alerts["snoozed_until"], utc=True) > now).to_numpy(),  # none: NaT, not after now
        rank=alerts["severity"].map(severity_rank),
        due_sort=pd.to_datetime(alerts["due"], utc=True),  # no time limit: NaT, sorted last
        created_sort=pd.to_datetime(alerts["created_at"], utc=True),
    )
    keys = ["snoozed", "overdue", "rank", "due_sort", "created_sort"]
    out = out.sort_values(keys, ascending=[True, False, True, True, False], na_position="last")
    return out.drop(columns=["rank", "due_sort", "created_sort"])


def filtered(alerts: pd.DataFrame, units: dict, domain: str | None = None, district: str | None = None,
             status: str | None = None, unit_id: str | None = None) -> pd.DataFrame:  # fmt: skip
    """The alerts the filters keep. A unit keeps the alerts dispatched to it, and those not yet dispatched that
    need its kind of unit."""
    if domain:
        alerts = alerts[alerts["domain"] == domain]
    if district:
        alerts = alerts[alerts["district_id"] == district]
    if status:
        alerts = alerts[alerts["state"] == status]
    if unit_id in units:
        alerts = alerts[(alerts["unit_id"] == unit_id)
                        | (alerts["unit_id"].isna() & (alerts["unit_type"] == units[unit_id].type))]  # fmt: skip
    return alerts


def queue(desk: Desk, alerts: pd.DataFrame, incidents: pd.DataFrame, principal: Principal, filters: dict,
          lang: str, now: datetime, expanded: frozenset[int] = frozenset(), page: int = 0) -> Shown:  # fmt: skip
    """One page of the queue and its counts, from the snapshot's open `alerts` and `incidents`: the alerts in the
    principal's districts that the `filters` (domain, district, status, unit_id) keep, an incident's under one row
    (its alerts listed too when it is in `expanded`), in the queue's order. An incident the principal may not see
    whole (a district leader's part of a city-wide one) is not a row: its alerts in their districts are. Only the
    page's QUEUE_ROWS rows are drawn: what goes on the wire does not grow with the store."""
    t = translator(lang)
    alerts = ordered(filtered(policy.in_scope(principal, alerts), desk.units, **filters), now)
    whole = [principal.sees(policy.place(i)) for i in incidents[["district_id", "region_id"]].to_dict("records")]
    seen_whole = incidents[pd.Series(whole, index=incidents.index, dtype=bool)]
    by_id = seen_whole.set_index("id", drop=False)
    # Each incident's alerts by their position in `alerts` (so in the queue's order).
    members_at = {int(i): at for i, at in alerts.groupby("incident_id", sort=False).indices.items()}
    alert_line = partial(row, t=t, lang=lang, tz=desk.tz, regions=desk.regions)
    states = alerts[["state", "severity"]]  # all an incident's row reads of its alerts

    def incident_line(incident_id: int, opened: bool) -> Callable:
        return lambda lead: incident_row(by_id.loc[incident_id], lead, states.iloc[members_at[incident_id]], opened,
                                         t, lang, desk.tz, desk.regions, now)  # fmt: skip

    # Each line as its alert's position in `alerts` and what draws it from that alert, cheap to make for every
    # alert: only the page's lines are drawn, and only their alerts made into rows.
    lines: list[tuple[int, Callable]] = []
    shown: set[int] = set()
    for at, incident in enumerate(alerts["incident_id"].tolist()):
        incident_id = None if pd.isna(incident) else int(incident)
        if incident_id is None or incident_id not in by_id.index:
            lines.append((at, alert_line))
        elif incident_id not in shown:
            shown.add(incident_id)
            lines.append((at, incident_line(incident_id, incident_id in expanded)))
            if incident_id in expanded:
                lines += [(m, partial(alert_line, member=True)) for m in members_at[incident_id]]
    pages = max(1, -(-len(lines) // QUEUE_ROWS))
    page = min(max(page, 0), pages - 1)
    first = page * QUEUE_ROWS
    on_page = lines[first : first + QUEUE_ROWS]
    wanted = sorted({at for at, _ in on_page})
    of = dict(zip(wanted, alerts.iloc[wanted].itertuples(index=False), strict=True))
    rows = [draw(of[at]) for at, draw in on_page]
    if not rows:
        rows = [html.P(t("No open alert matches.") if any(filters.values()) else t("No open alerts"),
                       className="queue-empty")]  # fmt: skip
    where = t("Lines {first}–{last} of {n}", first=first + 1, last=first + len(rows), n=len(lines)) if pages > 1 else ""
    return Shown(rows, counts(alerts, len(shown), t), page, pages, where)


def counts(alerts: pd.DataFrame, incidents: int, t) -> list:
    return [
        html.Span(t("{n} incidents", n=incidents), className="count"),
        html.Span(t("{n} open", n=len(alerts)), className="count"),
        html.Span(
            t("{n} overdue", n=int(alerts["overdue"].sum())),
            className="count count-overdue" if alerts["overdue"].any() else "count",
        ),  # fmt: skip
        html.Span(t("{n} new", n=int((alerts["state"] == "new").sum())), className="count"),
    ]


def row(a, t, lang: str, tz: str, regions: RegionIndex, member: bool = False) -> html.Div:
    """One alert of the queue (`a`: a row of `ordered`); `member`: listed under its incident's row."""
    region = regions.get(a.district_id) if isinstance(a.district_id, str) else None
    alarm = a.state == "new" and a.severity in ALARMING
    severity, state = SEVERITY_LABELS[a.severity], ALERT_STATE_LABELS[a.state]
    classes = ["q-row", f"sev-{a.severity}", f"state-{a.state}"] + ["q-member"] * member
    classes += ["overdue"] * a.overdue + ["alarm"] * alarm + ["snoozed"] * a.snoozed
    return html.Div(
        className=" ".join(classes),
        role="option",
        **{"data-id": str(int(a.id)), "data-key": f"a{int(a.id)}", "aria-selected": "false"},
        children=[
            html.Span(className="q-mark", **{"aria-hidden": "true"}),
            html.Span(t(severity), className="q-sev"),
            html.Span(a.title_zh if lang == "zh_CN" else a.title_en, className="q-title"),
            html.Span(region.name(lang) if region else "", className="q-region"),
            html.Span(t(state), className="q-state"),
            html.Span(local_time(a.created_at, tz, "%H:%M"), className="q-time"),
            _clock(a.snoozed, a.snoozed_until, a.due, a.stage, a.overdue, t, tz),
        ],
    )


def incident_row(incident: pd.Series, lead, members: pd.DataFrame, opened: bool, t, lang: str, tz: str,
                 regions: RegionIndex, now: datetime) -> html.Div:  # fmt: skip
    """An incident's row: its own severity, title, place, state and clock, and how many of its alerts the queue
    keeps (`members`); selecting (or marking) it selects (or marks) `lead`, its most urgent alert, whose actions
    offer the whole incident's. The ▸ button lists its alerts below it."""
    region = regions.get(incident["region_id"]) if isinstance(incident["region_id"], str) else None
    snoozed = not pd.isna(incident["snoozed_until"]) and incident["snoozed_until"] > now
    # It sounds while any of its alerts here is new and red or orange: one that joins an acknowledged incident too.
    alarm = bool(((members["state"] == "new") & members["severity"].isin(ALARMING)).any())
    classes = ["q-row", "q-incident", f"sev-{incident['severity']}", f"state-{incident['state']}"]
    classes += ["overdue"] * bool(incident["overdue"]) + ["alarm"] * alarm + ["snoozed"] * snoozed
    title = incident["title_zh"] if lang == "zh_CN" else incident["title_en"]
    return html.Div(
        className=" ".join(classes),
        role="option",
        **{
            "data-id": str(int(lead.id)),
            "data-key": f"i{int(incident['id'])}",
            "aria-selected": "false",
            "aria-expanded": "true" if opened else "false",
        },  # fmt: skip
        children=[
            html.Span(className="q-mark", **{"aria-hidden": "true"}),  # marked: bulk acknowledge takes the incident
            html.Span(t(SEVERITY_LABELS[incident["severity"]]), className="q-sev"),
            html.Span(
                [
                    html.Button(
                        "▾" if opened else "▸",
                        className="q-expand",
                        title=t("List its alerts"),
                        **{"data-incident": str(int(incident["id"])), "aria-label": t("List its alerts")},
                    ),
                    title,
                    html.Span(t("{n} alerts", n=len(members)), className="q-size"),
                ],
                className="q-title",
            ),  # fmt: skip
            html.Span(region.name(lang) if region else t("City"), className="q-region"),
            html.Span(t(ALERT_STATE_LABELS[incident["state"]]), className="q-state"),
            html.Span(local_time(incident["opened_at"], tz, "%H:%M"), className="q-time"),
            _clock(snoozed, incident["snoozed_until"], incident["due"], incident["stage"], incident["overdue"], t, tz),
        ],
    )


def _clock(snoozed: bool, snoozed_until, due, stage, overdue: bool, t, tz: str) -> html.Span:
    if snoozed:
        return html.Span(t("Snoozed until {time}", time=local_time(snoozed_until, tz, "%H:%M")), className="q-due")
    if not pd.isna(due) and stage in STAGE_LABELS:
        return html.Span(className="q-due", **{"data-due": due.isoformat(), "data-label": t(STAGE_LABELS[stage]),
                                               "data-late": t("Overdue by")})  # fmt: skip
    return html.Span(t("Overdue") if overdue else "", className="q-due")
