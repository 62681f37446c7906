"""Shared fixtures: a real mosquitto on a free port, a store per test on either engine (a DuckDB file, a database
on a real PostgreSQL server), headless Debian Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityops.broker import Mosquitto, free_port, mosquitto_path
from layers.regions import RegionIndex
from tests import app_config
from tests.harness import CHROMIUM, CHROMIUM_ARGS, ROOT
from tests.postgres_server import PostgresServer, missing_message, postgres_bin
from tests.stores import ENGINES, StoreMaker, prepare_template

OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def demo_regions() -> RegionIndex:
    return app_config.demo_regions()


@contextlib.contextmanager
def _running_mosquitto(folder: Path) -> Iterator[Mosquitto]:
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` as root, or `sudo apt-get install mosquitto`")
    broker = Mosquitto(free_port(), folder / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto(tmp_path):
    """A real mosquitto with persistence, on a free port, for one test."""
    with _running_mosquitto(tmp_path) as broker:
        yield broker


@pytest.fixture(scope="module")
def module_mosquitto(tmp_path_factory):
    """The same for the tests of one module that share one app."""
    with _running_mosquitto(tmp_path_factory.mktemp("module-broker")) as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server for this test process (one per xdist worker), with the migrated template."""
    if postgres_bin() is None:
        pytest.fail(missing_message())
    server = PostgresServer(tmp_path_factory.mktemp("postgres"), durable=False).start()
    prepare_template(server)
    yield server
    server.stop()


@pytest.fixture(params=ENGINES)
def open_store(request, tmp_path):
    """Makes and opens stores of one engine for this test: the contract tests run once on each."""
    server = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    maker = StoreMaker(request.param, tmp_path, server)
    yield maker
    maker.close()


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
