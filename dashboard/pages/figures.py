"""/figures: how well each unit handles its work over a period — counts, MTTA and MTTR (median, p90), the on-time
rate of each stage, overdue, returned, reopened and escalated incidents — by org unit, region, department, domain or
rule, on the clock or in working time; the ranking (排名) of districts and departments against the period before;
and charts a leader reads at a glance, on a desk or a tablet.

Every number links to the history filtered to the incidents behind it (dashboard/selection.py builds both links
and selections from one query). A scoped user's figures are of their regions only.
"""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from access.policy import permission_allowed
from dashboard import guard
from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import DOMAIN_LABELS, SEVERITY_LABELS
from dashboard.selection import Query, read
from dashboard.supervision_view import STAGES, duration, filter_controls, percent, period_controls, place_names
from supervision import periods
from supervision.figures import DIMENSIONS, Figures, Ranked, figures, ranking

DIMENSION_LABELS = {
    "district": N_("District"), "town": N_("Town"), "centre": N_("Centre"), "department": N_("Department"),
    "domain": N_("Domain"), "rule": N_("Rule"), "severity": N_("Severity"), "grid": N_("Grid"),
}  # fmt: skip
RANKED = {"district": N_("Districts"), "department": N_("Departments")}
SHOWN_FILTERS = ("domain", "region", "unit", "severity")  # the history's filters that figures take too
TABLE_ROWS = 200  # groups in the table (a city's grids are thousands): those with the most incidents


def layout(context: AppContext, lang: str | None = None, by: str | None = None, clock: str | None = None,
           **query) -> html.Div:  # fmt: skip
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    q = read(query, context.settings.city.timezone)
    by = by if by in DIMENSIONS else "district"
    working = context.facts.calendar is not None
    return html.Div(
        className="admin figures-page",
        children=[
            dcc.Store(id="figures-lang", data=lang),
            html.Header(
                className="admin-header",
                children=[
                    html.H1(t("Figures")),
                    html.A(t("History"), href=q.href("/history"), className="btn"),
                    *(
                        [html.A(t("Data quality"), href=f"/scorecards?lang={lang}", className="btn")]
                        if permission_allowed(guard.current(), "data_quality")
                        else []
                    ),
                ],
            ),  # fmt: skip
            html.Div(
                className="figures-filters",
                children=[
                    *period_controls(q, t, "figures"),
                    html.Label(
                        [
                            t("By"),
                            dcc.Dropdown(
                                id="figures-by",
                                value=by,
                                clearable=False,
                                options=[{"label": t(label), "value": v} for v, label in DIMENSION_LABELS.items()],
                            ),
                        ]
                    ),
                    *filter_controls(context, q, t, lang, "figures", SHOWN_FILTERS),
                    html.Label(
                        [
                            t("Time"),
                            dcc.RadioItems(
                                id="figures-clock",
                                inline=True,
                                value="working" if working and clock != "clock" else "clock",
                                options=[
                                    {"label": t("On the clock"), "value": "clock"},
                                    *([{"label": t("Working time"), "value": "working"}] if working else []),
                                ],
                            ),
                        ]
                    ),
                ],
            ),  # fmt: skip
            html.Div(id="figures-cards", className="figures-cards"),
            html.Div(
                className="figures-charts",
                children=[
                    dcc.Graph(id="figures-rates", config={"displayModeBar": False}, className="figures-chart"),
                    dcc.Graph(id="figures-times", config={"displayModeBar": False}, className="figures-chart"),
                ],
            ),  # fmt: skip
            html.H2(id="figures-table-title"),
            html.Div(id="figures-table", className="figures-scroll"),
            html.Div(id="figures-ranking", className="figures-ranking"),
        ],
    )


