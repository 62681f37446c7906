"""Directives down the chain (issue 24, 政令一键直达): the city to three districts, one of which relays it to two of
its towns with its own additions; receipts, replies, a chase of the late ones, and the tree of receipts right at
each step. Each receiver sees and answers only its own; a figure is a figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.directives import DirectiveError, Directives
from alerts.org import Organisation
from cityops import DEMO_DIR
from store import directives as directive_store
from store import notifications as outbox
from tests.unit.test_chain import person

T0 = datetime(2026, 7, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org(demo_regions):
    return Organisation.load(DEMO_DIR / "org.yaml", demo_regions)


@pytest.fixture
def directives(open_store, org):
    store = open_store("d")
    yield Directives(store, org)
    store.close()


def test_the_city_to_three_districts_one_relaying_to_two_towns(directives, org):
    city, lianchi, jingxiu, xushui = (person(org, a) for a in ("duty", "duty-130606", "duty-130602", "duty-130609"))
    deadline = T0 + timedelta(hours=9)
    sent = directives.send(city, receivers=["d130606", "d130602", "d130609"], title="报送积水点位",
                           body="各区于18:00前报送下穿隧道积水情况", answer="figure", figure_unit="处",
                           deadline=deadline, now=T0, audit=None)  # fmt: skip
    receipts = {r["to_unit"]: r["id"] for r in directive_store.receipts(directives.store.cursor(), sent)}
    assert set(receipts) == {"d130606", "d130602", "d130609"}
    told = [n for n in outbox.unmatched(directives.store.cursor()) if n["event"] == "directive"]
    assert sorted(n["units"][0] for n in told) == ["d130602", "d130606", "d130609"]

    directives.read(lianchi, receipts["d130606"], T0 + timedelta(minutes=5))
    directives.sign(lianchi, receipts["d130606"], T0 + timedelta(minutes=6), audit=None)
    relayed = directives.forward(lianchi, receipts["d130606"], receivers=["t130606009", "t130606002"],
                                 additions="永华、五四路街道务必核实地道桥", now=T0 + timedelta(minutes=10),
                                 audit=None)  # fmt: skip
    towns = {r["to_unit"]: r["id"] for r in directive_store.receipts(directives.store.cursor(), relayed)}
    directives.reply(person(org, "duty-130606009"), towns["t130606009"], T0 + timedelta(hours=2), audit=None,
                     figure=3)  # fmt: skip
    with pytest.raises(DirectiveError, match="asks for a figure"):
        directives.reply(jingxiu, receipts["d130602"], T0 + timedelta(hours=3), audit=None, text="无")
    directives.reply(jingxiu, receipts["d130602"], T0 + timedelta(hours=3), audit=None, figure=0)

    # Another's receipt is not there for them; nor is a town given to the district for the city.
    for who, receipt in ((jingxiu, receipts["d130606"]), (person(org, "duty-130606009"), receipts["d130606"]),
                         (xushui, towns["t130606002"])):  # fmt: skip
        with pytest.raises(DirectiveError) as refused:
            directives.sign(who, receipt, T0, audit=None)
        assert refused.value.code == "missing"

    # After the deadline: who stands where, down the tree, and a chase of the late ones only.
    later = deadline + timedelta(minutes=1)
    tree = directives.tree(sent, later)
    standing = {s.receipt["to_unit"]: (s.done, s.late, s.forwarded) for s in tree["standing"]}
    assert standing == {"d130606": (False, True, relayed), "d130602": (True, False, None),
                        "d130609": (False, True, None)}  # fmt: skip
    [below] = tree["forwarded"]
    assert below["directive"]["body"].startswith("永华、五四路街道务必核实地道桥\n\n——\n各区于18:00前")
    assert {s.receipt["to_unit"]: (s.done, s.late) for s in below["standing"]} == {
        "t130606009": (True, False), "t130606002": (False, True)}  # fmt: skip
    assert directives.chase(city, sent, later, audit=None) == [receipts["d130606"], receipts["d130609"]]
    chases = [n for n in outbox.unmatched(directives.store.cursor()) if n["event"] == "chase"]
    assert sorted(n["units"][0] for n in chases) == ["d130606", "d130609"]
    with pytest.raises(DirectiveError):
        directives.chase(lianchi, sent, later, audit=None)  # the sender chases, not a receiver
    steps = [(e["action"], e["receipt_id"]) for e in directive_store.timeline(directives.store.cursor(), sent)]
    assert ("forward", receipts["d130606"]) in steps and steps.count(("chase", receipts["d130609"])) == 1


def test_receivers_lie_below_the_sender_and_a_forward_goes_one_level_down(directives, org):
    lianchi = person(org, "duty-130606")
    with pytest.raises(DirectiveError, match="t130602001 is not below d130606"):
        directives.send(lianchi, receivers=["t130602001"], title="x", body="y", answer="read", deadline=None,
                        now=T0, audit=None)  # fmt: skip
    to_person = directives.send(lianchi, receivers=["t130606009/grid-130606009-g01"], title="巡查", body="今晚巡查",
                                answer="sign", deadline=None, now=T0, audit=None)  # fmt: skip
    [receipt] = directive_store.receipts(directives.store.cursor(), to_person)
    assert (receipt["to_unit"], receipt["to_person"]) == ("t130606009", "grid-130606009-g01")
    with pytest.raises(DirectiveError) as refused:  # the town's officer is not the worker it was sent to
        directives.sign(person(org, "duty-130606009"), receipt["id"], T0, audit=None)
    assert refused.value.code == "missing"
    directives.sign(person(org, "grid-130606009-g01"), receipt["id"], T0, audit=None)
    city = person(org, "duty")
    sent = directives.send(city, receivers=["d130606"], title="t", body="b", answer="read", deadline=None, now=T0,
                           audit=None)  # fmt: skip
    [mine] = directive_store.receipts(directives.store.cursor(), sent)
    with pytest.raises(DirectiveError, match="is not below d130606"):  # a relay goes one level down, not two
        directives.forward(lianchi, mine["id"], receivers=["t130606009/grid-130606009-g01", "fire-130606"],
                           additions="", now=T0, audit=None)  # fmt: skip


def test_each_answer_once_and_only_the_one_asked(directives, org):
    city, lianchi = person(org, "duty"), person(org, "duty-130606")
    to_read = directives.send(city, receivers=["d130606"], title="通报", body="阅知即可", answer="read", deadline=None,
                              now=T0, audit=None)  # fmt: skip
    figure = directives.send(city, receivers=["d130606"], title="报数", body="报送人数", answer="figure",
                             deadline=None, now=T0, audit=None)  # fmt: skip
    [read_receipt] = directive_store.receipts(directives.store.cursor(), to_read)
    [figure_receipt] = directive_store.receipts(directives.store.cursor(), figure)
    with pytest.raises(DirectiveError, match="asks to read, not for a reply"):
        directives.reply(lianchi, read_receipt["id"], T0, audit=None, text="收到")
    for bad in (None, float("nan"), float("inf")):
        with pytest.raises(DirectiveError, match="asks for a figure"):
            directives.reply(lianchi, figure_receipt["id"], T0, audit=None, figure=bad)
    directives.reply(lianchi, figure_receipt["id"], T0, audit=None, figure=12)
    with pytest.raises(DirectiveError) as again:
        directives.reply(lianchi, figure_receipt["id"], T0, audit=None, figure=13)
    assert again.value.code == "done"
    directives.forward(lianchi, read_receipt["id"], receivers=["t130606009"], additions="", now=T0, audit=None)
    with pytest.raises(DirectiveError) as twice:
        directives.forward(lianchi, read_receipt["id"], receivers=["t130606002"], additions="", now=T0, audit=None)
    assert twice.value.code == "done"
    # A centre's field worker does not read the centre's correspondence; its officer and the city above do.
    sent = directive_store.get(directives.store.cursor(), figure)
    assert not directives.sees_sent(person(org, "grid-130606009-g01"), sent)
    assert directives.sees_sent(city, sent) and not directives.sees_sent(lianchi, sent)


def test_files_go_with_a_directive_and_its_reply_and_only_to_those_it_concerns(directives, org, tmp_path):
    from alerts.chain import Photo
    from store.attachments import AttachmentFiles
    from tests.unit.test_attachments import pdf

    kept = AttachmentFiles(tmp_path / "files", 1 << 20).save_document(pdf())
    notice = Photo(kept.id, kept.media_type, kept.bytes, 0, 0, "通知.pdf")
    city, lianchi = person(org, "duty"), person(org, "duty-130606")
    sent = directives.send(city, receivers=["d130606"], title="通知", body="见附件", answer="reply", deadline=None,
                           now=T0, audit=None, attachments=(notice,))  # fmt: skip
    [receipt] = directive_store.receipts(directives.store.cursor(), sent)
    relayed = directives.forward(lianchi, receipt["id"], receivers=["t130606009"], additions="", now=T0, audit=None)
    files = directive_store.files(directives.store.cursor(), relayed)
    assert [(f["id"], f["name"]) for f in files] == [(kept.id, "通知.pdf")]  # the relay carries the file on
    [row, *_] = directive_store.file_rows(directives.store.cursor(), kept.id)
    assert directives.sees_file(lianchi, row) and directives.sees_file(city, row)
    assert not directives.sees_file(person(org, "duty-130602"), row)
    assert not directives.sees_file(person(org, "grid-130606009-g01"), row)


def test_a_reply_carries_files_seen_by_the_sender_and_not_by_other_receivers(directives, org, tmp_path):
    from alerts.chain import Photo
    from store.attachments import AttachmentFiles
    from tests.unit.test_attachments import image_bytes

    kept = AttachmentFiles(tmp_path / "files", 1 << 20).save_document(image_bytes("JPEG"))
    photo = Photo(kept.id, kept.media_type, kept.bytes, kept.width, kept.height, "现场.jpg")
    city, lianchi = person(org, "duty"), person(org, "duty-130606")
    sent = directives.send(city, receivers=["d130606", "d130602"], title="核查", body="附现场照片回复",
                           answer="reply", deadline=None, now=T0, audit=None)  # fmt: skip
    mine = next(r for r in directive_store.receipts(directives.store.cursor(), sent) if r["to_unit"] == "d130606")
    answered = directives.reply(lianchi, mine["id"], T0, audit=None, text="已核查，见照片", attachments=(photo,))
    assert answered["reply_attachments"] == [kept.id]
    [row] = directive_store.file_rows(directives.store.cursor(), kept.id)
    assert (row["directive_id"], row["receipt_id"], row["name"]) == (sent, mine["id"], "现场.jpg")
    assert directives.sees_file(city, row) and directives.sees_file(lianchi, row)
    assert not directives.sees_file(person(org, "duty-130602"), row)  # another receiver: not its reply
