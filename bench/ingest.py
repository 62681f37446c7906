"""MQTT → DuckDB ingest with rules on, against a bare paho subscriber that only counts, from the same broker.

A real mosquitto; two persistent sessions (the bare subscriber's and CityOps') are made first, so the broker
queues the same backlog of QoS 1 messages for each. Each then connects and takes its backlog as fast as it can: the
bare subscriber only counts (paho acknowledges at once); CityOps decodes, normalises, writes in batches to a DuckDB
file, acknowledges after the commit and runs 200 rules on every batch. The figure is messages per second from
connect to the last message committed, checked against the store (every reading stored, no dead letter); the ratio
says what CityOps costs on top of the broker path.

CityOps reads the broker with its own paho client (feeds/mqtt_client.py), which is faster than stock paho; so the
same bare subscriber is also measured on that client, a third session with the same backlog, to show what CityOps
itself costs beside what its client saves.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alerts.engine import RuleEngine
from alerts.rules import parse_rules
from bench.rules import KINDS, METRICS, make_rules
from cityops import DEMO_DIR
from cityops.broker import Mosquitto, free_port
from cityops.config import load
from cityops.runtime import SWITCH_INTERVAL_S
from feeds.decoders import cityops_json
from feeds.decoding import FeedDecoding
from feeds.mqtt import MqttFeed, MqttIngest
from feeds.mqtt_client import BufferedClient
from layers.crs import to_wgs84
from store.duckdb_engine import DuckDBStore
from store.writer import Writer

TOPIC = "bench/obs"
BARE, BARE_OURS_CLIENT, OURS = "bench-bare", "bench-bare-buffered", "bench-cityops"


def _client(client_id: str, kind: type[mqtt.Client] = mqtt.Client) -> mqtt.Client:
    client = kind(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    return client


def _connect(client: mqtt.Client, port: int) -> None:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)


def _session(client_id: str, port: int) -> None:
    """Make a persistent session subscribed to the benchmark's topics, and leave it queueing."""
    client = _client(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    _connect(client, port)
    client.loop_start()
    client.subscribe("bench/#", qos=1)
    if not subscribed.wait(10):
        raise RuntimeError(f"{client_id} could not subscribe")
    client.disconnect()
    client.loop_stop()


def _publish(port: int, payloads: list[bytes]) -> None:
    client = _client("bench-pub")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for payload in payloads:
        infos.append(client.publish(TOPIC, payload, qos=1))
        if len(infos) % 1000 == 0:  # paho has 16-bit message ids: wait on older publishes (STACK-NOTES)
            infos[-1000].wait_for_publish(60)
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def _bare(port: int, expected: int, client_id: str, kind: type[mqtt.Client] = mqtt.Client) -> float:
    """Seconds for a bare subscriber (stock paho, or `kind`) to receive its backlog."""
    client = _client(client_id, kind)
    received = 0
    done = threading.Event()

    def on_message(_client, _userdata, _msg) -> None:
        nonlocal received
        received += 1
        if received >= expected:
            done.set()

    client.on_message = on_message
    began = time.perf_counter()
    _connect(client, port)
    client.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"the bare subscriber received {received} of {expected}")
    took = time.perf_counter() - began
    client.disconnect()
    client.loop_stop()
    return took


def bare_rate(messages: int = 30_000) -> float:
    """Messages a second a bare paho subscriber receives from a backlog on a broker of its own: the yardstick of
    how fast a machine is for this work."""
    body = payloads(messages, 2_000, random.Random(1))
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(free_port(), Path(tmp) / "broker")
        broker.start()
        try:
            _session(BARE, broker.port)
            _publish(broker.port, body)
            return len(body) / _bare(broker.port, len(body), BARE)
        finally:
            broker.stop()


def _ours(port: int, expected: int, readings: int, rules_count: int, folder: Path, client_id: str
          ) -> tuple[float, float, int]:  # fmt: skip
    """Seconds for CityOps to commit its backlog (rules on), seconds until its MQTT thread had received the last
    message, and how many batches it took. Fails unless the store then holds every reading and no dead letter."""
    folder.mkdir(parents=True, exist_ok=True)
    store = DuckDBStore(folder / "bench.duckdb")
    writer = Writer(store)
    engine = RuleEngine(store, parse_rules(make_rules(rules_count)))
    committed, batches, last_received = 0, 0, None
    done = threading.Event()

    def counted(batch) -> None:
        nonlocal committed, batches, last_received
        committed += len(batch.envelopes)
        batches += 1
        last_received = batch.envelopes[-1].received_at  # the queue keeps the order of receipt
        if committed >= expected:
            done.set()

    writer.listeners += [engine.on_batch, counted]
    writer.start()
    feed = MqttFeed(FeedDecoding("b", cityops_json.decode, to_wgs84("wgs84")), ("bench/#",))
    regions = load(DEMO_DIR / "cityops.toml").city.regions()
    ingest = MqttIngest(host="127.0.0.1", port=port, client_id=client_id, feeds=[feed], writer=writer, regions=regions,
                        session_expiry_s=3600)  # fmt: skip
    began, began_at = time.perf_counter(), datetime.now(UTC)
    ingest.start()
    if not done.wait(600):
        raise RuntimeError(f"CityOps committed {committed} of {expected}")
    took = time.perf_counter() - began
    received = (last_received - began_at).total_seconds()
    ingest.stop()
    writer.stop()
    stored, dead = (store.cursor().execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("observations", "dead_letters"))  # fmt: skip
    store.close()
    if stored != readings or dead:
        raise RuntimeError(f"CityOps stored {stored:,} of {readings:,} readings, {dead:,} dead letters")
    return took, received, batches