def register_callbacks(context: AppContext) -> None:
    zone = context.settings.city.timezone

    @callback(
        Output("figures-cards", "children"),
        Output("figures-rates", "figure"),
        Output("figures-times", "figure"),
        Output("figures-table-title", "children"),
        Output("figures-table", "children"),
        Output("figures-ranking", "children"),
        Input("figures-from", "value"),
        Input("figures-to", "value"),
        Input("figures-by", "value"),
        *[Input(f"figures-{name}", "value") for name in SHOWN_FILTERS],
        Input("figures-clock", "value"),
        State("figures-lang", "data"),
    )
    def show(first, last, by, *rest):
        values, (clock, lang) = dict(zip(SHOWN_FILTERS, rest[: len(SHOWN_FILTERS)], strict=True)), rest[-2:]
        t = translator(lang)
        by = by if by in DIMENSIONS else "district"
        working = clock == "working" and context.facts.calendar is not None
        q = read({"from": first, "to": last, **values}, zone)
        principal = guard.current()
        selection = q.selection(principal, zone)
        context.facts.refresh()  # once for this answer: the figures and the rankings read the same rows
        [total] = figures(context.facts, selection, None, working) or [None]
        groups = figures(context.facts, selection, by, working)
        names = place_names(context.regions, context.org, lang)
        period = q.period(zone)
        earlier = periods.before(period, zone)
        previous = read({"from": earlier.first_day.isoformat(), "to": earlier.last_day.isoformat(), **values}, zone)
        rankings = [
            (dimension, ranking(context.facts, selection, previous.selection(principal, zone), dimension, working))
            for dimension in RANKED
            if dimension != "department" or context.org is not None
        ]  # fmt: skip
        return (
            _cards(total, q, t, lang),
            _rates_chart(groups, names, t),
            _times_chart(groups, names, t),
            t("By {dimension}", dimension=t(DIMENSION_LABELS[by])),
            _table(groups, by, names, q, t, lang),
            [_ranking(dimension, rows, names, q, t, lang, earlier.first_day, earlier.last_day)
             for dimension, rows in rankings],
        )  # fmt: skip


def _cards(total: Figures | None, q: Query, t, lang: str) -> list:
    """The period's headline figures, each a link to the incidents behind it."""
    f = total
    history = q.href("/history", lang=lang)
    cards = [
        (N_("Incidents"), str(f.incidents if f else 0), history),
        (N_("Not ended"), str(f.open if f else 0), q.href("/history", lang=lang, state="open")),
        (N_("MTTA (median)"), duration(f.mtta_p50 if f else None, t), history),
        (N_("MTTR (median)"), duration(f.mttr_p50 if f else None, t), history),
        (N_("On time"), percent(f.rate() if f else None), history),
        (N_("Ran late"), str(f.overdue if f else 0), q.href("/history", lang=lang, overdue="yes")),
    ]
    return [html.A([html.Span(t(label), className="card-label"), html.B(value, className="card-value")],
                   href=href, className="figures-card") for label, value, href in cards]  # fmt: skip


def _chart(title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title={"text": title, "font": {"size": 16}}, template="plotly_dark", height=320,
                         margin={"l": 50, "r": 10, "t": 40, "b": 90}, paper_bgcolor="rgba(0,0,0,0)",
                         plot_bgcolor="rgba(0,0,0,0)", font={"size": 14}, legend={"orientation": "h", "y": 1.12},
                         barmode="group")  # fmt: skip
    return figure


def _rates_chart(groups: list[Figures], names: dict, t) -> go.Figure:
    figure = _chart(t("On-time rate by stage"))
    labels = [names.get(f.key, f.key or t("Unrouted")) for f in groups[:12]]
    for stage, label in STAGES:
        figure.add_bar(name=t(label), x=labels, y=[(f.rate(stage) or 0) * 100 for f in groups[:12]])
    figure.update_yaxes(range=[0, 100], ticksuffix="%", nticks=6)
    return figure


def _times_chart(groups: list[Figures], names: dict, t) -> go.Figure:
    figure = _chart(t("MTTA and MTTR, median (minutes)"))
    labels = [names.get(f.key, f.key or t("Unrouted")) for f in groups[:12]]
    figure.add_bar(name=t("MTTA"), x=labels, y=[(f.mtta_p50 or 0) / 60 for f in groups[:12]])
    figure.add_bar(name=t("MTTR"), x=labels, y=[(f.mttr_p50 or 0) / 60 for f in groups[:12]])
    figure.update_yaxes(nticks=6, rangemode="tozero")
    return figure


