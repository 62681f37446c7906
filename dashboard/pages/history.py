"""/history: every incident and alert ever raised, closed and cancelled too, searched by time, domain, rule,
severity, region at any level, org unit, state and whether it ran late; each row opens its timeline
(`?incident=N`), and what is found exports as CSV or XLSX (with the page's language in its headers).

The figures page drills down here with its filters in the query, so a figure and its rows always agree
(store/supervision.py reads both through one Selection). A scoped user's search never leaves their regions.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from dash import Input, Output, State, callback, ctx, dcc, html
from flask import Flask, Response, request
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from access.policy import permission_allowed, place
from dashboard import guard
from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import ALERT_STATE_LABELS, DOMAIN_LABELS, SEVERITY_LABELS
from dashboard.selection import FILTERS, Query, read
from dashboard.supervision_view import (
    filter_controls,
    frame_records,
    period_controls,
    place_names,
    stages_text,
)
from dashboard.timefmt import local_time
from dashboard.timeline import timeline_entry
from store import incidents as incident_store
from store import supervision as sql

PAGE_ROWS = 50
EXPORT_ROWS = 50_000  # one file, made in a web thread; a longer history is exported period by period
KINDS = {"incidents": N_("Incidents"), "alerts": N_("Alerts")}
COLUMNS = {  # the export's columns and their headers, by kind
    "incidents": (("id", N_("Incident")), ("opened_at", N_("Opened")), ("closed_at", N_("Ended")),
                  ("state", N_("State")), ("severity", N_("Severity")), ("domain", N_("Domain")),
                  ("group_id", N_("Rule")), ("title", N_("Title")), ("district_id", N_("District")),
                  ("town_id", N_("Town")), ("grid_id", N_("Grid")), ("centre_id", N_("Centre")),
                  ("department_id", N_("Department")), ("members", N_("Alerts")),
                  ("overdue_stages", N_("Late stages"))),
    "alerts": (("id", N_("Alert")), ("created_at", N_("Opened")), ("cleared_at", N_("Cleared")),
               ("state", N_("State")), ("severity", N_("Severity")), ("domain", N_("Domain")),
               ("rule_id", N_("Rule")), ("title", N_("Title")), ("district_id", N_("District")),
               ("town_id", N_("Town")), ("grid_id", N_("Grid")), ("incident_id", N_("Incident")),
               ("centre_id", N_("Centre")), ("department_id", N_("Department")),
               ("overdue_stages", N_("Late stages"))),
}  # fmt: skip
CHOICES = ("domain", "rule", "severity", "region", "unit", "state", "overdue")  # the dropdowns; "q" is typed


def layout(context: AppContext, lang: str | None = None, kind: str | None = None, incident: str | None = None,
           **query) -> html.Div:  # fmt: skip
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    q = read(query, context.settings.city.timezone)
    kind = kind if kind in KINDS else "incidents"
    return html.Div(
        className="admin history-page",
        children=[
            dcc.Store(id="history-lang", data=lang),
            dcc.Store(id="history-page", data=0),
            html.Header(
                className="admin-header",
                children=[
                    html.H1(t("History")),
                    html.A(t("Figures"), href=q.href("/figures"), className="btn"),
                ],
            ),  # fmt: skip
            *_timeline(context, incident, t, lang),
            html.Div(
                className="history-filters",
                children=[
                    html.Label(
                        [
                            t("Show"),
                            dcc.RadioItems(
                                id="history-kind",
                                value=kind,
                                inline=True,
                                options=[{"label": t(name), "value": v} for v, name in KINDS.items()],
                            ),
                        ]
                    ),
                    *period_controls(q, t, "history"),
                    *filter_controls(context, q, t, lang, "history", CHOICES),
                    html.Label(
                        [
                            t("Search"),
                            dcc.Input(
                                id="history-q",
                                type="search",
                                value=q.values.get("q", ""),
                                debounce=True,
                                placeholder=t("title …"),
                            ),
                        ]
                    ),
                ],
            ),
            html.P(id="history-count", role="status"),
            html.Div(id="history-table"),
            html.Div(
                className="history-pager",
                children=[
                    html.Button(t("Newer"), id="history-newer", n_clicks=0),
                    html.Button(t("Older"), id="history-older", n_clicks=0),
                    html.A(t("Export as CSV"), id="history-csv", className="btn", href="#"),
                    html.A(t("Export as XLSX"), id="history-xlsx", className="btn", href="#"),
                ],
            ),  # fmt: skip
        ],
    )


def _timeline(context: AppContext, incident: str | None, t, lang: str) -> list:
    """An incident's whole timeline, for the row the user opened; nothing outside their scope."""
    if not incident or not incident.isdigit():
        return []
    cur = context.store.cursor()
    row = incident_store.get(cur, int(incident))
    if row is None or not permission_allowed(guard.current(), "view", place(row)):
        return [html.P(t("There is no such incident."), className="detail-empty")]
    tz = context.settings.city.timezone
    title = row["title_en"] if lang == "en" else row["title_zh"]
    entries = incident_store.timeline(cur, row["id"])
    return [
        html.Section(className="history-timeline", children=[
            html.H2(f"#{row['id']} · {title}"),
            html.P(" · ".join([t(ALERT_STATE_LABELS[row["state"]]), t(SEVERITY_LABELS[row["severity"]]),
                               local_time(row["opened_at"], tz, "%Y-%m-%d %H:%M"),
                               *([t("Ran late: {stages}", stages=stages_text(row["overdue_stages"], t))]
                                 if row["overdue_stages"] else [])])),  # fmt: skip
            html.Ol([timeline_entry(e, {}, t, lang, tz) for e in entries], className="timeline"),
        ])
    ]  # fmt: skip


