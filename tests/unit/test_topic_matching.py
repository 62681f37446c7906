"""Which feed claims a topic: the `prefix/#` shortcut says what paho's matcher says, for every kind of filter."""

import paho.mqtt.client as mqtt
import pytest

from feeds.mqtt import _matches

FILTERS = ["a/#", "a/b/#", "baoding/flood/#", "#", "a/+/c", "+/b/#", "$SYS/#", "a/b", "x/#", "a/#/"]
TOPICS = ["a", "a/", "a/b", "a/b/c", "a/bc", "ab/c", "baoding/flood/obs/1", "baoding/floods", "baoding/flood",
          "$SYS/x", "x", "a/x/c", "q/b/z", "/a", "a//b"]  # fmt: skip


@pytest.mark.parametrize("subscription", FILTERS)
def test_the_shortcut_matches_as_paho_does(subscription):
    for topic in TOPICS:
        try:
            expected = mqtt.topic_matches_sub(subscription, topic)
        except ValueError:  # not a valid filter for paho either
            continue
        assert _matches(subscription, topic) == expected, (subscription, topic)
