"""The desk's callbacks, and only their wiring: each reads who asks (dashboard/guard.py) and the tab's inputs, and
hands them to the room that does the work (queue, detail, actions). What runs in the browser (marking rows,
keeping the filters in the URL, the dialog's focus) is wired here too, to assets/cityops_duty.js."""

from __future__ import annotations

from datetime import UTC, datetime

from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import guard
from dashboard.context import AppContext
from dashboard.i18n import translator
from dashboard.navigation import record_id
from dashboard.pages.duty import actions, detail, queue
from dashboard.pages.duty.desk import Desk

EXPANDED_MAX = 50  # the incidents a console keeps open (assets/cityops_duty.js keeps the newest as many)


def register_callbacks(context: AppContext) -> None:
    desk = Desk.of(context)

    @callback(
        Output("duty-queue", "children"),
        Output("duty-counts", "children"),
        Output("duty-seen", "data"),
        Output("duty-page-where", "children"),
        Output("duty-page-prev", "disabled"),
        Output("duty-page-next", "disabled"),
        Output("duty-as-of", "data"),
        Input("duty-tick", "n_intervals"),
        Input("duty-filter-domain", "value"),
        Input("duty-filter-district", "value"),
        Input("duty-filter-status", "value"),
        Input("duty-filter-unit", "value"),
        Input("duty-expanded", "data"),
        Input("duty-page", "data"),
        State("duty-seen", "data"),
        State("duty-lang", "data"),
        # No tick while an answer is on its way, and the browser says when answers are late: both in
        # assets/cityops_duty.js.
    )
    def show_queue(_n, domain, district, status, unit_id, expanded, page, seen, lang):
        answered = datetime.now(UTC).isoformat()
        if ctx.triggered_id == "duty-tick" and seen == desk.snapshots.current_key():
            return no_update, no_update, no_update, no_update, no_update, no_update, answered
        # After an action or a filter: as it is now; opening a row or turning a page shows what is on screen.
        snap = desk.snapshots.get(current=ctx.triggered_id not in ("duty-tick", "duty-expanded", "duty-page"))
        filters = {"domain": domain, "district": district, "status": status, "unit_id": unit_id}
        asked = (expanded if isinstance(expanded, list) else [])[-EXPANDED_MAX:]
        opened = frozenset(i for i in map(record_id, asked) if i is not None)
        page = 0 if str(ctx.triggered_id).startswith("duty-filter") else record_id(page) or 0
        shown = queue.queue(desk, snap.alerts, snap.incidents, guard.current(), filters, lang, datetime.now(UTC),
                            opened, page)  # fmt: skip
        where = html.Span(shown.where, **{"data-page": str(shown.page)})
        return (shown.rows, shown.counts, snap.key, where, shown.page == 0, shown.page >= shown.pages - 1,
                answered)  # fmt: skip

    # Marks the selected and checked rows, keeps the selection in view and in the URL: in the browser, at once.
    clientside_callback(
        "function (selected, checked, _rows) { return window.cityops.duty.mark(selected, checked); }",
        Output("duty-marked", "data"),
        Input("duty-selected", "data"),
        Input("duty-checked", "data"),
        Input("duty-queue", "children"),
    )
    clientside_callback(
        "function (asOf) { return window.cityops.duty.answered(asOf); }",
        Output("duty-marked", "data", allow_duplicate=True),
        Input("duty-as-of", "data"),
        prevent_initial_call=True,
    )
    clientside_callback(
        """function (domain, district, status, unit) {
            return window.cityops.duty.filters({domain: domain, district: district, status: status, unit: unit});
        }""",
        Output("duty-marked", "data", allow_duplicate=True),
        Input("duty-filter-domain", "value"),
        Input("duty-filter-district", "value"),
        Input("duty-filter-status", "value"),
        Input("duty-filter-unit", "value"),
        prevent_initial_call=True,
    )

    # The detail follows the queue's new data once its last answer is in (duty-detail-busy), never overtaking it:
    # an answer overtaken by the next refresh is dropped, and under load the detail kept an action's old state.
    clientside_callback(
        """function (seen, busy, poked) {
            return busy || seen === poked ? window.dash_clientside.no_update : seen;
        }""",
        Output("duty-detail-poke", "data"),
        Input("duty-seen", "data"),
        Input("duty-detail-busy", "data"),
        State("duty-detail-poke", "data"),
    )

    @callback(
        Output("duty-summary", "children"),
        Output("duty-actions", "children"),
        Output("duty-sop", "children"),
        Output("duty-timeline", "children"),
        Output("duty-detail-seen", "data"),
        Input("duty-selected", "data"),
        Input("duty-detail-poke", "data"),
        Input("duty-message", "children"),
        State("duty-detail-seen", "data"),
        State("duty-lang", "data"),
        running=[(Output("duty-detail-busy", "data"), True, False)],
    )
    def show_detail(alert_id, _seen, _message, detail_seen, lang):
        shown = detail.detail(desk, guard.current(), alert_id, lang, detail_seen)
        if shown is None:
            raise PreventUpdate
        return shown

    @callback(
        Output("duty-chart", "children"),
        Input("duty-selected", "data"),
        Input("duty-chart-tick", "n_intervals"),
        State("duty-lang", "data"),
    )
    def show_chart(alert_id, _n, lang):
        # Redrawn on its own tick (web.query_refresh_ms), not on every commit: it is this tab's own query.
        return detail.trigger_chart(desk, guard.current(), alert_id, lang)

    @callback(
        Output("duty-map", "children"),
        Input("duty-selected", "data"),
        State("duty-lang", "data"),
    )
    def show_map(alert_id, lang):
        # Only when the selection changes: the map keeps its view while the detail refreshes.
        return detail.small_map(desk, guard.current(), alert_id, lang)

    @callback(
        Output("duty-dialog", "className"),
        Output("duty-dialog-title", "children"),
        Output("duty-dialog-unit", "style"),
        Output("duty-dialog-minutes", "style"),
        Output("duty-dialog-scope", "style"),
        Output("duty-unit", "value"),
        Output("duty-note", "value"),
        Output("duty-dialog-message", "children"),
        Output("duty-dialog-action", "data"),
        Output("duty-message", "children"),
        Input({"type": "duty-act", "action": ALL}, "n_clicks"),
        State("duty-selected", "data"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def pressed(clicks, alert_id, lang):
        if not ctx.triggered_id or not any(clicks) or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # the buttons were drawn, not pressed
        alert_id = record_id(alert_id)
        if alert_id is None:
            raise PreventUpdate
        return actions.press(desk, guard.current(), guard.trail(), alert_id, ctx.triggered_id["action"],
                             translator(lang))  # fmt: skip

    @callback(
        Output("duty-dialog", "className", allow_duplicate=True),
        Output("duty-dialog-message", "children", allow_duplicate=True),
        Output("duty-message", "children", allow_duplicate=True),
        Input("duty-confirm", "n_clicks"),
        Input("duty-note", "n_submit"),
        State("duty-dialog-action", "data"),
        State("duty-selected", "data"),
        State("duty-unit", "value"),
        State("duty-minutes", "value"),
        State("duty-note", "value"),
        State("duty-scope", "value"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def confirmed(_clicks, _submits, action, alert_id, unit_id, minutes, note, scope, lang):
        alert_id = record_id(alert_id)
        if not isinstance(action, str) or alert_id is None:
            raise PreventUpdate
        return actions.confirm(desk, guard.current(), guard.trail(), alert_id, action, unit_id, minutes, note,
                               translator(lang), scope if isinstance(scope, str) else None)  # fmt: skip

    @callback(
        Output("duty-message", "children", allow_duplicate=True),
        Input("duty-sop-steps", "value"),
        State("duty-sop-done", "data"),
        State("duty-selected", "data"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def step_ticked(value, done, alert_id, lang):
        alert_id = record_id(alert_id)
        if alert_id is None:
            raise PreventUpdate
        message = actions.tick_step(desk, guard.current(), guard.trail(), alert_id, value, done, translator(lang))
        if message is None:
            raise PreventUpdate
        return message

    @callback(
        Output("duty-silences", "children"),
        Output("duty-silences-seen", "data"),
        Input("duty-tick", "n_intervals"),
        Input("duty-message", "children"),
        State("duty-silences-seen", "data"),
        State("duty-lang", "data"),
    )
    def show_silences(_n, _message, seen, lang):
        # Drawn again when the data changes or a minute has passed (a silence ends), not on every tick: a list
        # drawn anew under the officer's pointer can swallow the click on its End button.
        key = f"{desk.snapshots.current_key()}|{datetime.now(UTC):%Y%m%d%H%M}"
        if ctx.triggered_id == "duty-tick" and seen == key:
            raise PreventUpdate
        shown = actions.silences_in_force(desk, guard.current(), translator(lang), lang,
                                          current=ctx.triggered_id == "duty-message")  # fmt: skip
        return shown, key

    @callback(
        Output("duty-message", "children", allow_duplicate=True),
        Input({"type": "duty-silence-end", "id": ALL}, "n_clicks"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def silence_ended(clicks, lang):
        if not ctx.triggered_id or not any(clicks or []) or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # the buttons were drawn, not pressed
        return actions.end_silence(desk, guard.current(), guard.trail(), ctx.triggered_id["id"], translator(lang))

    @callback(
        Output("duty-message", "children", allow_duplicate=True),
        Input("duty-new-open", "n_clicks"),
        State("duty-new-domain", "value"),
        State("duty-new-region", "value"),
        State("duty-new-severity", "value"),
        State("duty-new-title", "value"),
        State("duty-new-description", "value"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def opened_by_hand(_clicks, domain, region_id, severity, title, description, lang):
        return actions.open_by_hand(desk, guard.current(), guard.trail(), domain, region_id, severity, title,
                                    description, translator(lang))  # fmt: skip

    @callback(
        Output("duty-message", "children", allow_duplicate=True),
        Output("duty-checked", "data"),
        Input("duty-bulk", "n_clicks"),
        State("duty-checked", "data"),
        State("duty-lang", "data"),
        prevent_initial_call=True,
    )
    def bulk_acknowledged(_clicks, checked, lang):
        message = actions.bulk_acknowledge(desk, guard.current(), guard.trail(), checked, translator(lang))
        return message, [] if checked else no_update

    clientside_callback(
        "function (className) { return window.cityops.duty.focusDialog(className); }",
        Output("duty-marked", "data", allow_duplicate=True),
        Input("duty-dialog", "className"),
        prevent_initial_call=True,
    )
    clientside_callback(
        "function (checked) { return !(checked && checked.length); }",
        Output("duty-bulk", "disabled"),
        Input("duty-checked", "data"),
    )