def register_callbacks(context: AppContext) -> None:
    zone = context.settings.city.timezone

    @callback(
        Output("history-table", "children"),
        Output("history-count", "children"),
        Output("history-csv", "href"),
        Output("history-xlsx", "href"),
        Output("history-page", "data"),
        Input("history-kind", "value"),
        Input("history-from", "value"),
        Input("history-to", "value"),
        *[Input(f"history-{name}", "value") for name in FILTERS],
        Input("history-newer", "n_clicks"),
        Input("history-older", "n_clicks"),
        State("history-page", "data"),
        State("history-lang", "data"),
    )
    def search(kind, first, last, *rest):
        values, (_newer, _older, page, lang) = dict(zip(FILTERS, rest[: len(FILTERS)], strict=True)), rest[-4:]
        t = translator(lang)
        q = read({"from": first, "to": last, **values}, zone)
        kind = kind if kind in KINDS else "incidents"
        pressed = ctx.triggered_id
        page = (page or 0) + (1 if pressed == "history-older" else -1 if pressed == "history-newer" else 0)
        page = max(page, 0) if pressed in ("history-older", "history-newer") else 0
        total, rows = sql.history(context.store.cursor(), kind, q.selection(guard.current(), zone),
                                  offset=page * PAGE_ROWS, limit=PAGE_ROWS)  # fmt: skip
        shown = (t("{first}–{last} of {n}", first=page * PAGE_ROWS + 1, last=page * PAGE_ROWS + len(rows), n=total)
                 if total else t("Nothing found."))  # fmt: skip
        return (_table(context, kind, rows, q, t, lang), shown, q.href("/api/history.csv", lang=lang, kind=kind),
                q.href("/api/history.xlsx", lang=lang, kind=kind), page)  # fmt: skip


