"""The duty desk's detail without a browser: what a timeline entry says beside its action, and the unit the desk
suggests for a dispatch."""

from datetime import UTC, datetime
from types import SimpleNamespace

from dashboard.i18n import translator
from dashboard.pages.duty.units import suggested_unit
from dashboard.timeline import entry_extra, timeline_entry, unit_name

EN = translator("en")


def unit(id, type, district=None):
    return SimpleNamespace(id=id, type=type, district=district, name_zh=f"{id}（中）", name_en=id)


UNITS = {u.id: u for u in (unit("fire-city", "fire_brigade"), unit("water-city", "water_authority"),
                           unit("water-lianchi", "water_authority", "130606"))}  # fmt: skip


def test_the_suggested_unit_is_the_one_dispatched_before_else_the_local_one_of_its_kind_else_any():
    alert = {"unit_id": None, "unit_type": "water_authority", "district_id": "130606"}
    assert suggested_unit(UNITS, alert) == "water-lianchi"
    assert suggested_unit(UNITS, {**alert, "district_id": "130602"}) == "water-city"
    assert suggested_unit(UNITS, {**alert, "unit_id": "fire-city"}) == "fire-city"
    assert suggested_unit(UNITS, {**alert, "unit_type": "police"}) is None
    assert unit_name(UNITS["fire-city"], "zh_CN") == "fire-city（中）"


def entry(action, **details):
    return {"action": action, "details": details, "ts": datetime(2026, 7, 20, 0, 0, 5, tzinfo=UTC),
            "actor": "duty", "note": "<b>as typed</b>"}  # fmt: skip


def test_a_timeline_entry_says_the_unit_the_step_or_the_value():
    assert entry_extra(entry("dispatch", unit_id="water-lianchi"), UNITS, EN, "en") == "water-lianchi"
    assert entry_extra(entry("dispatch", unit_id="gone"), UNITS, EN, "en") == ""
    assert entry_extra(entry("check", step=0), UNITS, EN, "en") == "step 1 done"
    assert entry_extra(entry("check", step=2, done=False), UNITS, EN, "en") == "step 3 undone"
    assert entry_extra(entry("fire", value=4.20), UNITS, EN, "en") == "4.2"
    assert entry_extra(entry("refire", value="on"), UNITS, EN, "en") == "on"
    assert entry_extra(entry("comment"), UNITS, EN, "en") == ""


def test_a_timeline_entry_in_the_citys_time_with_its_label_actor_and_note_as_text():
    li = timeline_entry(entry("fire", value=3), UNITS, EN, "en", "Asia/Shanghai")
    assert li.className == "tl-fire"
    assert [c.children for c in li.children] == ["07-20 08:00:05", "Raised by rule", "3", "duty", "<b>as typed</b>"]


def test_the_machines_entries_are_said_in_the_readers_words_and_clock():
    zh = translator("zh_CN")
    overdue = {**entry("overdue", stage="acknowledge"), "actor": "time-limits",
               "note": "acknowledge time limit passed at 2026-07-20T00:05:00.123456+00:00"}  # fmt: skip
    li = timeline_entry(overdue, UNITS, zh, "zh_CN", "Asia/Shanghai")
    assert [c.children for c in li.children][3:] == ["时限", "确认时限已于 2026-07-20 08:05 届满"]
    raised = {**entry("escalate"), "actor": "rules", "note": "threshold crossed"}
    assert [c.children for c in timeline_entry(raised, UNITS, zh, "zh_CN", "UTC").children][3:] == [
        "规则引擎",
        "越过阈值",
    ]
    person = {**entry("comment"), "note": "threshold crossed"}  # a person's words stay theirs
    assert timeline_entry(person, UNITS, zh, "zh_CN", "UTC").children[4].children == "threshold crossed"
