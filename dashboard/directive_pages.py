"""Directives on the inbox (政令一键直达): writing one to units below, the receiver's page (read, sign, answer,
forward one level down), and the sender's page: where each receiver stands, down the tree of forwards, with one
action to chase the late. Every step goes through alerts.directives.Directives, which asks who may take it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort, request

from alerts.directives import ANSWERS, OWED, DirectiveError, Directives
from dashboard import guard
from dashboard.i18n import N_, page_language
from dashboard.inbox_view import FOOT, HEAD, done, language, refused, render, unit_name, uploads
from dashboard.settings import DashboardSettings
from dashboard.timefmt import local_time
from store import directives as directive_store
from store.attachments import AttachmentFiles, PhotoError

ANSWER_LABELS = {"read": N_("Read it"), "sign": N_("Sign for it"), "reply": N_("Reply in writing"),
                 "figure": N_("Report a figure")}  # fmt: skip
LOG_LABELS = {"send": N_("sent it"), "read": N_("read it"), "sign": N_("signed for it"), "reply": N_("replied"),
              "forward": N_("forwarded it"), "chase": N_("chased"), "notify": N_("notified")}  # fmt: skip
ERRORS = {
    "missing": N_("There is no such directive for you."), "forbidden": N_("This step is not yours to take."),
    "receivers": N_("Choose receivers below your unit."), "answer": N_("Give the answer the directive asks for."),
    "text": N_("Write a title, and a text that is not too long."), "deadline": N_("That is not a time."),
    "done": N_("This was done already."), "type": N_("That file is not a PDF or a photo."),
    "size": N_("That file is too large."), "pixels": N_("That photo has too many pixels."),
    "photos": N_("Six files at most at once."),
}  # fmt: skip
WORDS = {
    "new": N_("New directive"), "title": N_("Title"), "body": N_("Text"), "answer": N_("Answer asked"),
    "deadline": N_("Deadline"), "figure_unit": N_("Unit of the figure"), "receivers": N_("Receivers"),
    "send": N_("Send"), "sign": N_("Sign for it"), "reply": N_("Reply"), "figure": N_("Figure"),
    "forward": N_("Forward one level down"), "additions": N_("Your additions"), "chase": N_("Chase the late ones"),
    "standing": N_("Receipts"), "log": N_("Log"), "late": N_("late"), "read": N_("read"), "signed": N_("signed"),
    "replied": N_("replied"), "delivered": N_("delivered"), "forwarded": N_("forwarded"),
    "mark_read": N_("I have read it"), "files": N_("Files (PDF, photos)"),
}  # fmt: skip
FORM = """<form method="post" action="{{ action }}" class="inbox-form" enctype="multipart/form-data"><input
type="hidden" name="csrf_token" value="{{ csrf }}">"""
FILES = """{% if files %}<ul class="directive-files">{% for f in files %}<li><a href="/attachments/{{ f.id }}">{{ f.name
}}</a> <span class="inbox-meta">{{ f.size }}</span></li>{% endfor %}</ul>{% endif %}"""
FILE_INPUT = """<label>{{ d.files }}<input type="file" name="files" accept="application/pdf,image/*" multiple>
</label>"""
FILES_AT_ONCE = 6
NEW = (
    HEAD
    + """<h1>{{ d.new }}</h1>"""
    + FORM.replace("{{ action }}", "/inbox/directive")
    + """<label>{{ d.title }}<input name="title" maxlength="200" required></label>
<label>{{ d.body }}<textarea name="body" rows="5" required></textarea></label>
<label>{{ d.answer }}<select name="answer">{% for value, label in answers %}<option value="{{ value }}">{{ label }}
</option>{% endfor %}</select></label><label>{{ d.figure_unit }}<input name="figure_unit" maxlength="20"></label>
<label>{{ d.deadline }}<input name="deadline" type="datetime-local"></label>
<fieldset class="inbox-receivers"><legend>{{ d.receivers }}</legend>{% for value, label in receivers %}<label
class="inbox-check"><input type="checkbox" name="to" value="{{ value }}"> {{ label }}</label>{% endfor %}</fieldset>
"""
    + FILE_INPUT
    + """<button type="submit" class="inbox-act act-send">{{ d.send }}</button></form>"""
    + FOOT
)
RECEIVED = (
    HEAD
    + """<h1>{{ title }}</h1><p class="inbox-meta">{{ meta }}</p><p class="inbox-instruction directive-body">{{ body }}
