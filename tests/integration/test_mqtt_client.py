"""CityOps' MQTT client (feeds/mqtt_client.py: paho reading in large chunks, acknowledging in bulk) against a real
mosquitto, beside stock paho: the same messages arrive, whatever their size, QoS and properties, and the
acknowledgements it gathers reach the broker, in order, before it disconnects."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from feeds.mqtt_client import READ_BYTES, BufferedClient
from tests.harness import wait_until

pytestmark = pytest.mark.integration
# Around the limits of MQTT's remaining length (1, 2 and 3 bytes) and of one read.
SIZES = [0, 1, 120, 126, 127, 128, 16_380, 16_384, READ_BYTES - 20, READ_BYTES, 3 * READ_BYTES + 7]


class Subscriber:
    """A client that keeps what it receives; with `manual_ack`, acknowledgements are the test's to give."""

    def __init__(self, kind: type[mqtt.Client], client_id: str, port: int, protocol=mqtt.MQTTv5,
                 manual_ack: bool = False, clean: bool = True):  # fmt: skip
        self.client = kind(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                           manual_ack=manual_ack, clean_session=None if protocol == mqtt.MQTTv5 else clean)  # fmt: skip
        self.client.max_inflight_messages_set(1000)
        self.received: list[mqtt.MQTTMessage] = []
        self.subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, msg: self.received.append(msg)
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        if protocol == mqtt.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 0 if clean else 600
            self.client.connect("127.0.0.1", port, clean_start=clean, properties=properties)
        else:
            self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def subscribe(self, topic: str, qos: int) -> None:
        self.client.subscribe(topic, qos)
        assert self.subscribed.wait(10), "not subscribed"

    def wait_for(self, count: int, timeout: float = 30) -> None:
        wait_until(lambda: len(self.received) >= count, timeout, f"{count} messages received", every=0.02)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, messages: list[tuple[str, bytes, int, Properties | None]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=qos, properties=props) for topic, payload, qos, props in messages]
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()


def seen(message: mqtt.MQTTMessage) -> tuple:
    props = getattr(message.properties, "UserProperty", None) if message.properties is not None else None
    return message.topic, bytes(message.payload), message.qos, props


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["MQTT 5", "MQTT 3.1.1"])
def test_every_message_arrives_as_stock_paho_receives_it(mosquitto, protocol):
    ours = Subscriber(BufferedClient, "ours", mosquitto.port, protocol)
    stock = Subscriber(mqtt.Client, "stock", mosquitto.port, protocol)
    for client in (ours, stock):
        client.subscribe("t/#", qos=2)
    messages = []
    for i, size in enumerate(SIZES * 3):
        props = None
        if i % 4 == 3:  # an MQTT 5 property: paho's own decoding, then ours again
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("n", str(i))]
        messages.append((f"t/{i % 7}/{size}", bytes([i % 251]) * size, i % 3, props))
    # A burst of small readings, many to a read.
    messages += [(f"t/burst/{i}", f'{{"v": {i}}}'.encode(), 1, None) for i in range(5_000)]
    publish(mosquitto.port, messages)
    for client in (ours, stock):
        client.wait_for(len(messages))
    time.sleep(0.3)  # nothing more comes
    assert len(ours.received) == len(stock.received) == len(messages)
    assert sorted(map(seen, ours.received)) == sorted(map(seen, stock.received))
    burst = [int(m.topic.rsplit("/", 1)[1]) for m in ours.received if m.topic.startswith("t/burst/")]
    assert burst == sorted(burst), "QoS 1 messages on one subscription keep their order"
    for client in (ours, stock):
        client.stop()


def test_per_topic_callbacks_get_their_topics_as_with_stock_paho(mosquitto):
    """on_message is called without matching topics only while no per-topic callback was added."""
    clients = {kind: Subscriber(kind, kind.__name__, mosquitto.port) for kind in (BufferedClient, mqtt.Client)}
    alarms: dict[type, list[str]] = {kind: [] for kind in clients}
    for kind, client in clients.items():
        client.client.message_callback_add("t/alarm/+", lambda _c, _u, msg, kind=kind: alarms[kind].append(msg.topic))
        client.subscribe("t/#", qos=1)
    publish(mosquitto.port, [(f"t/{'alarm' if i % 3 == 0 else 'level'}/{i}", b"1", 1, None) for i in range(30)])
    for kind, client in clients.items():
        wait_until(lambda c=client, k=kind: len(c.received) + len(alarms[k]) >= 30, 30, f"30 to {kind.__name__}")
        client.stop()
    ours, stock = clients[BufferedClient], clients[mqtt.Client]
    assert alarms[BufferedClient] == alarms[mqtt.Client] == [f"t/alarm/{i}" for i in range(0, 30, 3)]
    assert [m.topic for m in ours.received] == [m.topic for m in stock.received]
    assert len(ours.received) == 20


