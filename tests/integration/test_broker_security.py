"""The embedded broker lets in CityOps' own clients only, each to its own topics (issue 22): a probe without
credentials had cleared a red fire alarm, moved a device, added 10,000 devices and read everything. Tried on both
brokers, started as `cityops run` starts them, over a socket; an observer account of the test's own reads `#` and so
sees whatever gets through."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cityops.broker import MOSQUITTO_USER, Account, Mosquitto, PythonBroker, free_port, mosquitto_path
from cityops.cli import DEMO_CONFIG
from cityops.config import load
from cityops.runtime import INGEST_USER, SIMULATOR_USER, broker_accounts, start_broker
from tests.harness import ROOT, CityOps, wait_until

pytestmark = pytest.mark.integration

DEMO = load(DEMO_CONFIG, environ={})
PREFIX = DEMO.simulator.topic_prefix
FEED_TOPIC = f"{PREFIX}/fire/event/f1"  # what the demo's fire feed reads (baoding/fire/#)
OBSERVER = Account("observer", read=("#",))
Broker = Mosquitto | PythonBroker


def demo_settings(tmp_path: Path, kind: str):
    environ = {"CITYOPS_BROKER__KIND": kind, "CITYOPS_BROKER__DATA_DIR": str(tmp_path / "broker"),
               "CITYOPS_MQTT__PORT": str(free_port())}  # fmt: skip
    return load(DEMO_CONFIG, environ=environ, state_dir=tmp_path)


def started(tmp_path: Path, kind: str) -> Broker:
    if kind == "mosquitto" and mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` as root, or `sudo apt-get install mosquitto`")
    settings = demo_settings(tmp_path, kind)
    return start_broker(settings, (*broker_accounts(settings), OBSERVER))


@pytest.fixture(params=["mosquitto", "amqtt"])
def broker(request, tmp_path):
    broker = started(tmp_path, request.param)
    yield broker
    broker.stop()


class Probe:
    """A client of the test, signed in as `username` (none: anonymous): what the broker answered, what it received."""

    def __init__(self, broker: Broker, username: str | None = None, password: str | None = None,
                 session: bool = False):  # fmt: skip
        """`session`: a fixed client id and a session the broker keeps while it is away."""
        client_id = f"probe-{username}" if session else f"probe-{username}-{time.monotonic_ns()}"
        if broker.protocol == "5":
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 600 if session else 0
            connect = {"clean_start": not session, "properties": properties}
        else:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                                      clean_session=not session)  # fmt: skip
            connect = {}
        if username:
            self.client.username_pw_set(username, password)
        self.connack: list = []
        self.subacks: list = []
        self.received: list[tuple[str, int]] = []  # topic, payload size
        self.answered = threading.Event()
        self.client.on_connect = lambda _c, _u, _f, reason, _p: (self.connack.append(reason), self.answered.set())
        self.client.on_subscribe = lambda _c, _u, _mid, reasons, _p: self.subacks.extend(reasons)
        self.client.on_message = lambda _c, _u, message: self.received.append((message.topic, len(message.payload)))
        self.client.connect(broker.host, broker.port, **connect)
        self.client.loop_start()
        assert self.answered.wait(10), "the broker did not answer the CONNECT"

    @property
    def refused(self) -> bool:
        return self.connack[0].is_failure

    def subscribe(self, *topics: str) -> list:
        """The broker's answer to each subscription (granted QoS or a refusal)."""
        before = len(self.subacks)
        self.client.subscribe([(topic, 1) for topic in topics])
        wait_until(lambda: len(self.subacks) >= before + len(topics), 10, f"SUBACK for {topics}")
        return self.subacks[before:]

    def publish(self, topic: str, payload: bytes = b"{}") -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sign_in(broker: Broker, account: Account, **options) -> Probe:
    probe = Probe(broker, account.username, account.password, **options)
    assert not probe.refused, probe.connack
    return probe


def seen_after(observer: Probe, sentinel: Probe, topic: str = f"{PREFIX}/security/obs/sentinel") -> list[str]:
    """What the observer received once a message the simulator may send has come after what was tried before."""
    sentinel.publish(topic)
    wait_until(lambda: any(t == topic for t, _ in observer.received), 10, f"the sentinel on {topic}")
    time.sleep(0.3)  # another client's message, refused or not, has had its turn
    return [t for t, _ in observer.received if t != topic]


def test_a_client_without_credentials_is_refused(broker):
    probe = Probe(broker)
    probe.close()
    assert probe.refused, probe.connack


