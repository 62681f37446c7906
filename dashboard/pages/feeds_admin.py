"""/admin/feeds: every feed's health, the dead letters, and replaying one after the feed's configuration is fixed.

Raw payloads are shown as text (Dash renders strings as text, never as HTML): what a source sent is evidence,
and an integrator reads it here to see why it failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import guard
from dashboard.i18n import N_, page_language, translator
from dashboard.labels import FEED_STATE_LABELS
from dashboard.timefmt import local_time
from feeds import dead_letters
from feeds.decoding import FeedDecoding
from store import feed_log

REFUSALS = {
    "missing": N_("There is no such dead letter."),
    "replayed": N_("This dead letter was already replayed."),
    "unconfigured": N_("Feed {feed} is no longer configured."),
}
RAW_SHOWN = 8_000  # bytes of a payload shown; the whole payload stays in the store


def layout(context, lang: str | None = None, feed: str | None = None, **_query) -> html.Div:
    lang = page_language(lang, context.settings.web.language)
    t = translator(lang)
    feeds = [f.id for f in context.settings.feeds]
    return html.Div(
        className="duty admin",
        children=[
            dcc.Store(id="admin-lang", data=lang),
            dcc.Store(id="admin-seen"),
            dcc.Interval(id="admin-tick", interval=3000),
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


def register_callbacks(context) -> None:
    writer = context.writer
    store = context.store
    tz = context.settings.city.timezone
    transports = {f.id: f.transport for f in context.settings.feeds}
    decodings = {f.id: FeedDecoding.from_settings(f) for f in context.settings.feeds}

    @callback(
        Output("admin-ingest", "children"),
        Input("admin-tick", "n_intervals"),
        State("admin-lang", "data"),
    )
    def ingest(_n, lang):
        # On every tick, not per data version: a store that fails to write bumps no version.
        t = translator(lang)
        if writer is None:
            return html.P(t("This server does not write to the store."))
        stats = writer.stats()
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

    @callback(
        Output("admin-feeds", "children"),
        Output("admin-changes", "children"),
        Output("admin-letters", "options"),
        Output("admin-seen", "data"),
        Input("admin-tick", "n_intervals"),
        Input("admin-feed-filter", "value"),
        State("admin-seen", "data"),
        State("admin-lang", "data"),
    )
    def refresh(_n, feed_filter, seen, lang):
        key = [context.snapshots.current_key(), feed_filter]
        if seen == key:
            raise PreventUpdate
        t = translator(lang)
        # The feeds' states as the wall shows them: read once per data version for every view.
        status = {r.feed_id: r for r in context.snapshots.get().feeds.itertuples(index=False)}
        header = [t("Feed"), t("Transport"), t("State"), t("Reason"), t("Since"), t("Last message"), t("Messages"),
                  t("Errors")]  # fmt: skip
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
                    ],
                )
            )
        table = html.Table(className="admin-table", children=[html.Thead(html.Tr([html.Th(h) for h in header])),
                                                              html.Tbody(rows)])  # fmt: skip
        changes = feed_log.changes(store, datetime.now(UTC) - timedelta(days=1))
        history = (
            html.Table(
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
            )  # fmt: skip
            if len(changes)
            else html.P(t("No change in the last 24 hours."))
        )
        letters = dead_letters.recent(store, feed_filter)
        options = [
            {
                "value": int(d.id),
                "label": html.Span(
                    className="queue-row letter-row" + (" replayed" if not pd.isna(d.replayed_at) else ""),
                    children=[
                        html.Span(local_time(d.ts, tz), className="event-time"),
                        html.Span(d.feed_id, className="alert-state"),
                        html.Span(d.reason, className="event-title"),
                        html.Span(t("Replayed") if not pd.isna(d.replayed_at) else "", className="replayed-badge"),
                    ],
                ),
            }
            for d in letters.itertuples(index=False)
        ]
        return table, history, options, key

    @callback(
        Output("admin-letter", "children"),
        Output("admin-replay", "disabled"),
        Input("admin-letters", "value"),
        Input("admin-message", "children"),  # after a replay: its new note and state
        State("admin-lang", "data"),
    )
    def letter(letter_id, _message, lang):
        t = translator(lang)
        if letter_id is None:
            return html.P(t("Choose a dead letter to see its payload.")), True
        d = dead_letters.get(store, int(letter_id))
        if d is None:
            return html.P(t("There is no such dead letter.")), True
        raw = bytes(d["raw"])
        shown = raw[:RAW_SHOWN].decode("utf-8", "backslashreplace")
        more = len(raw) - RAW_SHOWN
        return html.Div(
            className="summary",
            children=[
                html.Dl(
                    [
                        html.Dt(t("Feed")),
                        html.Dd(d["feed_id"]),
                        html.Dt(t("Received")),
                        html.Dd(local_time(d["ts"], tz)),
                        html.Dt(t("Source")),
                        html.Dd(d["source"]),
                        html.Dt(t("Reason")),
                        html.Dd(d["reason"], className="letter-reason"),
                        html.Dt(t("Size")),
                        html.Dd(t("{n} bytes", n=f"{len(raw):,}")),
                        html.Dt(t("Last replay")),
                        html.Dd(d["replay_note"] or "—"),
                    ]
                ),  # fmt: skip
                html.Pre(shown, className="letter-raw"),
                html.P(t("… and {n} more bytes", n=f"{more:,}")) if more > 0 else None,
            ],
        ), d["replayed_at"] is not None

    @callback(
        Output("admin-message", "children"),
        Input("admin-replay", "n_clicks"),
        State("admin-letters", "value"),
        State("admin-lang", "data"),
        prevent_initial_call=True,
    )
    def replay(_clicks, letter_id, lang):
        t = translator(lang)
        if letter_id is None:
            return t("Choose a dead letter first.")
        if writer is None:
            return t("This server does not write to the store; replay is not available here.")
        try:
            result = dead_letters.replay(store, writer, decodings, context.regions, int(letter_id))
        except dead_letters.ReplayError as exc:
            guard.record("dead letter replay", f"dead letter {letter_id}", "failed", exc.code)
            return t(REFUSALS[exc.code], feed=exc.feed_id)
        outcome = "ok" if result.outcome == "stored" else "failed"
        guard.record("dead letter replay", f"dead letter {letter_id}", outcome, result.outcome)
        if result.outcome == "stored":
            entities, observations, events = result.counts
            return t("Replayed: {entities} entities, {observations} observations, {events} events stored",
                     entities=entities, observations=observations, events=events)  # fmt: skip
        if result.outcome == "undecodable":
            return t("Still cannot be decoded: {reason}", reason=result.reason)
        return t("The store did not confirm the write in time; try again.")
