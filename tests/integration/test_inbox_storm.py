"""The chain's inbox at storm volume (issue 23), through the real server on a socket: 1,300 incidents routed to one
district's centre and 1,300 tasks it gave its town. Each section counts them all and draws the newest 100, so the
page stays small on a phone's network whatever the store holds."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from store.duckdb_engine import DuckDBStore
from tests.browser.test_chain import http_as
from tests.harness import CityOps

pytestmark = pytest.mark.integration
STORM = 1300


def stormy_store(path) -> None:
    """1,300 incidents of 莲池区, the first half given to 永华街道 (tasks not yet signed for)."""
    store = DuckDBStore(path)
    cur = store.cursor()
    t0 = datetime.now(UTC) - timedelta(hours=1)
    cur.execute(
        """
        INSERT INTO incidents (group_id, region_level, region_id, domain, severity, state, title_zh, title_en,
                               district_id, town_id, members, active_members, opened_at, last_member_at, updated_at,
                               centre_id, department_id)
        SELECT 'waterlogging', 'district', '130606', 'flood', 'orange', 'new', '积水 ' || i, 'Waterlogging ' || i,
               '130606', '130606009', 1, 1, $t0 + i * INTERVAL 1 SECOND, $t0, $t0, 'd130606', 'water-130606'
        FROM range(1, $n + 1) r(i)
        """,
        {"t0": t0, "n": STORM},
    )
    cur.execute(
        """
        INSERT INTO tasks (incident_id, from_unit, to_unit, state, sent_by, sent_at, updated_at)
        SELECT id, 'd130606', 't130606009', 'sent', 'duty-130606', $t0, $t0 FROM incidents ORDER BY id LIMIT $half
        """,
        {"t0": t0, "half": STORM // 2},
    )
    store.close()


@pytest.fixture
def stormy(tmp_path, mosquitto):
    server = CityOps(tmp_path, mosquitto.port, org=True)
    stormy_store(tmp_path / "cityops.duckdb")
    try:
        server.start()
        yield server.web_port
    finally:
        code = server.stop()
    assert code == 0, server.log_path.read_text()[-3000:]


def test_a_storms_inbox_counts_everything_and_draws_the_newest(stormy):
    sections = re.compile(r'<h2>([^<]+) <span class="inbox-count">\s*(\d+)')
    for user, expected in (("duty-130606", {"Ours to give": STORM // 2, "Given, not yet done": STORM // 2}),
                           ("duty-130606009", {"To sign for": STORM // 2})):  # fmt: skip
        opener = http_as(stormy, user)
        began = time.monotonic()
        page = opener.open(f"http://127.0.0.1:{stormy}/inbox?lang=en", timeout=30).read().decode()
        took = time.monotonic() - began
        counts = {name: int(n) for name, n in sections.findall(page) if int(n)}
        assert counts == expected, (user, counts)
        assert page.count('class="inbox-row') == 100 * len(expected), user
        assert "The newest 100 of 650 are shown." in page
        # Measured, not asserted: what a phone receives and how long the server took.
        print(f"{user}: {len(page) / 1024:.0f} KB in {took * 1000:.0f} ms")
        assert len(page) < 150 * 1024, f"{user}'s inbox is {len(page)} bytes"
