"""Scheduled reports (issue 25): at its time (an injected clock) the city's daily, weekly and monthly reports of the
periods just ended are made once each, as HTML and a PDF whose pages (read back with pypdf) hold the figures, the
rankings and the late incidents of a store with a known September; each is told to the notification outbox."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader

from alerts.org import Organisation
from cityops import DEMO_DIR
from dashboard.report_view import renderer
from notify.messages import words
from store.duckdb_engine import DuckDBStore
from supervision import periods
from supervision.facts import Facts
from supervision.reports import ReportRequest, Reports, ReportSettings
from tests.incident_history import local, september

pytestmark = pytest.mark.integration


@pytest.fixture
def reports(tmp_path, demo_regions):
    store = DuckDBStore(tmp_path / "s.duckdb")
    september(store)
    org = Organisation.load(DEMO_DIR / "org.yaml", demo_regions)
    settings = ReportSettings(levels=["city"], language="en")
    facts = Facts(store)
    yield Reports(store, tmp_path / "reports", settings, "Asia/Shanghai", org, demo_regions,
                  renderer(facts, demo_regions, org, [], "Asia/Shanghai"), ("保定市", "Baoding"))  # fmt: skip
    store.close()


def test_the_reports_of_september_are_made_at_their_time_once(reports, tmp_path, output_dir):
    # Before eight on Thursday 1 October: the week of 21 to 27 September was due on Monday at eight (a service down
    # then makes it when it is back); the day's and the month's are not due yet.
    assert reports.run_due(local(2026, 10, 1, 7, 55)) == ["weekly:city:2026-09-21"]
    assert reports.run_due(local(2026, 10, 1, 8, 5)) == ["daily:city:2026-09-30", "monthly:city:2026-09-01"]
    assert reports.run_due(local(2026, 10, 1, 8, 10)) == []  # made once

    cur = reports.store.cursor()
    pdf_file, pages = cur.execute("SELECT pdf_file, pages FROM reports WHERE kind = 'monthly'").fetchone()
    pdf = PdfReader(io.BytesIO((tmp_path / "reports" / pdf_file).read_bytes()))
    (output_dir / "report-monthly.pdf").write_bytes((tmp_path / "reports" / pdf_file).read_bytes())  # looked at
    assert len(pdf.pages) == pages == 3
    first, second, third = (page.extract_text() for page in pdf.pages)
    assert "Baoding City Operations Centre · Monthly report" in first
    assert "2026-09-01 — 2026-09-30" in first and "Incidents 5" in first and "On time 90%" in first
    assert "Ranking of Districts" in second and "Jingxiu District" in second and "Lianchi District" in second
    assert "Incidents that ran late" in third and "Hotspot" in third  # B, whose receipt ran late
    html = (tmp_path / "reports" / pdf_file.replace(".pdf", ".html")).read_text(encoding="utf-8")
    assert html.count("<svg") == 2  # the two charts, drawn in the document

    told = cur.execute("SELECT event, units, details FROM notifications WHERE key LIKE 'report:%' ORDER BY id")
    rows = told.fetchall()
    assert [(event, units) for event, units, _ in rows] == [("report", ["city"])] * 3
    assert json.loads(rows[2][2])["path"] == f"/reports/{reports.id_of('monthly:city:2026-09-01')}.pdf"


def test_a_report_told_off_the_screen_links_its_pdf(reports):
    [key] = reports.run_due(local(2026, 10, 1, 7, 55))
    cur = reports.store.cursor()
    row = cur.execute("SELECT key, event, created_at, title_zh, title_en, details FROM notifications "
                      "WHERE key = ?", [f"report:{key}"]).fetchone()  # fmt: skip
    delivery = {"n_key": row[0], "n_event": row[1], "n_created_at": row[2], "n_title_zh": row[3],
                "n_title_en": row[4], "n_details": json.loads(row[5]), "n_severity": None, "n_incident_id": None,
                "n_directive_id": None}  # fmt: skip
    said = words(delivery, "zh_CN", "Asia/Shanghai", "https://ops.example.cn", {})
    assert said.headline == "报告已生成" and said.title == "保定市城市运行管理服务中心周报（2026-09-21 — 2026-09-27）"
    assert said.link == f"https://ops.example.cn/reports/{reports.id_of(key)}.pdf"


def test_a_report_without_its_pdf_is_kept_as_html_and_links_it(reports, tmp_path):
    draw = reports.render
    reports.render = lambda request: replace(draw(request), pdf=None, pages=0)  # as where WeasyPrint finds no Pango
    [key] = reports.run_due(local(2026, 10, 1, 7, 55))
    cur = reports.store.cursor()
    html_file, pdf_file = cur.execute("SELECT html_file, pdf_file FROM reports WHERE key = ?", [key]).fetchone()
    assert pdf_file == "" and (tmp_path / "reports" / html_file).read_text(encoding="utf-8").startswith("<!doctype")
    [details] = cur.execute("SELECT details FROM notifications WHERE key = ?", [f"report:{key}"]).fetchone()
    assert json.loads(details)["path"] == f"/reports/{reports.id_of(key)}.html"
    again = ReportRequest("weekly", reports.centres()[0], periods.of_kind("weekly", date(2026, 9, 21), "Asia/Shanghai"),
                          "en", local(2026, 10, 1, 9))  # fmt: skip
    assert again.key == key and reports.make(again) == reports.id_of(key)  # made once: asked again, the same one
