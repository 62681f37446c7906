"""Working time over China's 2026 calendar (the State Council's notice of 4 November 2025): working hours and
working days across weekends, holidays and the weekends worked instead (调休); and a rule's time limit in them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.rules import RuleError, parse_rule_file
from alerts.time_limits import TimeLimits
from alerts.working_time import CalendarError, Working, WorkingCalendar
from cityops import DEMO_DIR
from tests.rule_city import City

BEIJING = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar.load(DEMO_DIR / "calendar.yaml", "Asia/Shanghai")


def at(text: str) -> datetime:
    """A Beijing time, in UTC as the store keeps it."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING).astimezone(UTC)


def local(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M}"


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-01-01", False),  # 元旦
        ("2026-01-04", True),  # a Sunday worked instead (调休)
        ("2026-02-14", True),  # a Saturday worked instead
        ("2026-02-16", False),  # 春节, a Monday
        ("2026-03-07", False),  # an ordinary Saturday
        ("2026-03-09", True),  # an ordinary Monday
        ("2026-10-07", False),  # 国庆节, its last day
        ("2026-10-08", True),  # a Thursday
        ("2026-10-10", True),  # a Saturday worked instead
    ],
)
def test_working_days_of_2026(day, working):
    assert CALENDAR.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "limit", "due"),
    [
        ("2026-03-09 09:00", Working(2, "hours"), "2026-03-09 11:00"),  # inside the morning
        ("2026-03-09 11:00", Working(2, "hours"), "2026-03-09 14:30"),  # over lunch
        ("2026-03-06 16:30", Working(4, "hours"), "2026-03-09 11:30"),  # Friday to Monday, over a weekend
        ("2026-03-07 10:00", Working(1, "hours"), "2026-03-09 09:30"),  # started on a Saturday: Monday's first hour
        ("2026-02-13 16:30", Working(4, "hours"), "2026-02-14 11:30"),  # into a Saturday worked instead (调休)
        ("2026-09-18 16:00", Working(8, "hours"), "2026-09-20 16:30"),  # a Sunday worked instead, before 国庆
        ("2026-09-30 10:00", Working(2, "days"), "2026-10-09 17:30"),  # over the National Day holiday
        ("2026-03-06 10:00", Working(2, "days"), "2026-03-10 17:30"),  # Friday: Monday and Tuesday
        ("2026-03-09 20:00", Working(1, "hours"), "2026-03-10 09:30"),  # after hours: tomorrow's first hour
    ],
)
def test_a_limit_in_working_time_runs_only_in_working_time(start, limit, due):
    assert local(CALENDAR.due(at(start), limit)) == due


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("source: x\nholidays:\n  - 2026-02-30\n", 3, r"holidays\[0\]: '2026-02-30' is not a day"),
        ("source: x\nholidays:\n  - 2026-10-07..2026-10-01\n", 3, "a span goes from its first day to its last"),
        ('source: x\nhours:\n  - ["12:00", "08:30"]\n', 3, "working hours end after they start"),
        ("source: x\nholidays: [2026-01-04]\nworkdays: [2026-01-04]\n", 1, "2026-01-04 is both a holiday"),
        ("holidays: []\n", 1, "source: required key is missing"),
        ("source: x\nholiday: []\n", 2, "holiday: unknown key"),
    ],
)
def test_a_bad_calendar_fails_with_its_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=message) as err:
        WorkingCalendar.load(path, "Asia/Shanghai")
    assert f"{path}:{line}:" in str(err.value)


RULES = """
rules:
  - id: complaint
    domain: hotline
    select: {kind: hotline_box}
    when: {threshold: {metric: open_cases, above: 0}}
    severity: blue
    title: {zh_CN: "工单", en: "Case"}
    message: {zh_CN: "{value}", en: "{value}"}
    unit: district_office
    time_limits: {acknowledge: 4wh}
"""


def test_an_alert_opened_on_friday_evening_is_overdue_only_after_monday_morning(open_store, demo_regions):
    """A limit of 4 working hours from Friday 17:00 (2026-03-06): half an hour on Friday, then Monday 08:30 to
    12:00 — due at 12:00 on Monday, not on Friday night."""
    book = parse_rule_file(RULES)
    city = City(open_store("w"), demo_regions, book.rules, book)
    city.now = at("2026-03-06 17:00")
    city.entity("box1", kind="hotline_box")
    city.value("box1", open_cases=3)
    city.tick()
    limits = TimeLimits(None, book.rules, book, calendar=CALENDAR)
    [deadline] = limits.deadlines(city.store, city.now)
    assert local(deadline.due) == "2026-03-09 12:00"
    assert limits.check(city.store, at("2026-03-08 23:00")) == []  # Sunday night: not yet
    [breach] = limits.check(city.store, at("2026-03-09 12:01"))
    assert breach.stage == "acknowledge"
    city.close()


def test_a_rule_in_working_time_needs_the_calendar():
    book = parse_rule_file(RULES)
    assert book.rules[0].time_limits.acknowledge == Working(4, "hours")
    with pytest.raises(RuleError, match=r"rule complaint counts its time limits in working time \(acknowledge: 4wh\)"):
        TimeLimits(None, book.rules, book)


def test_start_up_refuses_working_time_without_a_calendar_and_a_bad_calendar(tmp_path, capsys):
    from cityops.cli import main
    from tests.app_config import CITY

    (tmp_path / "rules.yaml").write_text(RULES, "utf-8")
    path = tmp_path / "cityops.toml"
    base = f'{CITY}\n[store]\npath = "{tmp_path / "x.duckdb"}"\n[alerts]\nrules = "rules.yaml"\n'
    path.write_text(base, encoding="utf-8")
    assert main(["run", "--config", str(path)]) == 2
    assert "rule complaint counts its time limits in working time" in capsys.readouterr().err
    (tmp_path / "calendar.yaml").write_text("source: x\nworkdays: [2026-13-01]\n", encoding="utf-8")
    path.write_text(base + 'calendar = "calendar.yaml"\n', encoding="utf-8")
    assert main(["config-check", str(path)]) == 2
    assert f"{tmp_path / 'calendar.yaml'}:2: workdays[0]: '2026-13-01' is not a day" in capsys.readouterr().err


def test_working_days_are_whole_days():
    with pytest.raises(RuleError, match="working days are whole days"):
        parse_rule_file(RULES.replace("acknowledge: 4wh", "acknowledge: 1.5wd"))
