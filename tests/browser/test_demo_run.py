"""`cityops run --demo` — what `make run` starts — brings up broker, simulator, ingest and a live wall."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from cityops.broker import free_port, mosquitto_path, wait_for_port
from dashboard.signin import DEMO_DISPLAY_TOKEN
from tests.harness import ROOT, health, wall_display

pytestmark = pytest.mark.browser


def test_demo_serves_a_live_wall_and_stops_on_ctrl_c(tmp_path, chromium, output_dir):
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` as root, or `sudo apt-get install mosquitto`")
    web_port = free_port()
    env = {
        **os.environ,
        "CITYOPS_WEB__PORT": str(web_port),
        "CITYOPS_MQTT__PORT": str(free_port()),
        "CITYOPS_STORE__PATH": str(tmp_path / "demo.duckdb"),
        "CITYOPS_BROKER__DATA_DIR": str(tmp_path / "broker"),
        "CITYOPS_AUTH__PATH": str(tmp_path / "accounts.sqlite"),
        "PYTHONUNBUFFERED": "1",
    }
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "run", "--demo"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(web_port, timeout=30)
        deadline = time.monotonic() + 30
        state = {}
        while time.monotonic() < deadline:
            state = health(web_port)
            if state["entities"] >= 2000 and state["observations"] > 500 and len(state["feeds"]) == 4:
                break
            time.sleep(0.5)
        assert state["entities"] >= 2000, state
        assert {f["state"] for f in state["feeds"]} == {"ok"}, state
        assert state["dead_letters"] == 0

        page = wall_display(chromium, web_port, viewport={"width": 1920, "height": 1080})  # the printed link
        page.wait_for_selector("path.region", timeout=15_000)
        page.wait_for_selector(".cluster", timeout=15_000, state="attached")  # drawn, hidden at the city view
        time.sleep(2)
        (output_dir / "screenshots").mkdir(exist_ok=True)
        page.screenshot(path=output_dir / "screenshots" / "demo-wall.png")
        figures = page.locator("#wall-figures").inner_text()
        page.close()
        assert "设备 864" in figures  # the traffic layer's devices, counted on the wall
        before = health(web_port)["observations"]
        time.sleep(2)
        assert health(web_port)["observations"] > before + 200  # a few hundred messages a second keep coming
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(20)
        log.close()
    output = (tmp_path / "demo.log").read_text()
    assert code == 0, output
    assert "CityOps is running: http://127.0.0.1:" in output
    assert f"/wall?token={DEMO_DISPLAY_TOKEN}" in output and "demo-<name>" in output
    assert "CityOps stopped." in output
