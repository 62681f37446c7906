"""Directives down the chain (政令一键直达): a centre sends a notice or an instruction to units below it (all its
districts, some towns, a department) or to named people, with a deadline and the answer it requires of each: having
read it, a signature (签收), a written reply, or a figure. Each receiver reads, signs and answers in its inbox; the
sender sees, per receiver, where each stands and who is late, and chases (催办) the late ones with one action. A
receiver may forward it down one level with additions of its own: a directive of its own, the child of the one it
relays, so the first sender sees the whole tree of receipts.

One door, as the chain's: each function asks who may do it, writes the directive, its receipts and its log in one
transaction, tells the receivers (the notifications' outbox), and records the attempt in the audit log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from access.policy import Principal
from alerts.chain import Photo
from alerts.org import Organisation
from store import directives as directive_store
from store import notifications
from store.audit import Trail, attempted
from store.database import Store
from store.transaction import retrying, transaction

ANSWERS = ("read", "sign", "reply", "figure")
# The receipt's field that says each answer was given.
OWED = {"read": "read_at", "sign": "signed_at", "reply": "replied_at", "figure": "replied_at"}
TITLE_MAX, BODY_MAX = 200, 10_000


class DirectiveError(ValueError):
    """A refused step, said for people; `code`: missing, forbidden, receivers, answer, text, deadline, done."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Standing:
    """Where one receiver stands: what it has done, and whether it is late (the deadline passed, its answer owed)."""

    receipt: dict
    done: bool
    late: bool
    forwarded: int | None  # the directive it forwarded this as, if any