def test_a_wrong_password_is_refused_and_so_is_another_accounts(broker):
    wrong = Probe(broker, INGEST_USER, "not-the-password")
    swapped = Probe(broker, INGEST_USER, broker.accounts[SIMULATOR_USER].password)
    for probe in (wrong, swapped):
        probe.close()
        assert probe.refused, probe.connack


def test_the_simulator_writes_under_its_prefix_only_and_reads_nothing(broker):
    observer = sign_in(broker, OBSERVER)
    observer.subscribe("#")
    simulator = sign_in(broker, broker.accounts[SIMULATOR_USER])
    answers = simulator.subscribe("#", f"{PREFIX}/#")
    for topic in ("elsewhere/fire/event/f1", f"{PREFIX}-other/fire/event/f1", FEED_TOPIC):
        simulator.publish(topic)
    seen = seen_after(observer, simulator)
    simulator.close()
    observer.close()
    assert seen == [FEED_TOPIC]
    assert simulator.received == [], answers  # mosquitto grants the subscription but sends nothing; amqtt refuses it


def test_ingest_reads_the_feeds_topics_only_and_writes_nothing(broker):
    observer = sign_in(broker, OBSERVER)
    observer.subscribe("#")
    ingest = sign_in(broker, broker.accounts[INGEST_USER])
    feeds = [t for f in DEMO.feeds if f.transport == "mqtt" for t in f.topics]
    assert all(not answer.is_failure for answer in ingest.subscribe(*feeds))
    ingest.subscribe("#")  # refused (amqtt) or granted and filtered (mosquitto): either way, nothing beyond the feeds
    ingest.publish(f"{PREFIX}/fire/event/forged")  # a red fire alarm cleared, as the probe did
    simulator = sign_in(broker, broker.accounts[SIMULATOR_USER])
    simulator.publish(FEED_TOPIC)
    simulator.publish(f"{PREFIX}/unread/obs/x")  # the simulator's to write, but no feed's
    seen = seen_after(observer, simulator)
    received = {topic for topic, _ in ingest.received}
    for probe in (ingest, simulator, observer):
        probe.close()
    assert seen == [FEED_TOPIC, f"{PREFIX}/unread/obs/x"]  # the forged event never got through
    assert received == {FEED_TOPIC, f"{PREFIX}/security/obs/sentinel"}


def test_the_password_file_is_the_services_alone_and_holds_no_password(broker):
    assert (broker.data_dir / "passwd").stat().st_mode & 0o777 == 0o600
    for path in broker.data_dir.iterdir():  # hashes only: the passwords live in CityOps' memory
        text = path.read_bytes()
        assert not any(a.password.encode() in text for a in broker.accounts.values()), path


def test_mosquitto_refuses_a_message_over_the_size_limit(tmp_path):
    broker = started(tmp_path, "mosquitto")  # amqtt has no such limit (cityops/broker.py PythonBroker)
    try:
        observer = sign_in(broker, OBSERVER)
        observer.subscribe("#")
        simulator = sign_in(broker, broker.accounts[SIMULATOR_USER])
        limit = DEMO.limits.mqtt_message_kb * 1024
        # QoS 0: to a bigger QoS 1 message mosquitto 2.0.11 answers a PUBACK (reason 0x95) that paho cannot parse.
        simulator.client.publish(f"{PREFIX}/flood/obs/big", b"x" * (limit + 1), qos=0)
        simulator.publish(f"{PREFIX}/flood/obs/at-limit", b"x" * limit)
        wait_until(lambda: observer.received, 10, "the message at the limit")
        time.sleep(0.3)
        simulator.close()
        observer.close()
    finally:
        broker.stop()
    assert observer.received == [(f"{PREFIX}/flood/obs/at-limit", limit)]


def root_only() -> None:
    if os.geteuid() != 0:
        pytest.fail("only a broker started as root has root to give up: run `make test` as root (as CI does)")


def passable(folder: Path) -> None:
    """Let others pass through (not list) the folders pytest made for the test, as make_data_dir makes those it
    creates: pytest makes them the user's alone, up to its pytest-of-<user> (with xdist a worker's folder too)."""
    for step in (folder, *folder.parents):
        step.chmod(step.stat().st_mode | 0o001)
        if step.name.startswith("pytest-of-"):
            return


