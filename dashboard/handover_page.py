"""/handover: the duty desk's shift handover (交接班), a page the server renders with plain forms: the shift so far
(incidents opened, ended, still open, overdue), the notes the outgoing officer adds, the handover waiting for the
incoming officer's signature, and the desk's recent handovers. What a report holds is supervision/handover.py's."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, redirect, request

from dashboard import guard
from dashboard.i18n import N_
from dashboard.inbox_view import FOOT, HEAD, language, render
from dashboard.labels import ALERT_STATE_LABELS, SEVERITY_LABELS
from dashboard.timefmt import local_time
from store.database import Store
from supervision import handover
from supervision.handover import HandoverError

SECTION_LABELS = {"opened": N_("Opened in the shift"), "ended": N_("Ended in the shift"),
                  "open": N_("Still open"), "overdue": N_("Overdue")}  # fmt: skip
REFUSALS = {"pending": N_("Your desk's last handover waits to be taken over."),
            "missing": N_("There is no such handover at your desk."),
            "own": N_("You handed this shift over: the incoming officer takes it over."),
            "taken": N_("Someone has already taken this shift over.")}  # fmt: skip
DONE = {"given": N_("Handed over: the incoming officer signs it over here."), "taken": N_("You took the shift over.")}
WORDS = {"title": N_("Shift handover"), "so_far": N_("This shift: {start} to now"),
         "notes": N_("Notes for the next shift"), "give": N_("Hand over"),
         "waiting": N_("Handed over by {who} at {when}"), "take": N_("Take over"),
         "take_note": N_("Note (optional)"), "recent": N_("Recent handovers"), "none": N_("None."),
         "given_by": N_("{start} to {end}: handed over by {who}"), "taken_by": N_("taken over by {who} at {when}"),
         "not_taken": N_("not taken over yet"), "mine_waits": N_("Your handover waits to be taken over.")}  # fmt: skip
PAGE = (
    HEAD
    + """<h1>{{ words.title }}</h1>
{% macro report(sections) %}{% for name, label, count, items in sections %}<section class="handover-section
handover-{{ name }}"><h3>{{ label }} <span class="inbox-count">{{ count }}</span></h3>{% if items %}
<ul class="inbox-list">{% for item in items %}<li class="inbox-row sev-{{ item.severity }}"><a href="{{ item.href }}">
<span class="inbox-title">{{ item.title }}</span><span class="inbox-meta">{{ item.meta }}</span></a></li>{% endfor %}
</ul>{% else %}<p class="inbox-empty">{{ words.none }}</p>{% endif %}</section>{% endfor %}{% endmacro %}
{% if waiting %}<section class="handover-waiting"><h2>{{ waiting.heading }}</h2>
{% if waiting.notes %}<p class="handover-notes">{{ waiting.notes }}</p>{% endif %}{{ report(waiting.sections) }}
{% if waiting.mine %}<p class="inbox-duty">{{ words.mine_waits }}</p>{% else %}
<form method="post" action="/handover/{{ waiting.id }}/take" class="inbox-form handover-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><label>{{ words.take_note }}
<textarea name="note" maxlength="4000" rows="2"></textarea></label>
<button type="submit" class="inbox-act act-take">{{ words.take }}</button></form>{% endif %}</section>{% endif %}
<section class="handover-shift"><h2>{{ so_far }}</h2>{{ report(shift) }}
<form method="post" action="/handover" class="inbox-form handover-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>{{ words.notes }}<textarea name="notes" maxlength="4000" rows="4"></textarea></label>
<button type="submit" class="inbox-act act-give">{{ words.give }}</button></form></section>
<section class="handover-recent"><h2>{{ words.recent }}</h2>{% if recent %}<ul>{% for line in recent %}<li>{{ line }}
</li>{% endfor %}</ul>{% else %}<p class="inbox-empty">{{ words.none }}</p>{% endif %}</section>"""
    + FOOT
)


def register(server: Flask, store: Store, timezone: str, default_language: str) -> None:
    @server.get("/handover")
    def page(message: str = "", status: int = 200):
        lang, t = language(default_language)
        principal = guard.current()
        now = datetime.now(UTC)
        shift = handover.current_shift(store, principal, now)
        recent = handover.recent(store, principal)
        waiting = next((h for h in recent[:1] if h["taken_by"] is None), None)
        if not message and request.args.get("done") in DONE:
            message = t(DONE[request.args["done"]])
        return render(
            PAGE, t, lang, t(WORDS["title"]), status, message=message,
            words={key: t(text) for key, text in WORDS.items()},
            so_far=t(WORDS["so_far"], start=local_time(shift.start, timezone, "%m-%d %H:%M")),
            shift=_sections(shift.report, t, lang, timezone),
            waiting=_waiting(waiting, principal, t, lang, timezone) if waiting else None,
            recent=[_line(h, t, timezone) for h in recent],
        )  # fmt: skip

    @server.post("/handover")
    def give():
        lang, t = language(default_language)
        try:
            handover.hand_over(store, guard.current(), request.form.get("notes", ""), datetime.now(UTC),
                               guard.trail())  # fmt: skip
        except HandoverError as exc:
            return page(t(REFUSALS[exc.code]), 409)
        return redirect(f"/handover?done=given&lang={lang}", 303)

    @server.post("/handover/<int:handover_id>/take")
    def take(handover_id: int):
        lang, t = language(default_language)
        try:
            handover.take_over(store, guard.current(), handover_id, request.form.get("note", ""), datetime.now(UTC),
                               guard.trail())  # fmt: skip
        except HandoverError as exc:
            return page(t(REFUSALS[exc.code]), 409)
        return redirect(f"/handover?done=taken&lang={lang}", 303)


def _sections(report: dict, t, lang: str, timezone: str) -> list[tuple[str, str, int, list[dict]]]:
    counts = report.get("counts", {})
    return [
        (name, t(label), counts.get(name, len(report.get(name, []))),
         [_item(item, t, lang, timezone) for item in report.get(name, [])])
        for name, label in SECTION_LABELS.items()
    ]  # fmt: skip


def _item(item: dict, t, lang: str, timezone: str) -> dict:
    meta = " · ".join([local_time(datetime.fromisoformat(item["opened_at"]), timezone, "%m-%d %H:%M"),
                       t(SEVERITY_LABELS.get(item["severity"], item["severity"])),
                       t(ALERT_STATE_LABELS.get(item["state"], item["state"]))])  # fmt: skip
    return {"title": item["title_en"] if lang == "en" else item["title_zh"], "severity": item["severity"],
            "meta": meta, "href": f"/history?incident={item['id']}&lang={lang}"}  # fmt: skip


def _waiting(row: dict, principal, t, lang: str, timezone: str) -> dict:
    return {
        "id": row["id"], "mine": row["handed_by"] == principal.actor, "notes": row["notes"],
        "heading": t(WORDS["waiting"], who=row["handed_by"],
                     when=local_time(row["shift_end"], timezone, "%m-%d %H:%M")),
        "sections": _sections(handover.seen_by(principal, row["report"]), t, lang, timezone),
    }  # fmt: skip


def _line(row: dict, t, timezone: str) -> str:
    given = t(WORDS["given_by"], start=local_time(row["shift_start"], timezone, "%m-%d %H:%M"),
              end=local_time(row["shift_end"], timezone, "%m-%d %H:%M"), who=row["handed_by"])  # fmt: skip
    taken = (t(WORDS["taken_by"], who=row["taken_by"], when=local_time(row["taken_at"], timezone, "%m-%d %H:%M"))
             if row["taken_by"] else t(WORDS["not_taken"]))  # fmt: skip
    return f"{given}; {taken}"