</p>"""
    + FILES
    + """{% if can_read and not can_sign and not can_reply %}"""
    + FORM.replace("{{ action }}", "/inbox/receipt/{{ receipt }}/read")
    + """<button type="submit" class="inbox-act act-read">{{ d.mark_read }}</button></form>{% endif %}
{% if can_sign %}"""
    + FORM.replace("{{ action }}", "/inbox/receipt/{{ receipt }}/sign")
    + """<button type="submit" class="inbox-act act-sign">{{ d.sign }}</button></form>{% endif %}
{% if can_reply %}"""
    + FORM.replace("{{ action }}", "/inbox/receipt/{{ receipt }}/reply")
    + """{% if figure %}<label>{{ d.figure }}{% if figure_unit %} ({{ figure_unit }}){% endif %}<input name="figure"
type="number" step="any" required></label>{% else %}<label>{{ d.reply }}<textarea name="text" rows="3" required>
</textarea></label>{% endif %}"""
    + FILE_INPUT
    + """<button type="submit" class="inbox-act act-reply">{{ d.reply
}}</button></form>
{% endif %}{% if receivers %}"""
    + FORM.replace("{{ action }}", "/inbox/receipt/{{ receipt }}/forward")
    + """<fieldset class="inbox-receivers"><legend>{{ d.forward }}</legend>{% for value, label in receivers %}<label
class="inbox-check"><input type="checkbox" name="to" value="{{ value }}"> {{ label }}</label>{% endfor %}</fieldset>
<label>{{ d.additions }}<textarea name="additions" rows="2"></textarea></label>
<button type="submit" class="inbox-act act-forward">{{ d.forward }}</button></form>{% endif %}"""
    + FOOT
)
SENT = (
    HEAD.replace("<title>", '<meta http-equiv="refresh" content="15"><title>')  # live: where each stands, anew
    + """<h1>{{ title }}</h1><p class="inbox-meta">{{ meta }}</p><p class="inbox-instruction directive-body">{{ body }}
</p>"""
    + FILES
    + """<p class="directive-counts">{{ counts }}</p>{% if late %}"""
    + FORM.replace("{{ action }}", "/inbox/directive/{{ directive }}/chase")
    + """<button type="submit" class="inbox-act act-chase">{{ d.chase }} ({{ late }})</button></form>{% endif %}
