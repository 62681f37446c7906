"""The screen's vocabulary: what the pages call roles, domains, colours, states and actions, marked for translation
(dashboard/i18n.py). Pages import their words from here, never from another page."""

from __future__ import annotations

from access.policy import DISPLAY
from dashboard.i18n import N_

ROLE_LABELS: dict[str, str] = {
    "admin": N_("Administrator"), "supervisor": N_("Supervisor"), "duty_officer": N_("Duty officer"),
    "district_leader": N_("District leader"), "viewer": N_("Viewer"), DISPLAY: N_("Wall display"),
}  # fmt: skip
