"""paho's MQTT client, reading the socket in large chunks and acknowledging in bulk.

Stock paho reads a packet with three recv() calls or more (its command byte, each byte of its length, its body),
goes back to select() after each packet, and sends each PUBACK with a send() of its own, woken through a socket
pair when another thread acknowledges. At thousands of messages a second those system calls were most of the MQTT
thread's time (bench/ingest.py, py-spy), which the writer and the rules share through the interpreter lock. This
client reads up to READ_BYTES at a time and serves paho's small reads from them, handles every packet already read
before it selects again, and writes the acknowledgements that the writer gives after a commit in one send(). A
QoS 0 or 1 PUBLISH without MQTT 5 properties (what sensors send) is decoded without building paho's empty
Properties object, a large part of the thread's time; its message has `properties` None, as under MQTT 3.1.1, and shares
one `info` (which only means something for messages we publish) instead of building a lock for each. Unless
per-topic callbacks were added, `on_message` is called without matching each topic against them first.

It overrides private methods of paho 2.x (`_sock_recv`, `loop_read`, `_packet_write`, `_handle_publish`,
`_handle_on_message`) and extends `reconnect`, `disconnect` and `message_callback_add`;
tests/integration/test_mqtt_client.py runs them against a real broker, so a paho release that changes those fails
there rather than in a city.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt

READ_BYTES = 65_536
READS_PER_LOOP = 16  # then select() again, so that writes and keep-alives are not held up by a long backlog
_RECEIVED_INFO = mqtt.MQTTMessageInfo(0)


class BufferedClient(mqtt.Client):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_at = 0
        self._reads_left = READS_PER_LOOP
        self._acks: deque[int] = deque()  # QoS 1 message ids to acknowledge, from any thread
        self._acks_lock = threading.Lock()  # moving them to paho's queue keeps their order before a DISCONNECT
        self._per_topic_callbacks = False

    def reconnect(self) -> mqtt.MQTTErrorCode:
        # Bytes and acknowledgements of the old connection mean nothing on the new one (paho drops its own queue of
        # packets here too); the broker sends unacknowledged messages again.
        self._read_buffer, self._read_at = b"", 0
        self._acks.clear()
        return super().reconnect()

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_at >= len(self._read_buffer):
            if self._reads_left <= 0:
                raise BlockingIOError  # paho keeps the packet read so far and goes back to select()
            self._reads_left -= 1
            chunk = super()._sock_recv(READ_BYTES)
            if not chunk:
                return chunk  # the connection closed
            self._read_buffer, self._read_at = chunk, 0
        start = self._read_at
        self._read_at = min(start + bufsize, len(self._read_buffer))
        return self._read_buffer[start : self._read_at]

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """Every packet that can be read now, READS_PER_LOOP reads at most: select() does not know of bytes that
        are already in the buffer."""
        self._reads_left = READS_PER_LOOP
        while True:
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack(self, mid: int, qos: int) -> mqtt.MQTTErrorCode:
        """A QoS 1 acknowledgement is queued and written with the others queued meanwhile, by the network thread."""
        if qos != 1 or not self._manual_ack:
            return super().ack(mid, qos)
        self._acks.append(mid)
        if len(self._acks) == 1 and self._sockpairW is not None:  # the first since the last write: wake select()
            with contextlib.suppress(BlockingIOError):  # the pair is full of wake-ups already
                self._sockpairW.send(mqtt.sockpair_data)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def want_write(self) -> bool:
        return bool(self._acks) or super().want_write()

    def disconnect(self, *args, **kwargs) -> mqtt.MQTTErrorCode:
        self._queue_acks()  # written before the DISCONNECT, or the broker sends those messages again
        return super().disconnect(*args, **kwargs)

    def _packet_write(self) -> mqtt.MQTTErrorCode:
        self._queue_acks()
        return super()._packet_write()

    def _queue_acks(self) -> None:
        """The acknowledgements given so far, as one packet of PUBACKs on paho's queue, in the order given."""
        with self._acks_lock:
            mids = []
            while self._acks:
                mids.append(self._acks.popleft())
            if mids:
                packet = b"".join(struct.pack("!BBH", mqtt.PUBACK, 2, mid) for mid in mids)
                self._out_packet.append({"command": mqtt.PUBACK, "mid": 0, "qos": 0, "pos": 0,
                                         "to_process": len(packet), "packet": packet, "info": None})  # fmt: skip

    def message_callback_add(self, sub: str, callback: mqtt.CallbackOnMessage) -> None:
        self._per_topic_callbacks = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        on_message = self.on_message
        if self._per_topic_callbacks or on_message is None:
            return super()._handle_on_message(message)
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:  # as paho does
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        topic_end = 2 + int.from_bytes(packet[:2], "big")
        body = topic_end + (2 if qos else 0)
        v5 = self._protocol == mqtt.MQTTv5
        if qos > 1 or topic_end == 2 or body > len(packet) or (v5 and packet[body : body + 1] != b"\x00"):
            return super()._handle_publish()  # QoS 2, a topic alias, properties, a malformed packet: paho's own way
        message = object.__new__(mqtt.MQTTMessage)  # every slot is set here, as MQTTMessage.__init__ would
        message.mid, message._topic = int.from_bytes(packet[topic_end:body], "big"), packet[2:topic_end]
        message.dup, message.qos, message.retain = bool(header & 0x08), qos, bool(header & 0x01)
        message.payload, message.properties = packet[body + v5 :], None
        message.state, message.info = mqtt.mqtt_ms_invalid, _RECEIVED_INFO
        message.timestamp = time.monotonic()  # as paho's time_func
        self._handle_on_message(message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(message.mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
