"""The real app for browser tests: `cityops run` as its own process, a real mosquitto, a DuckDB file."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest

from tests.harness import CityOps


@pytest.fixture(autouse=True)
def close_pages(chromium):
    """Every page a test opened is closed after it: a wall left open keeps refreshing against its stopped app, and a
    dozen of them took the machine's two cores from the tests that followed."""
    yield
    for context in chromium.contexts:
        context.close()


@pytest.fixture
def app(request, tmp_path, mosquitto):
    """`cityops run` with the test config; `@pytest.mark.app_env(CITYOPS_WEB__WALL_ROTATE_S="2")` overrides it,
    `@pytest.mark.app_config(rules=…, feeds=…)` replaces its rule file and adds feeds."""
    marker = request.node.get_closest_marker("app_env")
    configured = request.node.get_closest_marker("app_config")
    cityops = CityOps(tmp_path, mosquitto.port, env=marker.kwargs if marker else None,
                      **(configured.kwargs if configured else {}))  # fmt: skip
    cityops.start()
    yield cityops.web_port
    code = cityops.stop()
    assert code == 0, f"cityops did not stop cleanly on SIGTERM ({code}):\n{cityops.log_path.read_text()[-3000:]}"


@pytest.fixture
def publisher(mosquitto):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test-pub", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()
