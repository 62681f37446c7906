"""The feeds' health: each configured feed's state as the wall shows it, and the changes of the last day."""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboard.labels import FEED_STATE_LABELS
from dashboard.timefmt import local_time


def feed_table(transports: dict[str, str], status: dict, t, tz: str) -> html.Table:
    """A row for every configured feed (`transports`: its transport by id), with its state from the snapshot
    (`status`: the snapshot's feed rows by id); a feed that has not sent anything yet has no row there."""
    header = [t("Feed"), t("Transport"), t("State"), t("Reason"), t("Since"), t("Last message"), t("Messages"),
              t("Errors"), t("Values refused"), t("Suspect")]  # fmt: skip
    rows = []
    for feed_id, transport in transports.items():
        r = status.get(feed_id)
        state = r.state if r is not None else "down"
        rows.append(
            html.Tr(
                className=f"feed-row feed-{state}",
                children=[
                    html.Td(feed_id),
                    html.Td(transport),
                    html.Td(t(FEED_STATE_LABELS.get(state, state)) if r is not None else t("No message yet")),
                    html.Td(r.reason if r is not None else ""),
                    html.Td(local_time(r.changed_at, tz) if r is not None else ""),
                    html.Td(local_time(r.last_message_at, tz) if r is not None else ""),
                    html.Td(f"{int(r.messages):,}" if r is not None else "0"),
                    html.Td(f"{int(r.errors):,}" if r is not None else "0"),
                    # flagged in error by their source, or fill values: counted, never stored as readings
                    html.Td(f"{int(r.discarded):,}" if r is not None else "0"),
                    # kept with the reason, never a device's latest value (feeds/plausibility.py)
                    html.Td(f"{int(r.suspect):,}" if r is not None else "0"),
                ],
            )
        )
    return html.Table(className="admin-table", children=[html.Thead(html.Tr([html.Th(h) for h in header])),
                                                         html.Tbody(rows)])  # fmt: skip


def health_changes(changes: pd.DataFrame, t, tz: str) -> html.Table | html.P:
    """The feeds' changes of state (store/feed_log.py changes), newest first as the log gives them."""
    if not len(changes):
        return html.P(t("No change in the last 24 hours."))
    return html.Table(
        className="admin-table",
        children=[
            html.Thead(html.Tr([html.Th(h) for h in (t("Time"), t("Feed"), t("State"), t("Reason"))])),
            html.Tbody(
                [
                    html.Tr(
                        className=f"feed-row feed-{c.state}",
                        children=[
                            html.Td(local_time(c.ts, tz)),
                            html.Td(c.feed_id),
                            html.Td(t(FEED_STATE_LABELS.get(c.state, c.state))),
                            html.Td(c.reason),
                        ],
                    )
                    for c in changes.itertuples(index=False)
                ]
            ),
        ],
    )