class Recorded(BufferedClient):
    """CityOps' client, keeping what it writes to the broker."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.written = bytearray()

    def _sock_send(self, buf) -> int:
        sent = super()._sock_send(buf)
        self.written += bytes(buf[:sent])
        return sent


def packets(data: bytes) -> list[tuple[int, bytes]]:
    """(packet type, body) of each MQTT packet in `data`."""
    out, i = [], 0
    while i < len(data):
        length, shift, j = 0, 0, i + 1
        while True:
            length |= (data[j] & 127) << shift
            shift, j = shift + 7, j + 1
            if not data[j - 1] & 128:
                break
        out.append((data[i] & 0xF0, data[j : j + length]))
        i = j + length
    return out


def test_acknowledgements_given_in_bulk_reach_the_broker_before_it_disconnects(mosquitto):
    # As the writer does: messages are acknowledged from another thread after they are stored. Those acknowledged
    # are written before the DISCONNECT, and never sent again; the others are, to the same session.
    ours = Subscriber(Recorded, "cityops", mosquitto.port, manual_ack=True, clean=False)
    ours.subscribe("r/#", qos=1)
    held = {i for i in range(3_000) if i % 10 == 0}  # fewer than the broker keeps in flight unacknowledged
    last = 2_500  # these are acknowledged just before disconnecting

    def writer() -> None:
        done = 0
        while done < 3_000:
            arrived = ours.received[done:]
            for message in arrived:
                if int(message.payload) not in held and int(message.payload) < last:
                    ours.client.ack(message.mid, message.qos)
            done += len(arrived)
            time.sleep(0.01)

    acker = threading.Thread(target=writer)
    acker.start()
    publish(mosquitto.port, [(f"r/{i}", str(i).encode(), 1, None) for i in range(3_000)])
    acker.join(30)
    assert not acker.is_alive(), f"received {len(ours.received)} of 3,000"
    for message in ours.received:
        if int(message.payload) not in held and int(message.payload) >= last:
            ours.client.ack(message.mid, message.qos)
    ours.stop()

    written = packets(bytes(ours.client.written))
    assert written[-1][0] == mqtt.DISCONNECT
    acked = [int.from_bytes(body[:2], "big") for kind, body in written if kind == mqtt.PUBACK]
    assert acked == [m.mid for m in ours.received if int(m.payload) not in held], "each once, in order, before"
    again = Subscriber(mqtt.Client, "cityops", mosquitto.port, clean=False)
    again.wait_for(len(held))
    time.sleep(1)  # nothing more comes
    redelivered = {int(m.payload) for m in again.received}
    # Acknowledgements that arrive with the DISCONNECT itself are sometimes dropped by the broker, with stock paho
    # too (3 runs in 8 here): those messages come again, and the store keeps each once (by its id).
    assert held <= redelivered and all(i >= last for i in redelivered - held)
    again.stop()


@pytest.mark.parametrize("kind", [BufferedClient, mqtt.Client], ids=["ours", "stock paho"])
def test_a_malformed_publish_drops_the_connection_and_delivers_nothing(kind):
    # A broker (or something in its place) sends a PUBLISH whose topic is longer than the packet: no message may
    # come of it, and the connection is dropped, as stock paho does.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def broker() -> None:
        conn, _ = server.accept()
        conn.recv(1024)  # CONNECT
        conn.sendall(bytes([0x20, 0x02, 0x00, 0x00]))  # CONNACK, accepted
        conn.sendall(bytes([0x30, 0x04, 0x00, 0x10]) + b"ab")  # PUBLISH: a topic of 16 bytes in 2
        time.sleep(2)
        conn.close()

    threading.Thread(target=broker, daemon=True).start()
    client = kind(mqtt.CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv311)
    received, dropped = [], threading.Event()
    client.on_message = lambda _c, _u, msg: received.append(msg)
    client.on_disconnect = lambda *_args: dropped.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert dropped.wait(5), "the connection was kept after a malformed packet"
        assert received == []
    finally:
        client.loop_stop()
        server.close()
