"""`cityops simulate`: the demo city published from a process of its own, to a real mosquitto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt

from tests.harness import ROOT, wait_until


def test_simulate_describes_the_demo_city_then_streams_its_readings_until_stopped(mosquitto):
    kinds: dict[str, int] = {}
    lock = threading.Lock()

    def on_message(_client, _userdata, message) -> None:
        kind = json.loads(message.payload).get("type", "?")
        with lock:
            kinds[kind] = kinds.get(kind, 0) + 1

    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="simulate-test", protocol=mqtt.MQTTv5)
    listener.on_message = on_message
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("baoding/#", qos=1)
    listener.loop_start()
    # The fixture's broker as a broker of one's own: the demo's embedded one lives inside `cityops run`
    # (test_broker_security tries simulate against it).
    env = {**os.environ, "CITYOPS_MQTT__PORT": str(mosquitto.port), "CITYOPS_BROKER__EMBEDDED": "false",
           "CITYOPS_SIMULATOR__ENTITIES": "60", "CITYOPS_SIMULATOR__RATE": "200"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "cityops.cli", "simulate", "--demo"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until(lambda: kinds.get("entity", 0) >= 50 and kinds.get("observation", 0) >= 200, 30,
                   f"the city described and its readings streaming (so far {kinds})")  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
        listener.loop_stop()
        listener.disconnect()
    assert process.returncode == 0, output
    assert "publishing the demo city" in output and "published" in output, output
