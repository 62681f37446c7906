"""Shared fixtures: a real mosquitto on a free port, a DuckDB file per test, headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cityops.broker import Mosquitto, free_port, mosquitto_path
from layers.regions import RegionIndex
from tests import app_config
from tests.harness import CHROMIUM, CHROMIUM_ARGS, ROOT

OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def demo_regions() -> RegionIndex:
    return app_config.demo_regions()


@pytest.fixture
def mosquitto(tmp_path):
    """A real mosquitto with persistence, on a free port, for one test."""
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` as root, or `sudo apt-get install mosquitto`")
    broker = Mosquitto(free_port(), tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright (its own browser download is never used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make test` as root, or `sudo apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def fixture_path():
    def path(name: str) -> Path:
        return ROOT / "tests" / "fixtures" / name

    return path


def pytest_configure(config):
    # Keep Chromium profiles and other temporary files inside the test run (make test sets TMPDIR too).
    if "TMPDIR" not in os.environ:
        tmp = OUTPUT / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        os.environ["TMPDIR"] = str(tmp)
    if not hasattr(config, "workerinput"):  # once, in the controller: not under another worker's screenshots
        shutil.rmtree(OUTPUT / "screenshots", ignore_errors=True)
