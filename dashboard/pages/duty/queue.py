"""The queue: the open alerts an officer may see, filtered and ordered overdue first, each as one row that counts
down to its time limit in the browser (assets/cityops_duty.js reads the row's data-due)."""

from __future__ import annotations

from datetime import datetime

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


def ordered(alerts: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Overdue first, then severity, then the nearest time limit, then the newest; snoozed alerts after the rest.
    `alerts` are the snapshot's (with due and overdue); a `snoozed` column is added."""
    if alerts.empty:
        return alerts.assign(snoozed=[])
    out = alerts.assign(
        snoozed=[not pd.isna(s) and s > now for s in alerts["snoozed_until"]],
        rank=alerts["severity"].map(severity_rank),
        due_sort=[d.timestamp() if d is not None else float("inf") for d in alerts["due"]],
        created_sort=[-pd.Timestamp(c).timestamp() for c in alerts["created_at"]],
    )
    keys = ["snoozed", "overdue", "rank", "due_sort", "created_sort"]
    out = out.sort_values(keys, ascending=[True, False, True, True, True])
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


def queue(desk: Desk, alerts: pd.DataFrame, principal: Principal, filters: dict, lang: str,
          now: datetime) -> tuple[list, list]:  # fmt: skip
    """The queue's rows and its counts, from the snapshot's open `alerts`: those in the principal's districts that
    the `filters` (domain, district, status, unit_id) keep, in the queue's order."""
    t = translator(lang)
    alerts = ordered(filtered(policy.in_scope(principal, alerts), desk.units, **filters), now)
    rows = [row(a, t, lang, desk.tz, desk.regions) for a in alerts.itertuples(index=False)]
    if not rows:
        rows = [html.P(t("No open alert matches.") if any(filters.values()) else t("No open alerts"),
                       className="queue-empty")]  # fmt: skip
    return rows, counts(alerts, t)


def counts(alerts: pd.DataFrame, t) -> list:
    return [
        html.Span(t("{n} open", n=len(alerts)), className="count"),
        html.Span(
            t("{n} overdue", n=int(alerts["overdue"].sum())),
            className="count count-overdue" if alerts["overdue"].any() else "count",
        ),  # fmt: skip
        html.Span(t("{n} new", n=int((alerts["state"] == "new").sum())), className="count"),
    ]


def row(a, t, lang: str, tz: str, regions: RegionIndex) -> html.Div:
    """One alert of the queue (`a`: a row of `ordered`)."""
    region = regions.get(a.district_id) if isinstance(a.district_id, str) else None
    alarm = a.state == "new" and a.severity in ALARMING
    severity, state = SEVERITY_LABELS[a.severity], ALERT_STATE_LABELS[a.state]
    classes = ["q-row", f"sev-{a.severity}", f"state-{a.state}"]
    classes += ["overdue"] * a.overdue + ["alarm"] * alarm + ["snoozed"] * a.snoozed
    if a.snoozed:
        clock = html.Span(t("Snoozed until {time}", time=local_time(a.snoozed_until, tz, "%H:%M")),
                          className="q-due")  # fmt: skip
    elif a.due is not None:
        clock = html.Span(className="q-due", **{"data-due": a.due.isoformat(),
                                                "data-label": t(STAGE_LABELS[a.stage]),
                                                "data-late": t("Overdue by")})  # fmt: skip
    else:
        clock = html.Span(t("Overdue") if a.overdue else "", className="q-due")
    return html.Div(
        className=" ".join(classes),
        role="option",
        **{"data-id": str(int(a.id)), "aria-selected": "false"},
        children=[
            html.Span(className="q-mark", **{"aria-hidden": "true"}),
            html.Span(t(severity), className="q-sev"),
            html.Span(a.title_zh if lang == "zh_CN" else a.title_en, className="q-title"),
            html.Span(region.name(lang) if region else "", className="q-region"),
            html.Span(t(state), className="q-state"),
            html.Span(local_time(a.created_at, tz, "%H:%M"), className="q-time"),
            clock,
        ],
    )
