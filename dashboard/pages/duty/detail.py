"""One alert as the desk shows it: its summary, its procedure's checklist, its timeline, a chart of the readings
that raised it, and a small map of where it is. Another district's alert is as good as absent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dash_leaflet as dl
import pandas as pd
import shapely
from dash import dcc, html

from access import policy
from access.policy import Principal
from alerts.actions import checked_steps
from alerts.chain import gives_first
from dashboard.charts import history_chart
from dashboard.i18n import translator
from dashboard.labels import ALERT_STATE_LABELS, SEVERITY_LABELS, TASK_STATE_LABELS
from dashboard.minimap import minimap
from dashboard.navigation import entity_href, region_href
from dashboard.pages.duty.actions import buttons, incident_buttons
from dashboard.pages.duty.desk import Desk, visible
from dashboard.pages.duty.units import suggested_unit
from dashboard.snapshot import alert_feature
from dashboard.timefmt import local_time
from dashboard.timeline import timeline_entry, unit_name
from store import alerts as alert_store
from store import incidents as incident_store
from store import queries
from store import tasks as task_store
from store.records import ENDED_STATES

NEARBY_M = 1000  # how far around an alert or an incident the detail names shelters, schools, hospitals …


def detail(desk: Desk, principal: Principal, alert_id: int | None, lang: str, seen: str | None) -> tuple | None:
    """The summary, the action buttons, the checklist, the timeline, and what the tab has then seen; None when the
    tab already shows it (every timeline entry updates the alert's updated_at, so the timeline is read only when
    that moved)."""
    t = translator(lang)
    if alert_id is None:
        return html.P(t("Choose an alert from the queue."), className="detail-empty"), [], [], [], None
    alert = visible(desk, principal, alert_id)
    if alert is None:
        return html.P(t("There is no such alert."), className="detail-empty"), [], [], [], None
    incident = incident_store.get(desk.store.cursor(), alert["incident_id"]) if alert["incident_id"] else None
    signature = f"{alert_id}|{lang}|{alert['updated_at']}|{incident['updated_at'] if incident else ''}"
    if signature == seen:
        return None
    timeline = alert_store.timeline(desk.store.cursor(), alert["id"])
    return (
        summary(desk, alert, incident, t, lang),
        [*buttons(principal, alert, t, desk.org is not None), *incident_part(desk, principal, incident, t, lang)],
        checklist(desk, principal, alert, timeline, t, lang),
        [timeline_entry(e, desk.units, t, lang, desk.tz) for e in timeline],
        signature,
    )


def incident_part(desk: Desk, principal: Principal, incident: dict | None, t, lang: str) -> list:
    """The incident the alert is part of (how many alerts, its state, whose it is) and the actions on all of it at
    once."""
    if incident is None or incident["state"] in ENDED_STATES:
        return []
    title = incident["title_zh"] if lang == "zh_CN" else incident["title_en"]
    about = t("Part of the incident “{title}”: {n} alerts, {state}.", title=title, n=int(incident["members"]),
              state=t(ALERT_STATE_LABELS[incident["state"]]))  # fmt: skip
    owners = [desk.org.units[u] for u in (incident.get("centre_id"), incident.get("department_id"))
              if desk.org is not None and u in desk.org.units]  # fmt: skip
    names = " · ".join(u.name.en if lang == "en" else u.name.zh_CN for u in owners)
    owned = [html.P(t("Whose: {units}", units=names), className="incident-owner")] if owners else []
    return [html.P(about, className="incident-of"), *owned, *down_the_chain(desk, principal, incident, t, lang),
            *incident_buttons(principal, incident, t, desk.org is not None)]  # fmt: skip


def down_the_chain(desk: Desk, principal: Principal, incident: dict, t, lang: str) -> list:
    """Who holds the incident down the command chain (each task: to whom, where it stands, raised to whom once
    overdue), and the way to give it on, on the inbox."""
    if desk.org is None:
        return []
    rows = []
    for task in task_store.of_incident(desk.store.cursor(), incident["id"]):
        unit = desk.org.units.get(task["to_unit"])
        to = task["to_person"] or ((unit.name.en if lang == "en" else unit.name.zh_CN) if unit else task["to_unit"])
        above = desk.org.units.get(task["escalated_to"] or "")
        raised = t("overdue: raised to {to}", to=above.name.en if lang == "en" else above.name.zh_CN) if above else ""
        state = t(TASK_STATE_LABELS[task["state"]])
        rows.append(html.Li(html.A(" · ".join(x for x in (to, state, raised) if x), href=f"/inbox/task/{task['id']}",
                                   className=f"chain-task chain-{task['state']}")))  # fmt: skip
    give = (
        [html.A(t("Give the task"), href=f"/inbox/incident/{incident['id']}", className="act act-chain")]
        if gives_first(desk.org, principal, incident)
        else []
    )
    return [html.Ul(rows, className="chain-tasks"), *give] if rows or give else []


def nearby(desk: Desk, alert: dict, incident: dict | None, t, lang: str) -> list:
    """What the city's reference layers hold within NEARBY_M of the incident's area (or the alert's place):
    "3 schools within 1 km: …, nearest 120 m"."""
    record = incident if incident is not None and (incident["area"] or incident["lon"] is not None) else alert
    if not len(desk.reference) or (record["area"] is None and record["lon"] is None):
        return []
    place = shapely.geometry.shape(json.loads(record["area"])) if record["area"] else shapely.Point(
        record["lon"], record["lat"])  # fmt: skip
    found = desk.reference.nearby(place, NEARBY_M)
    lines = []
    for near in found:
        names = "、".join(p.name for p, _ in near.places[:3]) + ("…" if len(near.places) > 3 else "")
        lines.append(html.Li(t("{layer}: {n} within {km} km ({names}), the nearest {metres} m away",
                               layer=near.layer.name(lang), n=len(near.places), km=f"{NEARBY_M / 1000:g}",
                               names=names, metres=round(near.places[0][1]))))  # fmt: skip
    return [html.Dt(t("Nearby")), html.Dd(html.Ul(lines, className="nearby") if lines else t("none"))]


def summary(desk: Desk, alert: dict, incident: dict | None, t, lang: str) -> html.Div:
    units = desk.units
    unit = units.get(alert["unit_id"]) if alert["unit_id"] else None
    suggested = None if unit else units.get(suggested_unit(units, alert))
    region = desk.regions.get(alert["district_id"]) if alert["district_id"] else None
    subject = queries.entity(desk.store, alert["subject_id"])
    severity, state = SEVERITY_LABELS[alert["severity"]], ALERT_STATE_LABELS[alert["state"]]
    return html.Div(
        className=f"summary sev-{alert['severity']}",
        children=[
            html.H2(
                [
                    html.Span(t(severity), className="q-sev"),
                    " ",
                    alert["title_zh"] if lang == "zh_CN" else alert["title_en"],
                ]
            ),  # fmt: skip
            html.P(alert["message_zh"] if lang == "zh_CN" else alert["message_en"]),
            html.Dl(
                [
                    html.Dt(t("State")),
                    html.Dd(t(state)),
                    html.Dt(t("Condition")),
                    html.Dd(t("Still holds") if alert["condition"] == "active" else t("Cleared")),
                    html.Dt(t("Unit")),
                    html.Dd(
                        unit_name(unit, lang)
                        if unit
                        else t(
                            "not yet dispatched; suggested: {unit}",
                            unit=unit_name(suggested, lang) if suggested else alert["unit_type"],
                        )
                    ),
                    html.Dt(t("Raised")),
                    html.Dd(local_time(alert["created_at"], desk.tz)),
                    html.Dt(t("Where")),
                    html.Dd(html.A(region.name(lang), href=region_href(region.id, lang)) if region else "—"),
                    html.Dt(t("Device")),
                    html.Dd(html.A(subject["name"], href=entity_href(subject["id"], lang)) if subject else "—"),
                    *nearby(desk, alert, incident, t, lang),
                ]
            ),  # fmt: skip
            html.A(t("Export as CAP"), href=f"/api/alerts/{alert['id']}.cap", className="cap-link"),
        ],
    )


def checklist(desk: Desk, principal: Principal, alert: dict, timeline: list[dict], t, lang: str) -> list:
    """The alert's procedure with the steps done ticked; read-only for whom the policy does not allow "check"."""
    sop = desk.sops.get(alert["sop"]) if alert["sop"] else None
    if sop is None:
        return []
    done = checked_steps(timeline)
    read_only = not policy.permission_allowed(principal, "check", policy.place(alert))
    options = [
        {"label": step.zh_CN if lang == "zh_CN" else step.en, "value": i, "disabled": read_only}
        for i, step in enumerate(sop.steps)
    ]
    return [
        html.H3(
            [
                t("Procedure"),
                ": ",
                sop.title.zh_CN if lang == "zh_CN" else sop.title.en,
                html.Span(t("{done} of {n} done", done=len(done), n=len(sop.steps)), className="sop-count"),
            ]
        ),  # fmt: skip
        dcc.Checklist(
            id="duty-sop-steps",
            options=options,
            value=sorted(done),
            className="sop-steps",
            inputClassName="sop-box",
        ),  # fmt: skip
        dcc.Store(id="duty-sop-done", data=sorted(done)),
    ]


def trigger_chart(desk: Desk, principal: Principal, alert_id: int | None, lang: str) -> list:
    """The values that raised the alert, from an hour before it fired until now: the metrics its rule named, else
    the device's first; at most two charts."""
    t = translator(lang)
    alert = visible(desk, principal, alert_id)
    subject = queries.entity(desk.store, alert["subject_id"]) if alert else None
    if subject is None:
        return []
    timeline = alert_store.timeline(desk.store.cursor(), alert["id"])
    now = datetime.now(UTC)
    since = min(pd.Timestamp(alert["first_fired_at"]).to_pydatetime(), now) - timedelta(hours=1)
    history = queries.history(desk.store, subject["id"], since)
    if history.empty:
        return [html.P(t("No reading in this window."))]
    fired = next((e for e in timeline if e["action"] == "fire"), None)
    wanted = fired["details"].get("metrics") if fired else None
    metrics = [m for m in (wanted or []) if m in set(history["metric"])] or sorted(set(history["metric"]))[:1]
    shading = queries.alerts_of(desk.store, subject["id"], since)
    return [
        dcc.Graph(figure=history_chart(m, history[history["metric"] == m], subject["attributes"], shading,
                                       (since, now), desk.tz, t, height=200),
                  config={"displayModeBar": False}, className="duty-graph")
        for m in metrics[:2]
    ]  # fmt: skip


def small_map(desk: Desk, principal: Principal, alert_id: int | None, lang: str) -> list | dl.Map:
    """The alert's district (else the city) with the alert marked and ringed."""
    alert = visible(desk, principal, alert_id)
    if alert is None or alert["lon"] is None:
        return []
    regions = desk.regions
    region = regions.get(alert["district_id"]) if alert["district_id"] else None
    region = region or next(iter(regions.level("city")), None)
    if region is None:
        return []
    snap = desk.snapshots.get()
    still_open = snap.alerts[snap.alerts["id"] == alert["id"]]
    overdue = bool(still_open["overdue"].iloc[0]) if len(still_open) else bool(alert["overdue_stages"])
    marker = alert_feature({**alert, "overdue": overdue})
    status = policy.regions_in_scope(principal, regions, snap.region_codes())
    return minimap("duty-minimap", regions, region, lang, part_status=status, alerts=[marker],
                   extra=[dl.CircleMarker(center=[alert["lat"], alert["lon"]], radius=22, color="#ffffff",
                                          weight=1, fill=False, dashArray="3 4")])  # fmt: skip
