"""The running process as the operating system sees it."""

from __future__ import annotations


def resident_mb(pid: int | str = "self") -> float | None:
    """A process's resident memory (VmRSS) in MB; None where /proc does not have it (not Linux, or it ended)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return None
