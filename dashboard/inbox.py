"""The inbox of the command chain: what a centre, a department or a field worker is given, gives and must verify,
and each task's page with the steps it can take. One page for the centre's screen and the field worker's phone
(390×844, touch, large buttons): plain HTML the server renders, light on a slow mobile network, with a small script
(assets/cityops_inbox.js) that shrinks photos on the phone, adds the position, and sends a step again when the
network drops it (each step carries a request id, so a step sent twice is done once).

Every step goes through alerts.chain.Chain, which asks who may take it; this module only turns forms into calls
and refusals into messages in the reader's language.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort, request, send_file

from alerts.chain import RECEIVER_ACTIONS, SENDER_ACTIONS, Chain, ChainError, Position
from alerts.directives import Directives
from dashboard import directive_pages, guard
from dashboard.i18n import N_
from dashboard.inbox_view import FOOT, HEAD, LIST, done, language, refused, render, unit_name, uploads
from dashboard.labels import ALERT_STATE_LABELS, SEVERITY_LABELS, TASK_STATE_LABELS
from dashboard.settings import DashboardSettings
from dashboard.timefmt import local_time
from layers.regions import RegionIndex
from store import directives as directive_store
from store import incidents as incident_store
from store import tasks as task_store
from store.attachments import AttachmentFiles, PhotoError

SHOWN = 100  # rows of each inbox section drawn; the heading counts them all
PHOTOS_AT_ONCE = 4  # shrunk on the phone, four fit in one request
STEP_LABELS = {
    "task_dispatch": N_("gave the task to {to}"), "task_sign": N_("signed for it"), "task_on_site": N_("is on site"),
    "task_feedback": N_("sent feedback"), "task_report": N_("reported it done"), "task_verify": N_("verified it"),
    "task_return": N_("returned it"), "task_escalate": N_("overdue: raised to {to}"),
    "task_withdraw": N_("took back the report above it"), "notify": N_("notification by {to}: {outcome}"),
}  # fmt: skip
NOTIFY_OUTCOMES = {"sent": N_("sent"), "failed": N_("given up")}
ACTION_LABELS = {
    "sign": N_("Sign for it"), "on_site": N_("I am on site"), "feedback": N_("Send feedback"),
    "report": N_("Report done"), "verify": N_("Verify it"), "return": N_("Return it"),
}  # fmt: skip
ERRORS = {
    "missing": N_("There is no such task or incident for you."), "forbidden": N_("This step is not yours to take."),
    "target": N_("Choose a unit or a person below yours."), "state": N_("This step cannot be taken now: the task "
    "has moved on. The page shows where it stands."), "needs_note": N_("Write what was done, or why."),
    "too_long": N_("The text is too long."), "empty": N_("Feedback is a note, a photo, or both."),
    "type": N_("That file is not a photo (JPEG, PNG or WebP)."), "size": N_("That photo is too large."),
    "pixels": N_("That photo has too many pixels."), "photos": N_("Four photos at most at once."),
}  # fmt: skip

STEP_FORM = """<form method="post" action="{{ form.action }}" class="inbox-form" data-retry
{% if form.position %}data-position{% endif %} enctype="multipart/form-data">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="request" value="{{
form.request }}"><input type="hidden" name="lon"><input type="hidden" name="lat"><input type="hidden" name="accuracy">
{% if form.targets %}<label>{{ w.to }}<select name="target" required>{% for value, label in form.targets %}
<option value="{{ value }}"{% if value == form.suggested %} selected{% endif %}>{{ label }}</option>{% endfor %}
</select></label>{% endif %}
{% if form.note %}<label>{{ form.note }}<textarea name="note" rows="3"{% if form.note_required %} required{% endif
%}></textarea></label>{% endif %}
{% if form.photos %}<label class="inbox-photo">{{ w.photos }}<input type="file" name="photos" accept="image/*"
capture="environment" multiple></label>{% endif %}
<button type="submit" class="inbox-act act-{{ form.name }}">{{ form.label }}</button>
<p class="inbox-sending" aria-live="polite" data-sending="{{ w.sending }}" data-again="{{ w.again }}"
data-failed="{{ w.failed }}" data-too-large="{{ w.too_large }}" data-refused="{{ w.refused }}"></p></form>"""
TASK = (
    HEAD
    + """<h1>{{ title }}</h1><p class="inbox-meta">{{ meta }}</p>
{% if instruction %}<p class="inbox-instruction">{{ instruction }}</p>{% endif %}
{% for form in forms %}"""
    + STEP_FORM
    + """{% endfor %}
