"""One list of alerts for the drill-down pages: severity, title linking to the alert, state, time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from dash import html

from dashboard.i18n import translator
from dashboard.labels import ALERT_STATE_LABELS, SEVERITY_LABELS
from dashboard.navigation import alert_href
from dashboard.timefmt import local_time


def alert_list(alerts: pd.DataFrame, lang: str, tz: str, when: str = "created_at",
               link: Callable[[Any], str] | None = None) -> html.Ul:  # fmt: skip
    """`when` names the column whose time is shown (when raised, or when it first fired); `link` where an alert's
    title leads (by default its own URL, the duty desk)."""
    t = translator(lang)
    return html.Ul(className="drill-alerts", children=[
        html.Li(className=f"sev-{a.severity}", children=[
            html.Span(t(SEVERITY_LABELS[a.severity]), className="event-sev"),
            html.A(a.title_zh if lang == "zh_CN" else a.title_en, href=link(a) if link else alert_href(a.id, lang)),
            html.Span(t(ALERT_STATE_LABELS[a.state]), className="alert-state"),
            html.Span(local_time(getattr(a, when), tz), className="event-time"),
        ])
        for a in alerts.itertuples(index=False)
    ])  # fmt: skip
