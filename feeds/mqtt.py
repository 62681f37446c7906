"""MQTT ingest: one paho client subscribed to every MQTT feed's topics.

paho's network thread (feeds/mqtt_client.py: paho reading in large chunks) only decodes and enqueues; it never
touches the database. QoS 1 messages are acknowledged by the writer after their batch is committed (manual ack), so
a crash loses nothing the broker considers delivered: unacknowledged messages come again with the persistent session
(fixed client id, clean_start=False and a session expiry; without the expiry the broker drops the queue,
STACK-NOTES). A full queue blocks this thread, which leaves messages at the broker: back-pressure, not loss.

An MQTT feed's own keys are its `topics` and `qos` (MqttFeedSettings); one message is bounded by `[limits]
mqtt_message_kb` (a bigger one is a dead letter, FeedDecoding.envelope). The broker is the configuration's `[mqtt]`
(or the demo's embedded one), handed over as a Broker. A lost connection turns every MQTT feed down
(feeds/health.py); its messages, once they come again, make each feed ok.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from typing import ClassVar, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import field_validator

from feeds import health
from feeds.decoding import FeedDecoding
from feeds.mqtt_client import BufferedClient
from feeds.settings import FeedBase
from feeds.wiring import Wiring
from layers.regions import RegionIndex
from store.limits import Limits
from store.writer import Writer

log = logging.getLogger(__name__)
TOPICS_REMEMBERED = 200_000


def _matches(subscription: str, topic: str) -> bool:
    """MQTT topic matching, with the common `prefix/#` answered by comparing strings: a city's devices
    have more topics than are remembered, and paho's general matcher was a large part of the ingest thread's time."""
    if subscription.endswith("/#") and "+" not in subscription and "#" not in subscription[:-2]:
        return topic.startswith(subscription[:-1]) or topic == subscription[:-2]
    return mqtt.topic_matches_sub(subscription, topic)


class MqttFeedSettings(FeedBase):
    """A feed read from the broker: the topics it claims (MQTT wildcards allowed) and the QoS it asks for."""

    transport: Literal["mqtt"] = "mqtt"
    topics: list[str]
    qos: Literal[0, 1] = 1
    # A message is small by nature (a reading, an event): it gets the message limit, not the document one.
    payload_limit: ClassVar[str] = "mqtt_message_kb"

    @field_validator("topics")
    @classmethod
    def _some_topics(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("an mqtt feed needs 'topics'")
        return value


@dataclass(frozen=True)
class MqttFeed:
    """An MQTT feed: the topics it claims and how its payloads decode."""

    decoding: FeedDecoding
    topics: tuple[str, ...]
    qos: int = 1

    @classmethod
    def from_settings(cls, feed: MqttFeedSettings, limits: Limits | None = None) -> MqttFeed:
        return cls(FeedDecoding.from_settings(feed, limits), tuple(feed.topics), feed.qos)

    @property
    def id(self) -> str:
        return self.decoding.id


class MqttIngest:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        feeds: list[MqttFeed],
        writer: Writer,
        regions: RegionIndex,
        protocol: str = "5",
        session_expiry_s: int = 86_400,
        username: str | None = None,
        password: str | None = None,
        tls: dict | None = None,
        shared_group: str | None = None,
        on_connection_change: Callable[[list[str], bool, str], None] | None = None,
    ):
        self.host, self.port = host, port
        self.shared_group = shared_group
        self.feeds = feeds
        self.writer = writer
        self.regions = regions
        self.session_expiry_s = session_expiry_s
        self.on_connection_change = on_connection_change
        self.connected = threading.Event()
        self.received = 0
        self._feed_of_topic: dict[str, MqttFeed | None] = {}
        self.v5 = protocol == "5"
        self.client = BufferedClient(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            clean_session=None if self.v5 else False,
            manual_ack=True,
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls is not None:  # ca_certs, certfile, keyfile: paho's tls_set arguments (None: the system's CAs)
            self.client.tls_set(**tls)
        # More in flight than paho's default of 20: acks wait for a commit (≤ 250 ms), and the broker must keep
        # sending meanwhile.
        self.client.max_inflight_messages_set(1000)
        # Back off while the broker is away, but not so far that a returned broker waits long for us.
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._subscribing: dict[int, list[tuple[str, str]]] = {}  # SUBSCRIBE's id: each (feed, topic) asked

    def start(self) -> None:
        properties = None
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.session_expiry_s
            self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=properties)
        else:
            self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            self._connection_changed(False, f"broker refused: {reason_code}")
            return
        # A shared subscription delivers each message to one node of the group; its topic is the message's own, so
        # feed_for matches it as before.
        share = f"$share/{self.shared_group}/" if self.shared_group else ""
        wanted = [(feed.id, share + topic, feed.qos) for feed in self.feeds for topic in feed.topics]
        if not wanted:
            self.connected.set()
            self._connection_changed(True, "")
            return
        # Connected means subscribed: until the broker's SUBACK, what is published to the topics is not ours.
        _, mid = client.subscribe([(topic, qos) for _, topic, qos in wanted])
        self._subscribing[mid] = [(feed_id, topic) for feed_id, topic, _ in wanted]

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused: dict[str, list[str]] = {}
        for (feed_id, topic), code in zip(self._subscribing.pop(mid, []), reason_codes, strict=False):
            if code.is_failure:
                refused.setdefault(feed_id, []).append(topic)
        for feed_id, topics in refused.items():
            log.error("MQTT broker %s:%d refused feed %s the topics %s", self.host, self.port, feed_id, topics)
            self._connection_changed(False, f"broker refused the subscription to {', '.join(topics)}", [feed_id])
        self.connected.set()
        self._connection_changed(True, "", [f.id for f in self.feeds if f.id not in refused])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        # paho says "Unspecified error" for a connection that simply dropped; the broker's own reasons are worth saying.
        said = "" if reason_code.value in (0, 128) else f": {reason_code}"
        self._connection_changed(False, f"lost the connection to the broker at {self.host}:{self.port}{said}")

    def _connection_changed(self, up: bool, reason: str, feed_ids: list[str] | None = None) -> None:
        if feed_ids is None:
            feed_ids = [f.id for f in self.feeds]
        if self.on_connection_change is not None and feed_ids:
            try:
                self.on_connection_change(feed_ids, up, reason)
            except Exception:
                log.exception("recording the broker connection state failed")

    def feed_for(self, topic: str) -> MqttFeed | None:
        # Remembered per topic: matching wildcards was a large part of this thread's time (bench/ingest.py), and a
        # city's devices each publish on a topic of their own, again and again.
        try:
            return self._feed_of_topic[topic]
        except KeyError:
            pass
        found = next((f for f in self.feeds if any(_matches(s, topic) for s in f.topics)), None)
        if len(self._feed_of_topic) >= TOPICS_REMEMBERED:
            self._feed_of_topic.clear()
        self._feed_of_topic[topic] = found
        return found

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        now = datetime.now(UTC)
        mid, qos = msg.mid, msg.qos
        ack = (lambda: client.ack(mid, qos)) if qos > 0 else None
        feed = self.feed_for(msg.topic)
        if feed is None:  # a retained message on a topic no feed claims any more
            if ack:
                ack()
            return
        self.writer.put(feed.decoding.envelope(msg.topic, msg.payload, now, self.regions, ack))


def start(feeds: list[MqttFeedSettings], wiring: Wiring) -> list[MqttIngest]:
    """One client for all MQTT feeds, connecting in the background."""
    ingest = MqttIngest(**asdict(wiring.broker), feeds=[MqttFeed.from_settings(f, wiring.limits) for f in feeds],
                        writer=wiring.writer, regions=wiring.regions,
                        on_connection_change=partial(health.connection_changed, wiring.store))  # fmt: skip
    ingest.start()
    return [ingest]