def payloads(messages: int, entities: int, rng: random.Random) -> list[bytes]:
    out = [
        json.dumps(
            {
                "type": "entity",
                "id": f"e{i}",
                "domain": "flood",
                "kind": KINDS[i % 4],
                "name": f"e{i}",
                "lon": 115 + rng.random(),
                "lat": 38.5 + rng.random(),
                "attributes": {f"limit_{k}": rng.uniform(70, 95) for k in range(3)},
            }
        ).encode()  # fmt: skip
        for i in range(entities)
    ]
    for n in range(messages):
        # Values around 50 ± 10 against thresholds of 70-95: about 2.5% of readings cross one.
        body = {"type": "observation", "entity": f"e{rng.randrange(entities)}", "id": f"m{n}",
                "ts": f"2026-07-20T08:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z",
                "values": {METRICS[n % 5]: round(rng.gauss(50, 10), 2)}}  # fmt: skip
        out.append(json.dumps(body).encode())
    return out


def run(messages: int = 100_000, entities: int = 2_000, rules_count: int = 200, rounds: int = 3) -> dict:
    """`rounds` of the three, one after another on the same broker: the figures are their medians (the bare
    subscriber's rate varied by a fifth from run to run here)."""
    rng = random.Random(1)
    body = payloads(messages, entities, rng)
    bare, buffered, ours, received, tails, batches = [], [], [], [], [], []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as `cityops run` sets it
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = Mosquitto(free_port(), folder / "broker")
        broker.start()
        try:
            for n in range(rounds):
                sessions = [f"{client_id}-{n}" for client_id in (BARE, BARE_OURS_CLIENT, OURS)]
                for client_id in sessions:
                    _session(client_id, broker.port)
                _publish(broker.port, body)
                bare.append(len(body) / _bare(broker.port, len(body), sessions[0]))
                buffered.append(len(body) / _bare(broker.port, len(body), sessions[1], BufferedClient))
                took, got, batched = _ours(broker.port, len(body), messages, rules_count, folder / f"round-{n}",
                                           sessions[2])  # fmt: skip
                ours.append(len(body) / took)
                received.append(got)
                tails.append(took - got)
                batches.append(batched)
        finally:
            broker.stop()
            sys.setswitchinterval(interval)
    bare_rate, buffered_rate, ours_rate = (statistics.median(rates) for rates in (bare, buffered, ours))
    share = ours_rate / bare_rate
    shares = [o / b for o, b in zip(ours, bare, strict=True)]
    full = (messages, rules_count) == (100_000, 200) and rounds >= 3
    return {
        "name": "MQTT → DuckDB ingest",
        "figure": f"{ours_rate:,.0f} msg/s (median of {rounds} rounds, {min(ours):,.0f}-{max(ours):,.0f}; "
        f"{len(body):,} QoS 1 messages a round, in {statistics.median(batches):.0f} batches, {rules_count} rules on)",
        "target": "≥ 80% of a bare paho subscriber, and ≥ 6,000 msg/s",
        "met": (share >= 0.8 and ours_rate >= 6000) if full else None,
        "baseline": f"bare paho subscriber {bare_rate:,.0f} msg/s; the same on CityOps' client "
        f"{buffered_rate:,.0f} msg/s",
        "ratio": f"{share:.1%} of the bare subscriber (rounds {min(shares):.1%}-{max(shares):.1%}; "
        f"{ours_rate / buffered_rate:.0%} of the bare subscriber on CityOps' client)",
        "how": f"a real mosquitto 2 with persistence; in each of {rounds} rounds three persistent sessions were given "
        "the same backlog of "
        f"{len(body):,} QoS 1 messages ({entities:,} entity descriptions, then one reading each, cityops-json), "
        "then each connected alone: the bare subscribers only count, one on stock paho, one on CityOps' client "
        "(feeds/mqtt_client.py: paho reading 64 KB at a time, acknowledging in bulk, no empty MQTT 5 properties "
        "built); CityOps (MqttIngest → Writer → DuckDB file, acknowledged after each commit, RuleEngine with "
        f"{rules_count} rules on every batch) is timed from connect to its last commit, and the store then holds "
        f"all {messages:,} readings and no dead letter",
        "limits": "CityOps' own work, not the broker path: on CityOps' client a bare subscriber takes the same "
        f"backlog {buffered_rate / ours_rate:.1f} times as fast. CityOps' MQTT thread received the backlog in "
        f"{statistics.median(received):.2f} s against the stock bare subscriber's {len(body) / bare_rate:.2f} s "
        "(medians); it shares the interpreter lock with the writer's Python work on each batch (building its "
        f"columns, the rules), and the last batch was then committed and evaluated in "
        f"{statistics.median(tails):.2f} s. "
        "How it got here (py-spy, 2026-12-02): on stock paho, reading the socket (three recv() and a select() per "
        "packet, a send() per acknowledgement, an empty MQTT 5 Properties object per message) was 70% of the MQTT "
        "thread and CityOps took 45% of the bare subscriber's rate; then 76-88%, while the writer waited on its "
        "queue for each message (each put woke it and handed the interpreter lock over) and paho matched every "
        "topic against per-topic callbacks and built a lock for every message received. Next, if more is needed: "
        "decoding in processes of their own on a shared subscription ($share/cityops/…)",
    }


if __name__ == "__main__":
    print(run())
