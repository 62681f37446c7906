"""The feeds page's callbacks, and only their wiring: each reads the tab's inputs and the store, and hands them to
the room that shapes the answer (ingest, health, letters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from dash import Input, Output, State, callback, html
from dash.exceptions import PreventUpdate

from dashboard import guard
from dashboard.context import AppContext
from dashboard.i18n import translator
from dashboard.navigation import record_id
from dashboard.pages.feeds_admin.health import feed_table, health_changes
from dashboard.pages.feeds_admin.ingest import ingest
from dashboard.pages.feeds_admin.letters import letter, letter_options, replay
from feeds import dead_letters
from feeds.decoding import FeedDecoding
from store import feed_log


def register_callbacks(context: AppContext) -> None:
    writer = context.writer
    store = context.store
    tz = context.settings.city.timezone
    transports = {f.id: f.transport for f in context.settings.feeds}
    decodings = {f.id: FeedDecoding.from_settings(f, context.settings.limits) for f in context.settings.feeds}

    @callback(
        Output("admin-ingest", "children"),
        Input("admin-tick", "n_intervals"),
        State("admin-lang", "data"),
    )
    def show_ingest(_n, lang):
        # On every tick, not per data version: a store that fails to write bumps no version.
        return ingest(writer.stats() if writer is not None else None, translator(lang), tz)

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
        changes = feed_log.changes(store, datetime.now(UTC) - timedelta(days=1))
        return (
            feed_table(transports, status, t, tz),
            health_changes(changes, t, tz),
            letter_options(dead_letters.recent(store, feed_filter), t, tz),
            key,
        )

    @callback(
        Output("admin-letter", "children"),
        Output("admin-replay", "disabled"),
        Input("admin-letters", "value"),
        Input("admin-message", "children"),  # after a replay: its new note and state
        State("admin-lang", "data"),
    )
    def show_letter(letter_id, _message, lang):
        t = translator(lang)
        letter_id = record_id(letter_id)
        if letter_id is None:
            return html.P(t("Choose a dead letter to see its payload.")), True
        return letter(dead_letters.get(store, letter_id), t, tz)

    @callback(
        Output("admin-message", "children"),
        Input("admin-replay", "n_clicks"),
        State("admin-letters", "value"),
        State("admin-lang", "data"),
        prevent_initial_call=True,
    )
    def replayed(_clicks, letter_id, lang):
        t = translator(lang)
        letter_id = record_id(letter_id)
        if letter_id is None:
            return t("Choose a dead letter first.")
        if writer is None:
            return t("This server does not write to the store; replay is not available here.")
        record = partial(guard.record, "dead letter replay", f"dead letter {letter_id}")
        return replay(store, writer, decodings, context.regions, letter_id, record, t)
