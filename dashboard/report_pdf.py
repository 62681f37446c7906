"""A report's HTML drawn as PDF by WeasyPrint, in a process of its own: WeasyPrint changes a process-wide setting of
Pillow when it is imported (it lets truncated images load, which the check of the field's photos must refuse), and
it holds the interpreter for a second or more per report, which the web threads would feel. A child process keeps
both away from the server.

    python -m dashboard.report_pdf OUT.pdf < report.html     # prints the number of pages
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
TIMEOUT_S = 120


def to_pdf(html: str) -> tuple[bytes, int] | None:
    """The PDF of `html` and its number of pages; None when it cannot be made here (WeasyPrint finds no Pango, say:
    the reason is logged, and the report is kept as HTML)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.pdf"
        try:
            done = subprocess.run([sys.executable, "-m", "dashboard.report_pdf", str(out)], input=html.encode(),
                                  capture_output=True, timeout=TIMEOUT_S, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            log.error("a report's PDF took longer than %d s: kept as HTML", TIMEOUT_S)
            return None
        if done.returncode != 0 or not out.exists():
            log.error("a report's PDF could not be made (kept as HTML): %s",
                      done.stderr.decode(errors="replace").strip().splitlines()[-1:] or done.returncode)  # fmt: skip
            return None
        return out.read_bytes(), int(done.stdout)


def main(out: str) -> None:
    from weasyprint import HTML

    document = HTML(string=sys.stdin.buffer.read().decode()).render()
    document.write_pdf(out)
    print(len(document.pages))


if __name__ == "__main__":
    main(sys.argv[1])
