"""The feeds page: the ingest panel, the feeds' table, the last day's changes of health, and the dead letters beside
the one chosen. What fills them comes from the callbacks (dashboard/pages/feeds_admin/callbacks.py)."""

from __future__ import annotations

from dash import dcc, html

from dashboard.context import AppContext
from dashboard.i18n import page_language, translator


def layout(context: AppContext, lang: str | None = None, feed: str | None = None, **_query) -> html.Div:
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    feeds = [f.id for f in context.settings.feeds]
    return html.Div(
        className="duty admin",
        children=[
            dcc.Store(id="admin-lang", data=lang),
            dcc.Store(id="admin-seen"),
            # The feeds' log and the dead letters are queries of this tab's own, not the shared snapshot.
            dcc.Interval(id="admin-tick", interval=context.settings.web.query_refresh_ms),
            html.Header(
                className="duty-header",
                children=[
                    html.H1(t("Feeds and dead letters")),
                    html.A(t("Duty desk"), href=f"/duty?lang={lang}"),
                    html.A(t("Video wall"), href=f"/wall?lang={lang}"),
                ],
            ),
            html.Main(
                className="admin-main",
                children=[
                    html.Section([html.H2(t("Ingest")), html.Div(id="admin-ingest", role="status")]),
                    html.Section([html.H2(t("Feeds")), html.Div(id="admin-feeds")]),
                    html.Section([html.H2(t("Changes of health in the last 24 hours")), html.Div(id="admin-changes")]),
                    html.Section(
                        className="duty-main",
                        children=[
                            html.Div(
                                className="duty-queue",
                                children=[
                                    html.H2(t("Dead letters")),
                                    dcc.Dropdown(
                                        id="admin-feed-filter",
                                        options=[{"label": f, "value": f} for f in feeds],
                                        value=feed if feed in feeds else None,
                                        placeholder=t("All feeds"),
                                    ),
                                    dcc.RadioItems(id="admin-letters", options=[], className="duty-list"),
                                ],
                            ),
                            html.Div(
                                className="duty-detail",
                                children=[
                                    html.Div(id="admin-letter"),
                                    html.Button(
                                        t("Replay with the current configuration"),
                                        id="admin-replay",
                                        n_clicks=0,
                                        disabled=True,
                                    ),  # fmt: skip
                                    html.Div(id="admin-message", className="duty-message", role="status"),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )
