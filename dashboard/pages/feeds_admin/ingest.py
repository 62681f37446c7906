"""How the store keeps up with what arrives: whether writing fails, what waits to be written, the lag and the rate,
as the writer counts them (store/writer.py Writer.stats)."""

from __future__ import annotations

from dash import html

from dashboard.timefmt import local_time


def ingest(stats: dict | None, t, tz: str) -> html.Dl | html.P:
    """The writer's `stats`; None where this server does not write to the store."""
    if stats is None:
        return html.P(t("This server does not write to the store."))
    failing = stats["failing_since"]
    state = (
        html.Span(
            t("Writing fails since {time}: {error}", time=local_time(failing, tz), error=stats["last_error"]),
            className="ingest-failing",
        )  # fmt: skip
        if failing
        else html.Span(t("Writing"), className="ingest-ok")
    )
    return html.Dl(
        className=f"ingest {'feed-down' if failing else 'feed-ok'}",
        children=[
            html.Dt(t("Store")),
            html.Dd(state),
            html.Dt(t("Waiting to be written")),
            html.Dd(
                [
                    t(
                        "{queued} of {capacity} messages",
                        queued=f"{stats['queued']:,}",
                        capacity=f"{stats['capacity']:,}",
                    ),
                    html.Span(t(" · full: new messages wait at their source"), className="ingest-holding")
                    if stats["holding_back"]
                    else None,
                ]
            ),  # fmt: skip
            html.Dt(t("Lag")),
            html.Dd(t("{seconds} s", seconds=f"{stats['lag_s']:.1f}")),
            html.Dt(t("Written")),
            html.Dd(t("{rate} messages/s", rate=f"{stats['messages_per_s']:,.0f}")),
        ],
    )
