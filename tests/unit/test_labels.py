"""The screen's vocabulary (dashboard/labels.py) names everything the lifecycle and the records can hold."""

from alerts.lifecycle import ACTIONS
from dashboard.labels import ACTION_LABELS, ALERT_STATE_LABELS, SEVERITY_LABELS
from store.records import ALERT_STATES, SEVERITIES


def test_every_alert_state_has_a_label_in_the_lifecycles_order():
    assert tuple(ALERT_STATE_LABELS) == ALERT_STATES


def test_every_severity_and_every_action_has_a_label():
    assert set(SEVERITY_LABELS) == set(SEVERITIES)
    assert set(ACTIONS) <= set(ACTION_LABELS)