def _table(context: AppContext, kind: str, rows, q: Query, t, lang: str) -> html.Table:
    tz = context.settings.city.timezone
    names = place_names(context.regions, context.org, lang)
    header = [N_("Opened"), N_("State"), N_("Severity"), N_("Domain"), N_("Title"), N_("Place"), N_("Unit")]
    body = []
    for row in frame_records(rows):
        incident = row["id"] if kind == "incidents" else row["incident_id"]
        link = q.href("/history", lang=lang, kind=kind, incident=str(incident)) if incident is not None else None
        title = row["title_en"] if lang == "en" else row["title_zh"]
        late = row["overdue_stages"] is not None and len(row["overdue_stages"]) > 0
        body.append(html.Tr(className="history-late" if late else None, children=[
            html.Td(local_time(row["opened_at"] if kind == "incidents" else row["created_at"], tz, "%Y-%m-%d %H:%M")),
            html.Td(t(ALERT_STATE_LABELS.get(row["state"], row["state"]))),
            html.Td(t(SEVERITY_LABELS.get(row["severity"], row["severity"]))),
            html.Td(t(DOMAIN_LABELS[row["domain"]]) if row["domain"] in DOMAIN_LABELS else row["domain"]),
            html.Td(html.A(title, href=link) if link else title),
            html.Td(" · ".join(names.get(r, r) for r in (row["district_id"], row["town_id"]) if r)),
            html.Td(" · ".join(names.get(u, u) for u in (row["centre_id"], row["department_id"]) if u)),
        ]))  # fmt: skip
    return html.Table([html.Thead(html.Tr([html.Th(t(h)) for h in header])), html.Tbody(body)],
                      className="history-table")  # fmt: skip


def register_exports(server: Flask, context: AppContext) -> None:
    zone = context.settings.city.timezone

    @server.get("/api/history.<fmt>", endpoint="history_export")
    def export(fmt: str):
        if fmt not in ("csv", "xlsx"):
            return Response("unknown format\n", status=404, mimetype="text/plain")
        args = request.args
        lang = page_language(args.get("lang"), context.settings.web.language)
        t = translator(lang)
        kind = args.get("kind") if args.get("kind") in KINDS else "incidents"
        q = read(args, zone)
        total, rows = sql.history(context.store.cursor(), kind, q.selection(guard.current(), zone),
                                  limit=EXPORT_ROWS)  # fmt: skip
        guard.record("history export", kind, detail=f"{min(total, EXPORT_ROWS)} of {total} rows; {dict(args)}")
        table = _export_rows(context, kind, rows, t, lang)
        name = f"cityops-{kind}-{q.first}-{q.last}.{fmt}"
        body, mime = (
            (_csv(table), "text/csv; charset=utf-8")
            if fmt == "csv"
            else (_xlsx(table, t(KINDS[kind])), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )
        response = Response(body, mimetype=mime)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _export_rows(context: AppContext, kind: str, rows, t, lang: str) -> list[list]:
    """The header row (in the reader's language) and one row per record, times in the city's zone, names for
    ids, words for codes."""
    tz = context.settings.city.timezone
    names = place_names(context.regions, context.org, lang)
    columns = COLUMNS[kind]
    out: list[list] = [[t(header) for _, header in columns]]
    for row in frame_records(rows):
        row["title"] = row["title_en"] if lang == "en" else row["title_zh"]
        line = []
        for name, _ in columns:
            value = row.get(name)
            if isinstance(value, datetime) or name.endswith("_at"):
                value = local_time(value, tz, "%Y-%m-%d %H:%M:%S")
            elif name == "state":
                value = t(ALERT_STATE_LABELS.get(value, value))
            elif name == "severity":
                value = t(SEVERITY_LABELS.get(value, value))
            elif name == "domain":
                value = t(DOMAIN_LABELS[value]) if value in DOMAIN_LABELS else value
            elif name == "overdue_stages":
                value = stages_text(value, t)
            elif name.endswith(("district_id", "town_id", "centre_id", "department_id")) and value:
                value = names.get(value, value)
            line.append("" if value is None else value)
        out.append(line)
    return out


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run people's text starting so


def _csv(table: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in line]
                                  for line in table])  # fmt: skip
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM: Excel reads the file as UTF-8


def _xlsx(table: list[list], sheet: str) -> bytes:
    book = Workbook(write_only=True)
    page = book.create_sheet(sheet[:31])
    for line in table:
        page.append([_cell(page, v) for v in line])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(page, value) -> WriteOnlyCell:
    """A cell holding `value` as what it is: people's text stays text (openpyxl would take "=…" for a formula)."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters a spreadsheet cannot hold
    cell = WriteOnlyCell(page, value=value.item() if hasattr(value, "item") else value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell
