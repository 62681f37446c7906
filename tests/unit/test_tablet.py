"""The tablet's trend: its axis of counts labelled in a few whole steps, however many alerts a storm raises."""

from __future__ import annotations

import pytest

from dashboard.pages.tablet import integer_step


@pytest.mark.parametrize(
    ("most", "step"), [(0, 1), (1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (25, 5), (26, 10), (1_300, 500), (999, 200)]
)
def test_a_step_of_1_2_or_5_times_ten_gives_at_most_five_labels(most, step):
    assert integer_step(most) == step
    assert most / step <= 5