class Directives:
    def __init__(self, store: Store, org: Organisation):
        self.store = store
        self.org = org

    # -- sending -------------------------------------------------------------------------------------------------

    def send(self, principal: Principal, *, receivers: list[str], title: str, body: str, answer: str,
             deadline: datetime | None, now: datetime, audit: Trail | None, figure_unit: str | None = None,
             attachments: tuple[Photo, ...] = (), relays: int | None = None) -> int:  # fmt: skip
        """Send a directive to `receivers` ("unit" or "unit/person"); its id. `relays`: the receipt this one
        forwards (forward() sets it)."""

        def work() -> int:
            return retrying(lambda: self._send(principal, receivers, title.strip(), body.strip(), answer, deadline,
                                               now, figure_unit, attachments, relays))  # fmt: skip

        directive_id = attempted(audit, principal.actor, principal.role, "directive send", title[:100], work,
                                 DirectiveError, done=lambda d: (f"directive {d}", f"to {len(receivers)}"))  # fmt: skip
        self.store.bump_version("handling")
        return directive_id

    def forward(self, principal: Principal, receipt_id: int, *, receivers: list[str], additions: str, now: datetime,
                audit: Trail | None, deadline: datetime | None = None) -> int:  # fmt: skip
        """Relay a directive received down one level, the receiver's additions above the original text."""
        cur = self.store.cursor()
        receipt = directive_store.receipt(cur, receipt_id)
        if receipt is None or not self.receives(principal, receipt):
            raise DirectiveError(f"there is no directive receipt {receipt_id} for this principal", "missing")
        original = directive_store.get(cur, receipt["directive_id"])
        body = f"{additions.strip()}\n\n——\n{original['body']}" if additions.strip() else original["body"]
        files = tuple(Photo(f["id"], f["media_type"], f["bytes"], 0, 0, f["name"])
                      for f in directive_store.files(cur, original["id"]) if f["receipt_id"] is None)  # fmt: skip
        return self.send(principal, receivers=receivers, title=original["title"], body=body,
                         answer=original["answer"], deadline=deadline or original["deadline"], now=now, audit=audit,
                         figure_unit=original["figure_unit"], attachments=files, relays=receipt_id)  # fmt: skip

    def _send(self, principal: Principal, receivers: list[str], title: str, body: str, answer: str,
              deadline: datetime | None, now: datetime, figure_unit: str | None, attachments: tuple[Photo, ...],
              relays: int | None) -> int:  # fmt: skip
        if principal.unit is None or not principal.can("act"):
            raise DirectiveError(f"{principal.name} sends no directives (no unit, or no right to act)", "forbidden")
        if answer not in ANSWERS:
            raise DirectiveError(f"the answer asked is one of {', '.join(ANSWERS)}", "answer")
        if not title or len(title) > TITLE_MAX or len(body) > BODY_MAX:
            raise DirectiveError(f"a title of 1 to {TITLE_MAX} characters, a text of {BODY_MAX} at most", "text")
        wanted = self._receivers(principal, receivers, direct=relays is not None)
        cur = self.store.cursor()
        with transaction(cur):
            parent = None
            if relays is not None:
                receipt = directive_store.receipt(cur, relays)
                parent = receipt["directive_id"]
            directive_id = directive_store.insert(cur, {
                "parent_id": parent, "from_unit": principal.unit, "sent_by": principal.name, "sent_at": now,
                "title": title, "body": body, "answer": answer, "figure_unit": figure_unit, "deadline": deadline,
                "attachments": [a.id for a in attachments],
            })  # fmt: skip
            _keep_files(cur, directive_id, None, attachments, principal.name, now)
            directive_store.add_receipts(cur, directive_id, wanted)
            for receipt in directive_store.receipts(cur, directive_id):
                notifications.tell(cur, key=f"directive:{directive_id}:{receipt['id']}", event="directive",
                                   now=now, title_zh=title, title_en=title, directive_id=directive_id,
                                   units=[receipt["to_unit"]], details={"receipt": receipt["id"],
                                   "person": receipt["to_person"], "answer": answer})  # fmt: skip
            directive_store.log(
                cur, directive_id, None, now, principal.actor, "send", "", {"to": receivers, "relays": relays}
            )
            if relays is not None:  # relaying it is receiving it: a signature too
                relayed = directive_store.receipt(cur, relays)
                if relayed["forwarded_as"] is not None:
                    raise DirectiveError(f"receipt {relays} was forwarded already", "done")
                signed = {} if relayed["signed_at"] else {"signed_at": now, "signed_by": principal.name}
                read = {} if relayed["read_at"] else {"read_at": now, "read_by": principal.name}
                directive_store.update_receipt(cur, relays, {"forwarded_as": directive_id, **signed, **read})
                directive_store.log(cur, parent, relays, now, principal.actor, "forward", "", {"as": directive_id})
        return directive_id

    def _receivers(self, principal: Principal, receivers: list[str], direct: bool) -> list[tuple[str, str | None]]:
        """The (unit, person) pairs asked for: units below the principal's and their people (a forward: the units
        one level below, and its own people); DirectiveError naming the first that is not."""
        below = self.below(principal.unit, direct)
        out: list[tuple[str, str | None]] = []
        for receiver in dict.fromkeys(receivers):
            unit, _, person = receiver.partition("/")
            person = person or None
            member = person is not None and (p := self.org.person(person)) is not None and p.unit == unit
            people_of = (principal.unit,) if direct else (*below, principal.unit)  # a relay: its own people only
            if (person is None and unit not in below) or (person is not None and unit not in people_of):
                raise DirectiveError(f"{receiver} is not below {principal.unit}", "receivers")
            if person is not None and not member:
                raise DirectiveError(f"{person} does not work for {unit}", "receivers")
            out.append((unit, person))
        if not out:
            raise DirectiveError("a directive goes to one receiver at least", "receivers")
        return out

    def below(self, unit_id: str, direct: bool) -> set[str]:
        """The units a unit may send to: all below it, or (`direct`, a forward) those one level down."""
        found, frontier = set(), [unit_id]
        while frontier:
            step = [u.id for parent in frontier for u in self.org.below(parent)]
            found.update(step)
            frontier = [] if direct else step
        return found

    # -- receiving -----------------------------------------------------------------------------------------------

    def read(self, principal: Principal, receipt_id: int, now: datetime) -> dict:
        """The receiver opened it: read, the first time."""
        return self._step(principal, receipt_id, "read", now, None)

    def sign(self, principal: Principal, receipt_id: int, now: datetime, audit: Trail | None) -> dict:
        return self._step(principal, receipt_id, "sign", now, audit)

    def reply(self, principal: Principal, receipt_id: int, now: datetime, audit: Trail | None, text: str = "",
              figure: float | None = None, attachments: tuple[Photo, ...] = ()) -> dict:  # fmt: skip
        return self._step(principal, receipt_id, "reply", now, audit, text.strip(), figure, attachments)

    def _step(self, principal: Principal, receipt_id: int, action: str, now: datetime, audit: Trail | None,
              text: str = "", figure: float | None = None, attachments: tuple[Photo, ...] = ()) -> dict:  # fmt: skip
        def work() -> dict:
            return retrying(lambda: self._stepped(principal, receipt_id, action, now, text, figure, attachments))

        receipt = attempted(audit, principal.actor, principal.role, f"directive {action}", f"receipt {receipt_id}",
                            work, DirectiveError)  # fmt: skip
        self.store.bump_version("handling")
        return receipt

    def _stepped(self, principal: Principal, receipt_id: int, action: str, now: datetime, text: str,
                 figure: float | None, attachments: tuple[Photo, ...]) -> dict:  # fmt: skip
        cur = self.store.cursor()
        with transaction(cur):
            receipt = directive_store.receipt(cur, receipt_id)
            if receipt is None or not self.receives(principal, receipt):
                raise DirectiveError(f"there is no directive receipt {receipt_id} for this principal", "missing")
            directive = directive_store.get(cur, receipt["directive_id"])
            fields: dict = {}
            if receipt["read_at"] is None:
                fields.update(read_at=now, read_by=principal.name)
            if action == "sign" and receipt["signed_at"] is None:
                fields.update(signed_at=now, signed_by=principal.name)
            if action == "reply":
                if directive["answer"] not in ("reply", "figure"):
                    raise DirectiveError(f"this directive asks to {directive['answer']}, not for a reply", "answer")
                if receipt["replied_at"] is not None:
                    raise DirectiveError(f"receipt {receipt_id} was answered already", "done")
                if directive["answer"] == "figure" and (figure is None or not math.isfinite(figure)):
                    raise DirectiveError("this directive asks for a figure", "answer")
                if directive["answer"] != "figure" and not text:
                    raise DirectiveError("a reply says something", "text")
                if len(text) > BODY_MAX:
                    raise DirectiveError(f"a reply has {BODY_MAX} characters at most", "text")
                fields.update(replied_at=now, replied_by=principal.name, reply=text, figure=figure,
                              reply_attachments=[a.id for a in attachments])  # fmt: skip
                _keep_files(cur, directive["id"], receipt_id, attachments, principal.name, now)
                if receipt["signed_at"] is None:
                    fields.update(signed_at=now, signed_by=principal.name)  # an answer is a signature too
            if fields:
                directive_store.update_receipt(cur, receipt_id, fields)
                directive_store.log(cur, directive["id"], receipt_id, now, principal.actor, action, text[:500],
                     {"figure": figure} if figure is not None else {})  # fmt: skip
            return directive_store.receipt(cur, receipt_id)

    def receives(self, principal: Principal, receipt: dict) -> bool:
        if receipt["to_person"] is not None:
            return principal.name == receipt["to_person"]
        return principal.unit == receipt["to_unit"] and self.org.whole_unit(principal.role, principal.unit)

    def sees_file(self, principal: Principal, row: dict) -> bool:
        """A file (directive_files' row) for its sender's chain, and for the directive's receivers when it came with
        the directive (a reply's file is for its sender's chain and the one who replied)."""
        cur = self.store.cursor()
        directive = directive_store.get(cur, row["directive_id"])
        if directive is None:
            return False
        if self.sees_sent(principal, directive):
            return True
        receipts = directive_store.receipts(cur, directive["id"])
        return any(self.receives(principal, r) for r in receipts
                   if row["receipt_id"] is None or r["id"] == row["receipt_id"])  # fmt: skip

    def sees_sent(self, principal: Principal, directive: dict) -> bool:
        """The sender's unit, or one above it (the city sees the tree its districts forwarded), whole-unit people
        only (a centre's field worker does not read its centre's correspondence)."""
        return self.org.whole_unit(principal.role, principal.unit) and any(
            u.id == principal.unit for u in self.org.chain(directive["from_unit"])
        )

    # -- following -----------------------------------------------------------------------------------------------

    def standing(self, directive_id: int, now: datetime) -> list[Standing]:
        cur = self.store.cursor()
        directive = directive_store.get(cur, directive_id)
        out = []
        for receipt in directive_store.receipts(cur, directive_id):
            done = receipt[OWED[directive["answer"]]] is not None
            late = not done and directive["deadline"] is not None and now > directive["deadline"]
            out.append(Standing(receipt, done, late, receipt["forwarded_as"]))
        return out

    def tree(self, directive_id: int, now: datetime) -> dict:
        """The directive, where each receiver stands, and the directives forwarded from it, down the tree."""
        cur = self.store.cursor()
        return {
            "directive": directive_store.get(cur, directive_id),
            "standing": self.standing(directive_id, now),
            "forwarded": [self.tree(d["id"], now) for d in directive_store.forwarded(cur, directive_id)],
        }

    def chase(self, principal: Principal, directive_id: int, now: datetime, audit: Trail | None) -> list[int]:
        """Chase (催办) the receivers who are late: each is told again, and the chase recorded; their receipts."""

        def work() -> list[int]:
            return retrying(lambda: self._chase(principal, directive_id, now))

        target = f"directive {directive_id}"
        chased = attempted(audit, principal.actor, principal.role, "directive chase", target, work, DirectiveError,
                           done=lambda c: (target, f"{len(c)} late"))  # fmt: skip
        self.store.bump_version("handling")
        return chased

    def _chase(self, principal: Principal, directive_id: int, now: datetime) -> list[int]:
        cur = self.store.cursor()
        with transaction(cur):
            directive = directive_store.get(cur, directive_id)
            if directive is None or directive["from_unit"] != principal.unit or not principal.can("act"):
                raise DirectiveError(f"there is no directive {directive_id} of this principal's unit", "missing")
            late = [s.receipt for s in self.standing(directive_id, now) if s.late]
            for receipt in late:
                n = receipt["chased"] + 1
                directive_store.update_receipt(cur, receipt["id"], {"chased": n, "chased_at": now})
                notifications.tell(cur, key=f"directive:{directive_id}:{receipt['id']}:chase:{n}", event="chase",
                                   now=now, title_zh=directive["title"], title_en=directive["title"],
                                   directive_id=directive_id, units=[receipt["to_unit"]],
                                   details={"receipt": receipt["id"], "chase": n})  # fmt: skip
                directive_store.log(cur, directive_id, receipt["id"], now, principal.actor, "chase", "", {"chase": n})
            return [r["id"] for r in late]


def _keep_files(cur, directive_id: int, receipt_id: int | None, files: tuple[Photo, ...], who: str,
                now: datetime) -> None:  # fmt: skip
    for f in files:
        directive_store.add_file(cur, {"id": f.id, "directive_id": directive_id, "receipt_id": receipt_id,
                                       "media_type": f.media_type, "bytes": f.bytes, "name": f.name,
                                       "uploaded_by": who, "uploaded_at": now})  # fmt: skip