<section class="inbox-section"><h2>{{ d.standing }}</h2>{% macro rows(tree) %}<ul class="directive-tree">
{% for s in tree.rows %}<li class="directive-receipt{% if s.late %} late{% endif %}"><b>{{ s.name }}</b> {{
s.states }}{% if s.answer %}: {{ s.answer }}{% endif %}{% if s.below %}{{ rows(s.below) }}{% endif %}</li>
{% endfor %}</ul>
{% endmacro %}{{ rows(tree) }}</section>
<section class="inbox-section"><h2>{{ d.log }}</h2><ol class="inbox-timeline">{% for e in log %}<li><span
class="inbox-when">{{ e.when }}</span> <b>{{ e.actor }}</b> {{ e.action }}</li>{% endfor %}</ol></section>"""
    + FOOT
)


def register(server: Flask, directives: Directives, settings: DashboardSettings, files: AttachmentFiles) -> None:
    pages = DirectivePages(directives, settings, files)
    server.add_url_rule("/inbox/directive/new", "directive_new", pages.new_page)
    server.add_url_rule("/inbox/directive", "directive_send", pages.send, methods=["POST"])
    server.add_url_rule("/inbox/directive/<int:directive_id>", "directive_page", pages.sent_page)
    server.add_url_rule("/inbox/directive/<int:directive_id>/chase", "directive_chase", pages.chase,
                        methods=["POST"])  # fmt: skip
    server.add_url_rule("/inbox/receipt/<int:receipt_id>", "receipt_page", pages.received_page)
    server.add_url_rule("/inbox/receipt/<int:receipt_id>/<action>", "receipt_step", pages.step, methods=["POST"])


def sections(directives: Directives, principal, t, lang: str, tz: str,
             text: str = "") -> list[tuple[str, list[dict], int]]:  # fmt: skip
    """The inbox's directive sections: those received and not yet answered, and those the unit sent (each with how
    many signed and replied); with `text`, every one received or sent whose title or text holds it."""
    cur = directives.store.cursor()
    unit = directives.org.units.get(principal.unit or "")
    whole = directives.org.whole_unit(principal.role, principal.unit)
    received = directive_store.received_by(cur, principal.unit or "", principal.name, whole)
    if text:
        found = text.casefold()
        open_ones = [r for r in received if found in r["d_title"].casefold() or found in r["d_body"].casefold()]
    else:
        open_ones = [r for r in received if r[OWED[r["d_answer"]]] is None]
    rows = [{"href": f"/inbox/receipt/{r['id']}", "title": r["d_title"], "severity": "",
             "meta": " · ".join(x for x in (t(ANSWER_LABELS[r["d_answer"]]), _due(r["d_deadline"], t, tz)) if x)}
            for r in open_ones[:100]]  # fmt: skip
    out = [(t("Directives found") if text else t("Directives to answer"), rows, len(open_ones))]
    if principal.can("act") and unit is not None and unit.kind == "centre":
        sent = directive_store.sent_by_unit(cur, unit.id, text)
        now = datetime.now(UTC)
        sent_rows = [{"href": f"/inbox/directive/{d['id']}", "title": d["title"], "severity": "",
                      "meta": _counts(directives.standing(d["id"], now), t)} for d in sent[:20]]  # fmt: skip
        out.append((t("Directives sent"), sent_rows, len(sent)))
    return out


class DirectivePages:
    def __init__(self, directives: Directives, settings: DashboardSettings, files: AttachmentFiles):
        self.directives = directives
        self.files = files
        self.settings = settings
        self.tz = settings.city.timezone

    def new_page(self, message: str = "", status: int = 200) -> Response:
        principal = guard.current()
        lang, t = language(self.settings.web.language)
        receivers = self._choices(principal, lang, direct=False)
        if not receivers or not principal.can("act"):
            abort(404)
        answers = [(a, t(ANSWER_LABELS[a])) for a in ANSWERS]
        return render(NEW, t, lang, t("New directive"), status, d=self._words(t), answers=answers,
                      receivers=receivers, message=message)  # fmt: skip

    def send(self) -> Response:
        principal = guard.current()
        _, t = language(self.settings.web.language)
        try:
            directive_id = self.directives.send(
                principal, receivers=request.form.getlist("to"), title=request.form.get("title", ""),
                body=request.form.get("body", ""), answer=request.form.get("answer", ""),
                figure_unit=request.form.get("figure_unit") or None, deadline=self._deadline(),
                now=datetime.now(UTC), audit=guard.trail(),
                attachments=uploads("files", self.files.save_document, FILES_AT_ONCE),
            )  # fmt: skip
        except (DirectiveError, PhotoError) as exc:
            return refused(t(ERRORS[exc.code]), exc.code, lambda m: self.new_page(m, 400))
        return done(f"/inbox/directive/{directive_id}")

    def sent_page(self, directive_id: int, message: str = "", status: int = 200) -> Response:
        principal = guard.current()
        lang, t = language(self.settings.web.language)
        cur = self.directives.store.cursor()
        directive = directive_store.get(cur, directive_id)
        if directive is None or not self.directives.sees_sent(principal, directive):
            abort(404)
        now = datetime.now(UTC)
        tree = self.directives.tree(directive_id, now)
        standing = tree["standing"]
        log = [{"when": local_time(e["ts"], self.tz, "%m-%d %H:%M"), "actor": e["actor"],
                "action": t(LOG_LABELS[e["action"]]) if e["action"] in LOG_LABELS else e["action"]}
               for e in directive_store.timeline(cur, directive_id)]  # fmt: skip
        late = sum(s.late for s in standing) if directive["from_unit"] == principal.unit else 0
        return render(SENT, t, lang, directive["title"], status, d=self._words(t), meta=self._meta(directive, t),
                      files=self._files(directive_id),
                      body=directive["body"], counts=_counts(standing, t), late=late, directive=directive_id,
                      tree=self._tree(tree, t, lang), log=log, message=message)  # fmt: skip

    def received_page(self, receipt_id: int, message: str = "", status: int = 200) -> Response:
        principal = guard.current()
        lang, t = language(self.settings.web.language)
        cur = self.directives.store.cursor()
        receipt = directive_store.receipt(cur, receipt_id)
        if receipt is None or not self.directives.receives(principal, receipt):
            abort(404)  # opening the page changes nothing: a link's preview does not answer for anyone
        directive = directive_store.get(cur, receipt["directive_id"])
        answer = directive["answer"]
        can_reply = answer in ("reply", "figure") and receipt["replied_at"] is None
        forward = [] if receipt["forwarded_as"] else self._choices(principal, lang, direct=True)
        return render(RECEIVED, t, lang, directive["title"], status, d=self._words(t), receipt=receipt_id,
                      files=[f for f in self._files(directive["id"]) if f["receipt"] in (None, receipt_id)],
                      meta=self._meta(directive, t), body=directive["body"], figure=answer == "figure",
                      figure_unit=directive["figure_unit"], can_read=receipt["read_at"] is None,
                      can_sign=receipt["signed_at"] is None and answer != "read",
                      can_reply=can_reply, receivers=forward if principal.can("act") else [],
                      message=message)  # fmt: skip

    def step(self, receipt_id: int, action: str) -> Response:
        principal = guard.current()
        _, t = language(self.settings.web.language)
        now, trail = datetime.now(UTC), guard.trail()
        try:
            if action == "read":
                self.directives.read(principal, receipt_id, now)
            elif action == "sign":
                self.directives.sign(principal, receipt_id, now, trail)
            elif action == "reply":
                figure = request.form.get("figure")
                try:
                    number = float(figure) if figure not in (None, "") else None
                except ValueError:
                    raise DirectiveError("not a number", "answer") from None
                self.directives.reply(principal, receipt_id, now, trail, text=request.form.get("text", ""),
                                      figure=number, attachments=uploads("files", self.files.save_document,
                                                                         FILES_AT_ONCE))  # fmt: skip
            elif action == "forward":
                forwarded = self.directives.forward(principal, receipt_id, receivers=request.form.getlist("to"),
                                                    additions=request.form.get("additions", ""), now=now,
                                                    audit=trail)  # fmt: skip
                return done(f"/inbox/directive/{forwarded}")
            else:
                abort(404)
        except (DirectiveError, PhotoError) as exc:
            return refused(t(ERRORS[exc.code]), exc.code, lambda m: self.received_page(receipt_id, m, 400))
        return done(f"/inbox/receipt/{receipt_id}")

    def chase(self, directive_id: int) -> Response:
        principal = guard.current()
        _, t = language(self.settings.web.language)
        try:
            self.directives.chase(principal, directive_id, datetime.now(UTC), guard.trail())
        except DirectiveError as exc:
            return refused(t(ERRORS[exc.code]), exc.code, lambda m: self.sent_page(directive_id, m, 400))
        return done(f"/inbox/directive/{directive_id}")

    # -- parts ---------------------------------------------------------------------------------------------------

    def _choices(self, principal, lang: str, direct: bool) -> list[tuple[str, str]]:
        org = self.directives.org
        if principal.unit not in org.units:
            return []
        below = self.directives.below(principal.unit, direct)
        units = [(u, unit_name(org.units[u], lang)) for u in sorted(below)]
        people = [(f"{p.unit}/{p.account}", p.account) for p in org.file.people if p.unit == principal.unit]
        return units + people

    def _tree(self, tree: dict, t, lang: str) -> dict:
        org = self.directives.org
        below = {d["directive"]["id"]: d for d in tree["forwarded"]}
        rows = []
        for s in tree["standing"]:
            r = s.receipt
            name = r["to_person"] or (unit_name(org.units[r["to_unit"]], lang) if r["to_unit"] in org.units else "")
            states = [t(WORDS["delivered"])]
            states += [t(WORDS[k]) for k, f in (("read", "read_at"), ("signed", "signed_at"),
                                                 ("replied", "replied_at")) if r[f] is not None]  # fmt: skip
            if s.forwarded:
                states.append(t(WORDS["forwarded"]))
            if s.late:
                states.append(t(WORDS["late"]))
            answer = r["reply"] or (f"{r['figure']:g}" if r["figure"] is not None else "")
            relayed = self._tree(below[s.forwarded], t, lang) if s.forwarded in below else None
            rows.append({"name": name, "states": " · ".join(states), "late": s.late, "answer": answer,
                         "below": relayed})  # fmt: skip
        return {"rows": rows}

    def _meta(self, directive: dict, t) -> str:
        unit = self.directives.org.units.get(directive["from_unit"])
        lang = page_language(request.args.get("lang"), self.settings.web.language)
        sender = unit_name(unit, lang) if unit else directive["from_unit"]
        return " · ".join(x for x in (sender, t(ANSWER_LABELS[directive["answer"]]),
                                      _due(directive["deadline"], t, self.tz)) if x)  # fmt: skip

    def _deadline(self) -> datetime | None:
        value = request.form.get("deadline")
        if not value:
            return None
        try:
            return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(self.tz)).astimezone(UTC)
        except ValueError:
            raise DirectiveError("not a time", "deadline") from None

    def _files(self, directive_id: int) -> list[dict]:
        return [{"id": f["id"], "name": f["name"], "size": f"{f['bytes'] / 1024:.0f} KB", "receipt": f["receipt_id"]}
                for f in directive_store.files(self.directives.store.cursor(), directive_id)]  # fmt: skip

    def _words(self, t) -> dict[str, str]:
        return {key: t(text) for key, text in WORDS.items()}


def _counts(standing: list, t) -> str:
    n = len(standing)
    signed = sum(s.receipt["signed_at"] is not None for s in standing)
    replied = sum(s.receipt["replied_at"] is not None for s in standing)
    return t("{signed}/{n} signed · {replied}/{n} replied", signed=signed, replied=replied, n=n)


def _due(deadline, t, tz: str) -> str:
    return t("due {time}", time=local_time(deadline, tz, "%m-%d %H:%M")) if deadline is not None else ""