def _table(groups: list[Figures], by: str, names: dict, q: Query, t, lang: str) -> html.Table | html.Div:
    """A row per group; its counts link to the history of that group's incidents."""
    filter_of = {"district": "region", "town": "region", "grid": "region", "centre": "unit", "department": "unit",
                 "domain": "domain", "rule": "rule", "severity": "severity"}[by]  # fmt: skip
    header = [t(DIMENSION_LABELS[by]), t("Incidents"), t("Not ended"), t("MTTA median"), t("MTTA p90"),
              t("MTTR median"), t("MTTR p90"), *[t("On time: {stage}", stage=t(label)) for _, label in STAGES],
              t("Ran late"), t("Returned"), t("Reopened"), t("Escalated")]  # fmt: skip
    rows = []
    for f in groups[:TABLE_ROWS]:

        def link(text: str, group: Figures = f, **changes: str):
            if group.key is None:
                return text
            return html.A(text, href=q.href("/history", lang=lang, **{filter_of: group.key}, **changes))

        rows.append(html.Tr([
            html.Td(_group_name(by, f.key, names, t)), html.Td(link(str(f.incidents))),
            html.Td(link(str(f.open), state="open")), html.Td(duration(f.mtta_p50, t)),
            html.Td(duration(f.mtta_p90, t)), html.Td(duration(f.mttr_p50, t)), html.Td(duration(f.mttr_p90, t)),
            *[html.Td(percent(f.rate(stage))) for stage, _ in STAGES],
            html.Td(link(str(f.overdue), overdue="yes")), html.Td(str(f.returned)), html.Td(str(f.reopened)),
            html.Td(str(f.escalations)),
        ]))  # fmt: skip
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
                       className="admin-table figures-table")  # fmt: skip
    if len(groups) <= TABLE_ROWS:
        return table
    return html.Div([html.P(t("The {n} with the most incidents of {total} are shown.", n=TABLE_ROWS,
                              total=len(groups)), className="muted"), table])  # fmt: skip


def _ranking(dimension: str, rows: list[Ranked], names: dict, q: Query, t, lang: str, first: date,
             last: date) -> html.Section:  # fmt: skip
    filter_of = "region" if dimension == "district" else "unit"
    header = [t("Rank"), t(DIMENSION_LABELS[dimension]), t("On time"), t("Change"), t("MTTR median"), t("Change"),
              t("Incidents"), t("Rank before")]  # fmt: skip
    body = []
    for r in rows:
        f = r.figures
        moved = "" if r.previous_rank is None else "＝▲▼"[(r.previous_rank > r.rank) + 2 * (r.previous_rank < r.rank)]
        body.append(html.Tr([
            html.Td(str(r.rank)), html.Td(html.A(names.get(f.key, f.key),
                                                 href=q.href("/history", lang=lang, **{filter_of: f.key}))),
            html.Td(percent(f.rate())),
            html.Td(_change(r.rate_change, lambda v: t("{n} pt", n=f"{v * 100:+.0f}"), better=lambda v: v > 0)),
            html.Td(duration(f.mttr_p50, t)),
            html.Td(_change(r.mttr_change, lambda v: ("+" if v > 0 else "−") + duration(abs(v), t),
                            better=lambda v: v < 0)),
            html.Td(str(f.incidents)),
            html.Td(f"{r.previous_rank} {moved}" if r.previous_rank else "—"),
        ]))  # fmt: skip
    return html.Section(className="figures-rank", children=[
        html.H2(t("Ranking of {what}", what=t(RANKED[dimension]))),
        html.P(t("Against {first} to {last}", first=first.isoformat(), last=last.isoformat()), className="muted"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
                   className="admin-table figures-table") if body
        else html.P(t("No incidents in this period."), className="muted"),
    ])  # fmt: skip


def _change(value: float | None, shown, better) -> html.Span | str:
    if value is None:
        return "—"
    return html.Span(shown(value), className="change-better" if better(value) else "change-worse" if value else "")


def _group_name(by: str, key: str | None, names: dict, t) -> str:
    if key is None:
        return t("Unrouted") if by in ("centre", "department") else t("No region") if by in ("town", "grid") else "—"
    if by == "domain":
        return t(DOMAIN_LABELS[key]) if key in DOMAIN_LABELS else key
    if by == "severity":
        return t(SEVERITY_LABELS.get(key, key))
    return names.get(key, key)
