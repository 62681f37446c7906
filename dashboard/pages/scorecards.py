"""/scorecards: the data-quality scorecard of each feed and of each department that owns feeds, for a month:
availability, latency, timeliness, completeness, plausibility, dead letters; and their ranking (排名,
"不交数据交帽子").
The figures and the score's rule are supervision/scorecards.py's; this page shows them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from dash import Input, Output, State, callback, dcc, html

from dashboard.context import AppContext
from dashboard.i18n import N_, page_language, translator
from dashboard.supervision_view import duration, percent, place_names
from supervision import scorecards
from supervision.scorecards import Ranked

HEADERS = (N_("Rank"), N_("Score"), N_("Available"), N_("Latency p50"), N_("Latency p95"), N_("Timely"),
           N_("Complete"), N_("Plausible"), N_("Suspect readings"), N_("Dead-letter rate"), N_("Messages"),
           N_("Hours"))  # fmt: skip


def layout(context: AppContext, lang: str | None = None, month: str | None = None, **_query) -> html.Div:
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    chosen = _month(month) or datetime.now(ZoneInfo(context.settings.city.timezone)).date().replace(day=1)
    return html.Div(
        className="admin figures-page scorecards-page",
        children=[
            dcc.Store(id="scorecards-lang", data=lang),
            html.Header(
                className="admin-header",
                children=[
                    html.H1(t("Data quality")),
                    html.A(t("Figures"), href=f"/figures?lang={lang}", className="btn"),
                ],
            ),  # fmt: skip
            html.Div(
                className="figures-filters",
                children=[
                    html.Label(
                        [t("Month"), dcc.Input(id="scorecards-month", type="month", value=chosen.strftime("%Y-%m"))]
                    ),
                ],
            ),  # fmt: skip
            html.Div(id="scorecards-body"),
        ],
    )


def register_callbacks(context: AppContext) -> None:
    feeds = context.settings.feeds

    @callback(
        Output("scorecards-body", "children"),
        Input("scorecards-month", "value"),
        State("scorecards-lang", "data"),
    )
    def show(month, lang):
        t = translator(lang)
        first = _month(month) or datetime.now(ZoneInfo(context.settings.city.timezone)).date().replace(day=1)
        ranked = scorecards.monthly_ranking(context.store, first.year, first.month, feeds,
                                            context.settings.city.timezone)  # fmt: skip
        names = place_names(context.regions, context.org, lang)
        return [
            html.H2(t("Departments")),
            _table(ranked.departments, t("Department"), names, t),
            html.H2(t("Feeds")),
            _table(ranked.feeds, t("Feed"), {}, t, owners=names),
        ]


def _table(rows: list[Ranked], first: str, names: dict, t, owners: dict | None = None) -> html.Table | html.P:
    if not rows:
        return html.P(t("No feed here has an owner.") if owners is None else t("No feeds."), className="muted")
    header = [first, *([t("Owner")] if owners is not None else []), *[t(h) for h in HEADERS]]
    body = []
    for r in rows:
        card = r.card
        owner = [html.Td(owners.get(card.owner, card.owner or "—"))] if owners is not None else []
        body.append(html.Tr(className="scorecard-unscored" if r.rank is None else None, children=[
            html.Td(names.get(r.id, r.id)), *owner, html.Td(str(r.rank) if r.rank else "—"),
            html.Td(percent(r.score)), html.Td(percent(card.availability)),
            html.Td(duration(card.latency_p50_s, t)), html.Td(duration(card.latency_p95_s, t)),
            html.Td(percent(card.timely)), html.Td(percent(card.completeness)),
            html.Td(percent(card.plausible)), html.Td(str(card.suspect)), html.Td(percent(card.dead_letter_rate)),
            html.Td(str(card.messages)), html.Td(str(card.hours)),
        ]))  # fmt: skip
    return html.Div(html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
                               className="admin-table figures-table"), className="figures-scroll")  # fmt: skip


def _month(value) -> date | None:
    try:
        return date.fromisoformat(f"{str(value)[:7]}-01") if value else None
    except ValueError:
        return None
