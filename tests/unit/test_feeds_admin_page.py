"""The feeds page without a browser: the ingest panel, the feeds' table, a dead letter's payload, and what a replay
says and records."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest

from dashboard.i18n import translator
from dashboard.pages.feeds_admin import letters
from dashboard.pages.feeds_admin.health import feed_table, health_changes
from dashboard.pages.feeds_admin.ingest import ingest
from dashboard.pages.feeds_admin.letters import RAW_SHOWN, letter, replay
from feeds.dead_letters import ReplayError, ReplayResult

EN = translator("en")
TZ = "Asia/Shanghai"
T0 = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
STATS = {"queued": 1200, "capacity": 100000, "holding_back": False, "lag_s": 0.25, "messages_per_s": 1530.4,
         "last_error": None, "failing_since": None}  # fmt: skip


def text(component) -> str:
    """Every string inside a component, in order."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(text(c) for c in component)
    return text(getattr(component, "children", None))


def test_the_ingest_panel_says_whether_the_store_writes_and_how_far_behind_it_is():
    assert text(ingest(None, EN, TZ)) == "This server does not write to the store."
    ok = ingest(STATS, EN, TZ)
    assert ok.className == "ingest feed-ok"
    assert "1,200 of 100,000 messages" in text(ok) and "0.2 s" in text(ok) and "1,530 messages/s" in text(ok)
    failing = ingest({**STATS, "failing_since": T0.isoformat(), "last_error": "disk full", "holding_back": True},
                     EN, TZ)  # fmt: skip
    assert failing.className == "ingest feed-down"
    assert "Writing fails since 07-20 08:00:00: disk full" in text(failing)
    assert "full: new messages wait at their source" in text(failing)


def test_every_configured_feed_has_a_row_and_one_never_heard_from_is_down():
    status = {"flood": SimpleNamespace(state="degraded", reason="late", changed_at=T0, last_message_at=T0,
                                       messages=12345, errors=2, discarded=1500, suspect=7)}  # fmt: skip
    rows = feed_table({"flood": "mqtt", "fire": "http"}, status, EN, TZ).children[1].children
    assert [r.className for r in rows] == ["feed-row feed-degraded", "feed-row feed-down"]
    assert text(rows[0]) == "flood mqtt Degraded late 07-20 08:00:00 07-20 08:00:00 12,345 2 1,500 7"
    assert text(rows[1]) == "fire http No message yet    0 0 0 0"


def test_the_days_changes_of_health_or_none():
    assert text(health_changes(pd.DataFrame(columns=["feed_id", "ts", "state", "reason"]), EN, TZ)) == \
        "No change in the last 24 hours."  # fmt: skip
    changes = pd.DataFrame([{"feed_id": "flood", "ts": T0, "state": "down", "reason": "silent"}])
    assert "flood Down silent" in text(health_changes(changes, EN, TZ))


def dead_letter(raw: bytes, replayed_at=None) -> dict:
    return {"feed_id": "flood", "ts": T0, "source": "city/flood/1", "reason": "invalid JSON", "raw": raw,
            "replayed_at": replayed_at, "replay_note": None}  # fmt: skip


def test_a_dead_letters_payload_is_shown_as_text_up_to_its_limit():
    shown, off = letter(dead_letter(b"<script>x</script>"), EN, TZ)
    assert shown.children[1].children == "<script>x</script>" and shown.children[2] is None and off is False
    shown, _ = letter(dead_letter(b"a" * (RAW_SHOWN + 5)), EN, TZ)
    assert len(shown.children[1].children) == RAW_SHOWN and text(shown.children[2]) == "… and 5 more bytes"
    assert letter(dead_letter(b"\xff", replayed_at=T0), EN, TZ)[1] is True
    assert text(letter(None, EN, TZ)[0]) == "There is no such dead letter."


@pytest.mark.parametrize(
    ("outcome", "said", "recorded"),
    [
        (ReplayResult("stored", (1, 2, 3)), "Replayed: 1 entities, 2 observations, 3 events stored", ("ok", "stored")),
        (ReplayResult("undecodable", reason="bad"), "Still cannot be decoded: bad", ("failed", "undecodable")),
        (ReplayResult("unconfirmed"), "The store did not confirm the write in time; try again.",
         ("failed", "unconfirmed")),
        (ReplayError("unconfigured", 7, "old-feed"), "Feed old-feed is no longer configured.",
         ("failed", "unconfigured")),
    ],
)  # fmt: skip
def test_a_replay_says_how_it_went_and_records_it(monkeypatch, outcome, said, recorded):
    def fake_replay(*_args):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(letters.dead_letters, "replay", fake_replay)
    audit = []
    assert replay(None, None, {}, None, 7, lambda *entry: audit.append(entry), EN) == said
    assert audit == [recorded]
