"""The screen's vocabulary: what the pages call roles, domains, colours, states and actions, marked for translation
(dashboard/i18n.py). Pages import their words from here, never from another page."""

from __future__ import annotations

from access.policy import DISPLAY
from dashboard.i18n import N_

ROLE_LABELS: dict[str, str] = {
    "admin": N_("Administrator"), "supervisor": N_("Supervisor"), "duty_officer": N_("Duty officer"),
    "district_leader": N_("District leader"), "viewer": N_("Viewer"), "field_worker": N_("Field worker"),
    DISPLAY: N_("Wall display"),
}  # fmt: skip
# The wall's four domains; the others (hotline, env, system) are shown by their code where they appear.
DOMAIN_LABELS: dict[str, str] = {
    "traffic": N_("Traffic"), "flood": N_("Flood"), "fire": N_("Fire"), "security": N_("Public security"),
}  # fmt: skip
SEVERITY_LABELS: dict[str, str] = {"red": N_("Red"), "orange": N_("Orange"), "yellow": N_("Yellow"), "blue": N_("Blue")}
# In the lifecycle's order (store/records.py ALERT_STATES), which is the order lists of states are shown in.
ALERT_STATE_LABELS: dict[str, str] = {
    "new": N_("New"), "acknowledged": N_("Acknowledged"), "dispatched": N_("Dispatched"),
    "in_progress": N_("In progress"), "resolved": N_("Resolved"), "closed": N_("Closed"), "returned": N_("Returned"),
    "reopened": N_("Reopened"), "cancelled": N_("Cancelled"),
}  # fmt: skip
FEED_STATE_LABELS: dict[str, str] = {"ok": N_("OK"), "degraded": N_("Degraded"), "down": N_("Down")}
# What is done to an alert, as its timeline says it: the people's actions, then what the rule engine and the time
# limits write there themselves. The audit log's alert entries use the same words.
ACTION_LABELS: dict[str, str] = {
    "acknowledge": N_("Acknowledge"), "dispatch": N_("Dispatch"), "start": N_("Start work"),
    "resolve": N_("Resolve"), "close": N_("Verify and close"), "reopen": N_("Reopen"), "return": N_("Return"),
    "cancel": N_("Cancel"), "snooze": N_("Snooze"), "escalate": N_("Escalate"), "comment": N_("Comment"),
    "fire": N_("Raised by rule"), "refire": N_("Condition again"), "clear": N_("Condition cleared"),
    "overdue": N_("Time limit passed"), "check": N_("Checklist"),
    "raise": N_("Raised: no longer inhibited or silenced"), "follow": N_("Follows its alerts"),
    "open": N_("Opened by hand"), "update": N_("Changed by its warning"), "notify": N_("Notified"),
}  # fmt: skip
# Where a task down the command chain stands (alerts/chain.py).
TASK_STATE_LABELS = {
    "sent": N_("To sign for"), "signed": N_("Signed for"), "on_site": N_("On site"), "returned": N_("Returned"),
    "reported": N_("Reported done"), "verified": N_("Verified"),
}  # fmt: skip


def device_name(name: str, name_en: str | None, lang: str) -> str:
    """A device's name as a page in `lang` shows it: in English, the English name its feed gave, if any (the
    attribute `name_en`, feeds/decoders/base.py parse_name); else the name as the feed wrote it."""
    return name_en if lang != "zh_CN" and isinstance(name_en, str) and name_en else name
