"""`cityops run` as a process the reliability tests may kill, restart and starve, with its figures printed."""

from __future__ import annotations

import pytest

from tests.harness import CityOps


@pytest.fixture
def cityops(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port)
    yield app
    app.kill()
