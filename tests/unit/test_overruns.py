"""A job that overruns its interval under load: APScheduler's warning of each skipped run becomes one INFO line per
job per ten minutes, with the count, instead of a warning a second (a real scheduler, a real slow job)."""

from __future__ import annotations

import logging
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler

from cityops.overruns import SAY_EVERY_S, Overruns


def test_a_slow_job_is_said_once_with_its_skips_counted(caplog):
    now = [0.0]
    overruns = Overruns(clock=lambda: now[0])
    logger = logging.getLogger("test.scheduler")
    logger.addFilter(overruns)
    release = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC", logger=logger)
    scheduler.add_job(release.wait, "interval", seconds=0.1, id="slow", max_instances=1, coalesce=True)
    with caplog.at_level(logging.INFO, logger="test.scheduler"):
        scheduler.start()
        try:
            deadline = time.monotonic() + 10
            while overruns.skipped["slow"] < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            now[0] += SAY_EVERY_S  # ten minutes on: said again, with the count since
            while not [r for r in caplog.records if "skipped" in r.getMessage()][1:] and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            release.set()
            scheduler.shutdown(wait=True)
    said = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(said) == 2 and all(r.levelno == logging.INFO for r in said), [r.getMessage() for r in said]
    assert said[0].getMessage().startswith("job slow overran its interval: 1 run(s) skipped")
    assert int(said[1].getMessage().split(": ")[1].split()[0]) >= 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
