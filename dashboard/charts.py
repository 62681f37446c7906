"""Plotly charts shared by the views: an entity's history with its thresholds and alert periods."""

from __future__ import annotations

import html
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import N_

COLOURS = {"red": "#e5484d", "orange": "#f76b15", "yellow": "#f5d90a", "blue": "#3e8ef7"}
THRESHOLD_ATTRIBUTES = {"warning_level": ("yellow", N_("warning level")),
                        "guaranteed_level": ("red", N_("guaranteed level"))}  # fmt: skip


def plain(text: str) -> str:
    """A feed's words as Plotly shows them in titles and labels: Plotly reads a subset of HTML there (links, bold,
    line breaks), so what a feed names is escaped and shown as written."""
    return html.escape(str(text), quote=False)


def history_chart(metric: str, rows: pd.DataFrame, attributes: dict, alerts: pd.DataFrame,
                  window: tuple[datetime, datetime], tz: str, t, height: int = 260) -> go.Figure:  # fmt: skip
    """One metric over `window`: the entity's levels and threshold attributes drawn, its alerts' periods shaded,
    readings its feed found implausible as grey crosses beside the line (with the reason), not on it."""
    unit = rows["unit"].iloc[-1] if len(rows) else ""
    suspect = rows[rows["quality"] == "suspect"] if "quality" in rows else rows.iloc[:0]
    rows = rows.drop(suspect.index)
    times = pd.to_datetime(rows["ts"], utc=True).dt.tz_convert(tz)
    # Few readings (a gauge that reports hourly, an alert just raised): marked, or one reading would not show.
    mode = "lines+markers" if len(rows) < 30 else "lines"
    fig = go.Figure(go.Scatter(x=times, y=rows["value"], mode=mode, name=plain(metric), connectgaps=False,
                               line={"color": "#8ab4f8", "width": 2}))  # fmt: skip
    if len(suspect):
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(suspect["ts"], utc=True).dt.tz_convert(tz), y=suspect["value"], mode="markers",
            name=t("suspect"), marker={"symbol": "x", "color": "#9ca3af", "size": 9},
            text=[plain(f"{t('suspect')}: {r}") for r in suspect["quality_reason"].fillna("")],
            hovertemplate="%{y}<br>%{text}<extra></extra>"))  # fmt: skip
    levels = attributes.get("levels") or {}
    if levels.get("metric") == metric:
        for colour in ("blue", "yellow", "orange", "red"):
            if isinstance(levels.get(colour), int | float):
                fig.add_hline(y=levels[colour], line={"color": COLOURS[colour], "dash": "dash", "width": 1})
    for name, (colour, label) in THRESHOLD_ATTRIBUTES.items():
        if isinstance(attributes.get(name), int | float) and metric in ("water_level", "level"):
            fig.add_hline(y=attributes[name], line={"color": COLOURS[colour], "width": 1.5},
                          annotation_text=t(label), annotation_font_color=COLOURS[colour])  # fmt: skip
    start, end = (pd.Timestamp(w).tz_convert(tz) for w in window)
    for a in alerts.itertuples(index=False):
        opened = max(pd.Timestamp(a.first_fired_at).tz_convert(tz), start)
        closed = pd.Timestamp(a.cleared_at).tz_convert(tz) if not pd.isna(a.cleared_at) else end
        fig.add_vrect(x0=opened, x1=max(closed, opened), fillcolor=COLOURS.get(a.severity, "#6b7280"), opacity=0.18,
                      line_width=0, layer="below")  # fmt: skip
    fig.update_layout(
        title={"text": plain(f"{metric} ({unit})" if unit else metric), "font": {"size": 14}},
        template="plotly_dark", paper_bgcolor="#121923", plot_bgcolor="#0b0f14", height=height,
        margin={"l": 50, "r": 20, "t": 40, "b": 30}, showlegend=False, xaxis={"range": [start, end]},
    )  # fmt: skip
    return fig


def year_chart(metric: str, days: pd.DataFrame, t, height: int = 200) -> go.Figure:
    """One metric's daily mean over a region's devices, with the day's lowest and highest reading as a band."""
    fig = go.Figure([
        go.Scatter(x=days["day"], y=days["max"], mode="lines", line={"width": 0}, hoverinfo="skip"),
        go.Scatter(x=days["day"], y=days["min"], mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor="rgba(138,180,248,0.18)", hoverinfo="skip"),
        go.Scatter(x=days["day"], y=days["mean"], mode="lines", name=t("daily mean"), line={"color": "#8ab4f8"}),
    ])  # fmt: skip
    fig.update_layout(
        title={"text": plain(metric), "font": {"size": 14}}, template="plotly_dark", paper_bgcolor="#121923",
        plot_bgcolor="#0b0f14", height=height, margin={"l": 50, "r": 20, "t": 40, "b": 30}, showlegend=False,
    )  # fmt: skip
    return fig
