"""The dead letters: the latest ones to choose from, one payload shown as the source sent it, and replaying it
through its feed's current configuration (feeds/dead_letters.py), which the audit log records."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from dash import html

from dashboard.i18n import N_
from dashboard.timefmt import local_time
from feeds import dead_letters
from feeds.decoding import FeedDecoding
from layers.regions import RegionIndex
from store.database import Store
from store.writer import Writer

REFUSALS = {
    "missing": N_("There is no such dead letter."),
    "replayed": N_("This dead letter was already replayed."),
    "unconfigured": N_("Feed {feed} is no longer configured."),
}
RAW_SHOWN = 8_000  # bytes of a payload shown; the whole payload stays in the store


def letter_options(letters: pd.DataFrame, t, tz: str) -> list[dict]:
    """The dead letters (feeds/dead_letters.py recent) as the list's options, the replayed ones marked."""
    return [
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


def letter(d: dict | None, t, tz: str) -> tuple[html.Div | html.P, bool]:
    """One dead letter (feeds/dead_letters.py get; None: there is none) with the first RAW_SHOWN bytes of its
    payload as text, and whether its replay button is off (it was replayed already, or there is nothing)."""
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


def replay(store: Store, writer: Writer, decodings: dict[str, FeedDecoding], regions: RegionIndex, letter_id: int,
           record: Callable[[str, str], None], t) -> str:  # fmt: skip
    """Replays one dead letter and says how it went; `record(outcome, detail)` writes the attempt to the audit
    log."""
    try:
        result = dead_letters.replay(store, writer, decodings, regions, letter_id)
    except dead_letters.ReplayError as exc:
        record("failed", exc.code)
        return t(REFUSALS[exc.code], feed=exc.feed_id)
    record("ok" if result.outcome == "stored" else "failed", result.outcome)
    if result.outcome == "stored":
        entities, observations, events = result.counts
        return t("Replayed: {entities} entities, {observations} observations, {events} events stored",
                 entities=entities, observations=observations, events=events)  # fmt: skip
    if result.outcome == "undecodable":
        return t("Still cannot be decoded: {reason}", reason=result.reason)
    return t("The store did not confirm the write in time; try again.")
