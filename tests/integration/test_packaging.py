"""A built wheel carries what `cityops run --demo` needs (the pages' assets, the catalogs, the demo city) and runs it
from any folder, writing its files there and nowhere inside the installed package."""

from __future__ import annotations

import http.cookiejar
import os
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest

from cityops.broker import free_port, mosquitto_path, wait_for_port
from dashboard.signin import DEMO_DISPLAY_TOKEN
from tests.harness import ROOT

pytestmark = pytest.mark.integration


def test_a_built_wheel_runs_the_demo_from_any_folder(tmp_path):
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` as root, or `sudo apt-get install mosquitto`")
    source, dist, site, elsewhere = (tmp_path / name for name in ("source", "dist", "site", "elsewhere"))
    elsewhere.mkdir()
    # Built from a copy, so that the build's own folders are not left in the checkout.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "var", "build", "test-output", "*.egg-info",
                                                                 "__pycache__"))  # fmt: skip
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # The test environment has the build backend (setuptools, from the test extras): nothing to download here.
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)], check=True,
                   timeout=300, cwd=tmp_path)  # fmt: skip
    (wheel,) = dist.glob("cityops-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300)
    web_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONUNBUFFERED": "1", "CITYOPS_WEB__PORT": str(web_port),
           "CITYOPS_MQTT__PORT": str(free_port())}  # fmt: skip

    # What runs is the installed copy, not the checkout the test environment also knows.
    where = subprocess.run(
        [sys.executable, "-c", "import cityops, dashboard.app as a; print(cityops.DEMO_DIR); print(a.ASSETS)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(site)) for path in where), where

    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "cityops.cli", "run", "--demo"], cwd=elsewhere, env=env,
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_port(web_port, timeout=60)
        base = f"http://127.0.0.1:{web_port}"
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(f"{base}/login?lang=en", timeout=10) as signin:
            assert "demo-&lt;name&gt;" in signin.read().decode()  # the demo's accounts, in the English catalog
        for asset, kind in (("cityops.css", "text/css"), ("cityops_map.js", "javascript")):
            with browser.open(f"{base}/assets/{asset}", timeout=10) as response:
                assert kind in response.headers["Content-Type"] and response.read()
        with browser.open(f"{base}/wall?token={DEMO_DISPLAY_TOKEN}", timeout=10) as wall:
            assert wall.url == f"{base}/wall" and wall.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(30)
        finally:
            log.close()
    output = (tmp_path / "demo.log").read_text()
    assert code == 0, output[-3000:]
    assert (elsewhere / "var" / "demo" / "cityops.duckdb").exists(), output[-3000:]
    assert not [p for p in site.rglob("*") if p.suffix in (".duckdb", ".sqlite")], "wrote inside the package"