<section class="inbox-section"><h2>{{ w.timeline }}</h2><ol class="inbox-timeline">{% for step in steps %}
<li><span class="inbox-when">{{ step.when }}</span> <b>{{ step.actor }}</b> {{ step.text }}{% if step.note %}:
{{ step.note }}{% endif %}{% if step.where %} <span class="inbox-where">{{ step.where }}</span>{% endif %}
{% for photo in step.photos %}<a href="/attachments/{{ photo }}" class="inbox-thumb"><img src="/attachments/{{
photo }}/thumb" alt="{{ w.photo }}" width="96" height="72"></a>{% endfor %}</li>{% endfor %}</ol></section>
"""
    + FOOT
)


def register(server: Flask, chain: Chain, regions: RegionIndex, files: AttachmentFiles,
             settings: DashboardSettings) -> None:  # fmt: skip
    directives = Directives(chain.store, chain.org)
    inbox = Inbox(chain, regions, files, settings, directives)
    directive_pages.register(server, directives, settings, files)
    server.add_url_rule("/inbox", "inbox", inbox.list_page)
    server.add_url_rule("/inbox/task/<int:task_id>", "inbox_task", inbox.task_page)
    server.add_url_rule("/inbox/incident/<int:incident_id>", "inbox_incident", inbox.incident_page)
    server.add_url_rule("/inbox/task/<int:task_id>/<action>", "inbox_step", inbox.step, methods=["POST"])
    server.add_url_rule("/inbox/incident/<int:incident_id>/dispatch", "inbox_dispatch", inbox.dispatch,
                        methods=["POST"])  # fmt: skip
    server.add_url_rule("/attachments/<digest>", "attachment", inbox.attachment)
    server.add_url_rule("/attachments/<digest>/thumb", "attachment_thumb", inbox.attachment, defaults={"thumb": True})


class Inbox:
    def __init__(self, chain: Chain, regions: RegionIndex, files: AttachmentFiles, settings: DashboardSettings,
                 directives: Directives | None = None):  # fmt: skip
        self.chain = chain
        self.directives = directives
        self.regions = regions
        self.files = files
        self.settings = settings
        self.tz = settings.city.timezone

    # -- pages ---------------------------------------------------------------------------------------------------

    def list_page(self, message: str = "", status: int = 200) -> Response:
        principal = guard.current()
        lang, t = language(self.settings.web.language)
        unit = self.chain.org.units.get(principal.unit or "")
        if unit is None:
            return render(LIST, t, lang, t("Inbox"), status, sections=[], on_duty="", links=[], search=None,
                                message=t("You are in no unit of the city's organisation: nothing is given to you "
                                          "here."))  # fmt: skip
        tasks = self.chain.inbox(principal)
        mine = [x for x in tasks if self.chain._receives(principal, x)]
        raised = [x for x in tasks if x["escalated_to"] == principal.unit]
        sent = [x for x in tasks if x["from_unit"] == principal.unit and not self.chain._receives(principal, x)
                and x not in raised]  # fmt: skip
        lists = [
            (t("To sign for"), [x for x in mine if x["state"] == "sent"]),
            (t("In hand"), [x for x in mine if x["state"] in ("signed", "on_site", "returned")]),
        ]
        ours: list[dict] = []
        if principal.can("act") and unit.kind == "centre":
            ours = task_store.not_given(self.chain.store.cursor(), unit.id)
            lists += [
                (t("To verify"), [x for x in sent if x["state"] == "reported"]),
                (t("Raised to us: overdue below"), raised),
                (t("Given, not yet done"), [x for x in sent if x["state"] != "reported"]),
            ]
        # Newest first and SHOWN of each at most: a storm's thousand tasks are counted, not all drawn.
        sections = [(heading, [self._row(x, t, lang) for x in items[:SHOWN]], len(items)) for heading, items in lists]
        if principal.can("act") and unit.kind == "centre":
            sections.insert(0, (t("Ours to give"), [self._incident_row(i, t, lang) for i in ours[:SHOWN]], len(ours)))
        links, search = [], None
        if self.directives is not None:
            text = request.args.get("q", "").strip()[:100]
            search = {"q": text, "label": t("Search directives")}
            if text:  # a search shows directives only
                sections = []
            sections += directive_pages.sections(self.directives, principal, t, lang, self.tz, text)
            if principal.can("act") and unit.kind == "centre":
                links.append(("/inbox/directive/new", t("New directive")))
        duty = self.chain.org.on_duty(unit.id, datetime.now(ZoneInfo(self.tz)).replace(tzinfo=None))
        on_duty = t("On duty now: {people}", people=", ".join(duty)) if duty else ""
        return render(LIST, t, lang, unit_name(unit, lang), status, sections=sections, on_duty=on_duty,
                            message=message, shown_of=t("The newest {n} of {total} are shown."),
                            links=links, search=search)  # fmt: skip

    def task_page(self, task_id: int, message: str = "", status: int = 200) -> Response:
        principal = guard.current()
        lang, t = language(self.settings.web.language)
        cur = self.chain.store.cursor()
        task = task_store.get(cur, task_id)
        if task is None or not self.chain._party(principal, task):
            guard.record("access", f"task {task_id}", "refused", "not a party to the task")
            abort(404)
        incident = incident_store.get(cur, task["incident_id"])
        forms = self._forms(principal, task, t, lang)
        to = self._unit_or_person(task["to_unit"], task["to_person"], lang)
        meta = " · ".join(x for x in (
            t(SEVERITY_LABELS[incident["severity"]]), self._place(incident, lang),
            t(TASK_STATE_LABELS[task["state"]]), t("from {unit}", unit=self._unit_or_person(task["from_unit"], None,
                                                                                           lang)),
            t("to {unit}", unit=to), self._due(task, t),
            t("Incident: {state}", state=t(ALERT_STATE_LABELS[incident["state"]]))) if x)  # fmt: skip
        return render(TASK, t, lang, _title(incident, lang), status, meta=meta, forms=forms,
                            instruction=task["instruction"], steps=self._steps(task["incident_id"], t, lang, principal),
                            message=message)  # fmt: skip

    def incident_page(self, incident_id: int, message: str = "", status: int = 200) -> Response:
        """Giving an incident of ours down the chain: whom to, with what instruction."""
        principal = guard.current()
        lang, t = language(self.settings.web.language)
        incident = incident_store.get(self.chain.store.cursor(), incident_id)
        if incident is None or not self.chain.sees_incident(principal, incident):
            abort(404)
        targets = self._targets(principal, lang)
        form = {"action": f"/inbox/incident/{incident_id}/dispatch", "name": "dispatch", "label": t("Give the task"),
                "targets": targets, "suggested": self._suggested(principal, incident), "note": t("Instruction"),
                "request": secrets.token_urlsafe(12)}  # fmt: skip
        meta = " · ".join((t(SEVERITY_LABELS[incident["severity"]]), self._place(incident, lang),
                           t(ALERT_STATE_LABELS[incident["state"]])))  # fmt: skip
        return render(TASK, t, lang, _title(incident, lang), status, meta=meta, instruction="",
                            forms=[form] if targets else [], steps=self._steps(incident_id, t, lang, principal),
                            message=message)  # fmt: skip

    # -- steps ---------------------------------------------------------------------------------------------------

    def step(self, task_id: int, action: str) -> Response:
        principal = guard.current()
        _, t = language(self.settings.web.language)
        try:
            self.chain.may(principal, task_id, action)  # before any photo is kept
            photos = uploads("photos", self.files.save, PHOTOS_AT_ONCE)
            position = _position(request.form)
            self.chain.act(principal, task_id, action, now=datetime.now(UTC), audit=guard.trail(),
                           note=request.form.get("note", ""), position=position, photos=photos,
                           request=request.form.get("request") or None)  # fmt: skip
        except (ChainError, PhotoError) as exc:
            return self._refused(exc, t, lambda message: self.task_page(task_id, message, 400))
        return done(f"/inbox/task/{task_id}")

    def dispatch(self, incident_id: int) -> Response:
        principal = guard.current()
        _, t = language(self.settings.web.language)
        unit, _, person = request.form.get("target", "").partition("/")
        try:
            task_id = self.chain.dispatch(principal, incident_id, to_unit=unit, to_person=person or None,
                                          instruction=request.form.get("note", ""), now=datetime.now(UTC),
                                          audit=guard.trail(), request=request.form.get("request") or None)  # fmt: skip
        except ChainError as exc:
            return self._refused(exc, t, lambda message: self.incident_page(incident_id, message, 400))
        return done(f"/inbox/task/{task_id}")

    def attachment(self, digest: str, thumb: bool = False) -> Response:
        """A photo (or its thumbnail) for whoever may see one of the incidents it was sent with."""
        principal = guard.current()
        cur = self.chain.store.cursor()
        if len(digest) != 64 or not digest.isalnum():
            abort(404)
        for row in directive_store.file_rows(cur, digest):  # a directive's file, or a reply's
            if not thumb and self.directives is not None and self.directives.sees_file(principal, row):
                return _send_kept(self.files.path(digest, row["media_type"]), row["media_type"])
        for row in task_store.attachment(cur, digest):
            incident = incident_store.get(cur, row["incident_id"])
            task = task_store.get(cur, row["task_id"])
            seen = (task is not None and self.chain._party(principal, task)) if principal.by_task else (
                incident is not None and self.chain.sees_incident(principal, incident))  # fmt: skip
            if seen:
                path = self.files.thumbnail(digest) if thumb else self.files.path(digest, row["media_type"])
                return _send_kept(path, "image/jpeg" if thumb else row["media_type"])
        abort(404)

    # -- parts ---------------------------------------------------------------------------------------------------

    def _forms(self, principal, task: dict, t, lang: str) -> list[dict]:
        forms = []
        receives = self.chain._receives(principal, task)
        sends = principal.unit == task["from_unit"] and principal.can("act")
        for action, (states, _) in RECEIVER_ACTIONS.items():
            if receives and task["state"] in states:
                forms.append(self._form(task, action, t))
        if receives and principal.can("act") and task["to_person"] is None and task["state"] in (
                "signed", "on_site", "returned"):  # fmt: skip
            targets = self._targets(principal, lang)
            if targets:
                incident = incident_store.get(self.chain.store.cursor(), task["incident_id"])
                forms.append({"action": f"/inbox/incident/{task['incident_id']}/dispatch", "name": "dispatch",
                              "label": t("Give it on"), "targets": targets, "note": t("Instruction"),
                              "suggested": self._suggested(principal, incident),
                              "request": secrets.token_urlsafe(12)})  # fmt: skip
        for action, (states, _) in SENDER_ACTIONS.items():
            if sends and task["state"] in states:
                forms.append(self._form(task, action, t))
        return forms

    def _form(self, task: dict, action: str, t) -> dict:
        notes = {"feedback": t("What you see"), "report": t("What was done"), "verify": t("Note (optional)"),
                 "return": t("Why it goes back")}  # fmt: skip
        return {"action": f"/inbox/task/{task['id']}/{action}", "name": action, "label": t(ACTION_LABELS[action]),
                "note": notes.get(action), "note_required": action in ("report", "return"),
                "photos": action in ("feedback", "report"), "position": action in ("on_site", "feedback", "report"),
                "request": secrets.token_urlsafe(12)}  # fmt: skip

    def _targets(self, principal, lang: str) -> list[tuple[str, str]]:
        return [(f"{unit}/{person}" if person else unit, self._unit_or_person(unit, person, lang))
                for unit, person in self.chain.targets(principal)]  # fmt: skip

    def _suggested(self, principal, incident: dict) -> str | None:
        """The unit below that holds the incident's place (the town it is in), else the routed department, else
        the grid worker of its grid."""
        places = {r.id for r in self.regions.ancestors(incident["region_id"])} if incident["region_id"] else set()
        if incident["lon"] is not None and incident["lat"] is not None:
            places |= {v for v in self.regions.locate(incident["lon"], incident["lat"]).values() if v}
        for unit, person in self.chain.targets(principal):
            if person is None and set(self.chain.org.units[unit].regions) & places and \
                    self.chain.org.units[unit].kind == "centre":  # fmt: skip
                return unit
        if incident.get("department_id") in {u for u, p in self.chain.targets(principal) if p is None}:
            return incident["department_id"]
        for unit, person in self.chain.targets(principal):
            if person is not None and set(self.chain.org.person(person).grids) & places:
                return f"{unit}/{person}"
        return None

    def _row(self, task: dict, t, lang: str) -> dict:
        meta = " · ".join(x for x in (t(TASK_STATE_LABELS[task["state"]]), self._place(task, lang),
                                      t("to {unit}", unit=self._unit_or_person(task["to_unit"], task["to_person"],
                                                                               lang)),
                                      self._due(task, t)) if x)  # fmt: skip
        return {"href": f"/inbox/task/{task['id']}", "title": _title(task, lang), "meta": meta,
                "severity": task["severity"]}  # fmt: skip

    def _incident_row(self, incident: dict, t, lang: str) -> dict:
        meta = " · ".join((t(SEVERITY_LABELS[incident["severity"]]), self._place(incident, lang),
                           local_time(incident["opened_at"], self.tz, "%m-%d %H:%M")))  # fmt: skip
        return {"href": f"/inbox/incident/{incident['id']}", "title": _title(incident, lang), "meta": meta,
                "severity": incident["severity"]}  # fmt: skip

    def _steps(self, incident_id: int, t, lang: str, principal) -> list[dict]:
        """The chain's steps of the incident; one who works by task sees those of their own tasks only."""
        cur = self.chain.store.cursor()
        own = ({x["id"] for x in task_store.of_incident(cur, incident_id) if self.chain._party(principal, x)}
               if principal.by_task else None)  # fmt: skip
        steps = []
        for entry in incident_store.timeline(cur, incident_id):
            if entry["action"] not in STEP_LABELS or own is not None and entry["details"].get("task") not in own:
                continue  # (a notification names no task: the centres see them, a field worker does not)
            d = entry["details"]
            to = self._unit_or_person(d["to"], None, lang) if d.get("to") in self.chain.org.units else d.get("to")
            if entry["action"] == "task_dispatch" and d.get("person"):
                to = d["person"]
            where = f"{d['lat']:.5f}, {d['lon']:.5f}" if "lat" in d and "lon" in d else ""
            if entry["action"] == "notify":
                to = d.get("channel", "")
            outcome = t(NOTIFY_OUTCOMES[d["outcome"]]) if d.get("outcome") in NOTIFY_OUTCOMES else ""
            steps.append({"when": local_time(entry["ts"], self.tz, "%m-%d %H:%M"), "actor": entry["actor"],
                          "text": t(STEP_LABELS[entry["action"]], to=to or "", outcome=outcome),
                          "note": entry["note"],
                          "where": where, "photos": d.get("photos", [])})  # fmt: skip
        return steps

    def _unit_or_person(self, unit_id: str, person: str | None, lang: str) -> str:
        if person:
            return person
        unit = self.chain.org.units.get(unit_id)
        return unit_name(unit, lang) if unit is not None else unit_id

    def _place(self, record: dict, lang: str) -> str:
        region = self.regions.get(record["region_id"]) if record.get("region_id") else None
        return region.name(lang) if region is not None else ""

    def _due(self, task: dict, t) -> str:
        if task["stage_due"] is None or task["state"] not in ("sent", "signed", "on_site", "returned"):
            return ""
        return t("due {time}", time=local_time(task["stage_due"], self.tz, "%m-%d %H:%M"))

    def _refused(self, exc: ChainError | PhotoError, t, page) -> Response:
        message = t(ERRORS.get(exc.code, N_("This step cannot be taken now: the task has moved on. The page shows "
                                             "where it stands.")))  # fmt: skip
        return refused(message, exc.code, page)


def _send_kept(path, media_type: str) -> Response:
    if path is None:  # named in the store, but no node kept the file (a store restored without its files)
        abort(404)
    response = send_file(path, mimetype=media_type, max_age=86400)
    response.headers["Cache-Control"] = "private, max-age=86400"  # one user's: no shared cache keeps it
    return response


def _position(form) -> Position | None:
    """The phone's position, if it gave one (a position that is not a number on Earth is not a position)."""
    try:
        lon, lat = float(form.get("lon", "")), float(form.get("lat", ""))
    except ValueError:
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    try:
        accuracy = float(form.get("accuracy", "")) if form.get("accuracy") else None
    except ValueError:
        accuracy = None
    return Position(lon, lat, accuracy)


def _title(record: dict, lang: str) -> str:
    return record["title_zh"] if lang == "zh_CN" else record["title_en"]
