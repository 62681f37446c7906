"""A periodic job still running when its next run is due is skipped (every job runs with max_instances=1 and
coalesce): under a storm the rule engine's tick takes longer than its second, and the next run does the work.
APScheduler warns of each skip, and under load that filled the terminal; this says it once per job per SAY_EVERY_S,
with how many runs were skipped meanwhile, at INFO."""

from __future__ import annotations

import logging
import time
from collections import Counter

SAY_EVERY_S = 600.0
SKIPPED = "maximum number of running instances reached"


class Overruns(logging.Filter):
    """Installed on APScheduler's logger: counts the skipped runs per job, lets one line through per SAY_EVERY_S."""

    def __init__(self, clock=time.monotonic):
        super().__init__()
        self.clock = clock
        self.skipped: Counter[str] = Counter()  # since the last line said of the job
        self._said: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if SKIPPED not in str(record.msg):
            return True
        job = getattr(record.args[0], "id", str(record.args[0])) if record.args else "?"
        self.skipped[job] += 1
        now = self.clock()
        if now - self._said.get(job, float("-inf")) < SAY_EVERY_S:
            return False
        self._said[job] = now
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args = "job %s overran its interval: %d run(s) skipped, the next run did the work", (
            job, self.skipped.pop(job))  # fmt: skip
        return True


def scheduler_logger() -> logging.Logger:
    """APScheduler's logger with the filter on it (once)."""
    logger = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, Overruns) for f in logger.filters):
        logger.addFilter(Overruns())
    return logger