def process_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_mosquitto_started_as_root_runs_as_mosquitto_and_keeps_its_sessions(tmp_path):
    root_only()
    passable(tmp_path)
    user = pwd.getpwnam(MOSQUITTO_USER)
    broker = started(tmp_path, "mosquitto")
    try:
        assert process_uid(broker.process.pid) == user.pw_uid
        ingest = sign_in(broker, broker.accounts[INGEST_USER], session=True)
        ingest.subscribe(f"{PREFIX}/fire/#")
        ingest.close()
        simulator = sign_in(broker, broker.accounts[SIMULATOR_USER])
        simulator.publish(FEED_TOPIC)  # queued for ingest, which is away
        simulator.close()
    finally:
        broker.stop()
    broker = started(tmp_path, "mosquitto")  # new passwords; the queue comes back from mosquitto.db
    try:
        again = sign_in(broker, broker.accounts[INGEST_USER], session=True)
        wait_until(lambda: again.received, 10, "the message queued before the restart")
        again.close()
    finally:
        broker.stop()
    assert again.received == [(FEED_TOPIC, 2)]
    for path in (broker.data_dir, broker.data_dir / "mosquitto.db", broker.data_dir / "passwd"):
        assert path.stat().st_uid == user.pw_uid, path


def test_mosquitto_stays_root_and_says_so_when_its_data_is_out_of_reach(tmp_path, caplog):
    root_only()
    tmp_path.chmod(0o700)  # as pytest makes it: the mosquitto user cannot pass
    broker = started(tmp_path, "mosquitto")
    try:
        assert process_uid(broker.process.pid) == 0
        assert sign_in(broker, broker.accounts[INGEST_USER])  # it works all the same
    finally:
        broker.stop()
    said = next(r.getMessage() for r in caplog.records if "mosquitto runs as root" in r.getMessage())
    assert "user mosquitto cannot pass through" in said and f"{tmp_path} lets it)" in said, said


def test_config_check_warns_that_mqtt_credentials_are_ignored_with_the_embedded_broker(tmp_path):
    app = CityOps(tmp_path, free_port())
    text = app.config.read_text()

    def check(mqtt_keys: str, embedded: bool) -> subprocess.CompletedProcess:
        app.config.write_text(text.replace("[mqtt]\n", f"[mqtt]\n{mqtt_keys}", 1)
                              + f"\n[broker]\nembedded = {str(embedded).lower()}\n")  # fmt: skip
        return subprocess.run([sys.executable, "-m", "cityops.cli", "config-check", str(app.config)], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ, "MQTT_SECRET": "s"})  # fmt: skip

    keys = 'username = "city"\npassword_env = "MQTT_SECRET"\ntls = true\n'
    warned = check(keys, embedded=True)
    assert warned.returncode == 0 and "OK" in warned.stdout, warned
    lines = warned.stderr.splitlines()
    assert [line.split(": ")[2] for line in lines] == ["mqtt.username is ignored", "mqtt.password_env is ignored",
                                                      "mqtt.tls is ignored"], lines  # fmt: skip
    assert all(line.startswith(f"warning: {app.config}:") for line in lines), lines
    assert check(keys, embedded=False).stderr == ""
    assert check("", embedded=True).stderr == ""


def test_simulate_publishes_to_a_running_cityops_embedded_broker_with_the_account_it_hands_over(tmp_path):
    """`cityops simulate` in a process of its own (a load test, bench/server.py) cannot know the passwords the
    embedded broker made: it asks the running CityOps over its control socket."""
    env = {"CITYOPS_BROKER__EMBEDDED": "true", "CITYOPS_BROKER__DATA_DIR": str(tmp_path / "broker"),
           "CITYOPS_SIMULATOR__ENABLED": "true", "CITYOPS_SIMULATOR__PUBLISH": "false",
           "CITYOPS_SIMULATOR__TOPIC_PREFIX": "test", "CITYOPS_SIMULATOR__ENTITIES": "60"}  # fmt: skip
    app = CityOps(tmp_path, free_port(), env=env)
    simulate = [sys.executable, "-m", "cityops.cli", "simulate", "--config", str(app.config)]
    alone = subprocess.run(simulate, cwd=ROOT, env=app.env, capture_output=True, text=True, timeout=60)
    assert alone.returncode == 2 and "no CityOps runs" in alone.stderr, alone
    app.start()
    process = subprocess.Popen(simulate, cwd=ROOT, env=app.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: app.health()["observations"] > 20, 60, "the simulator's readings stored")
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
        assert app.stop() == 0
    assert process.returncode == 0 and "refused" not in output, output
