"""Alerts written straight into a store, as the rule engine writes them, for tests of what happens to them next."""

from __future__ import annotations

from datetime import UTC, datetime

from store import alerts as alert_store
from store.database import Store

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def new_alert(
    store: Store,
    *,
    district: str | None = None,
    state: str = "new",
    severity: str = "yellow",
    rule_id: str = "r",
    subject_id: str | None = None,
    at: datetime = T0,
    sop: str | None = None,
) -> int:
    """An open flood alert for the water authority; returns its id."""
    return alert_store.insert(
        store.cursor(),
        {"rule_id": rule_id, "subject_id": subject_id or f"s-{district}-{state}", "domain": "flood",
         "severity": severity, "initial_severity": severity, "state": state, "condition": "active",
         "title_zh": "t", "title_en": "t", "message_zh": "m", "message_en": "m", "unit_type": "water_authority",
         "district_id": district, "sop": sop, "first_fired_at": at, "last_fired_at": at, "created_at": at,
         "updated_at": at},
    )  # fmt: skip
