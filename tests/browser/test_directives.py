"""Directives in Chromium (issue 24): the city sends one to three districts, one relays it to two of its towns with
its own additions, receivers answer with a figure, and the sender's page shows the tree of receipts right at each
step, then chases the late ones with one action. Each step by its own account on the real app."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.harness import signed_in, wait_until, wall_display
from tests.unit.test_attachments import pdf

pytestmark = pytest.mark.browser


def open_directive(page, port: int, title: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/inbox?lang=en")
    page.locator(".inbox-section", has_text="Directives to answer").get_by_role("link", name=title).click()
    page.wait_for_url(re.compile(r"/inbox/receipt/\d+"))


@pytest.mark.app_config(org=True)
def test_a_directive_down_two_levels_with_its_tree_of_receipts_and_a_chase(app, chromium, output_dir):
    title = "报送下穿隧道积水点位"
    city = signed_in(chromium, app, "duty", viewport={"width": 1366, "height": 900})
    city.goto(f"http://127.0.0.1:{app}/inbox?lang=en")
    city.get_by_role("link", name="New directive").click()
    city.fill("input[name=title]", title)
    city.fill("textarea[name=body]", "各区于18:00前报送积水点位数量")
    city.select_option("select[name=answer]", "figure")
    city.fill("input[name=figure_unit]", "处")
    past = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")  # due already: the late are late
    city.fill("input[name=deadline]", past)
    for unit in ("d130606", "d130602", "d130609"):
        city.check(f"input[name=to][value={unit}]")
    city.set_input_files("input[name=files]", files=[{"name": "积水点位表.pdf", "mimeType": "application/pdf",
                                                       "buffer": pdf()}])  # fmt: skip
    city.click("button.act-send")
    city.wait_for_url(re.compile(r"/inbox/directive/\d+"))
    sent = city.url.split("?")[0]
    assert city.locator(".directive-counts").inner_text() == "0/3 signed · 0/3 replied"
    assert city.locator("meta[http-equiv=refresh]").get_attribute("content") == "15"  # the sender's page is live

    # 莲池区 relays it to two of its towns with its own additions.
    lianchi = signed_in(chromium, app, "duty-130606", viewport={"width": 1366, "height": 900})
    open_directive(lianchi, app, title)
    attached = lianchi.get_by_role("link", name="积水点位表.pdf")
    href = f"http://127.0.0.1:{app}{attached.get_attribute('href')}"
    answer = lianchi.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf" and answer.body() == pdf()
    lianchi.check("input[name=to][value=t130606009]")
    lianchi.check("input[name=to][value=t130606002]")
    lianchi.fill("textarea[name=additions]", "永华、五四路街道务必核实地道桥")
    lianchi.click("button.act-forward")
    lianchi.wait_for_url(re.compile(r"/inbox/directive/\d+"))
    assert lianchi.locator(".directive-body").inner_text().startswith("永华、五四路街道务必核实地道桥")

    # A town answers with its figure; 竞秀区 answers too; 徐水区 does nothing.
    for account, figure in (("duty-130606009", "3"), ("duty-130602", "0")):
        page = signed_in(chromium, app, account, viewport={"width": 390, "height": 844}, has_touch=True,
                         is_mobile=True)  # fmt: skip
        open_directive(page, app, title)
        page.fill("input[name=figure]", figure)
        page.click("button.act-reply")
        wait_until(lambda p=page: p.locator("input[name=figure]").count() == 0, 10, f"{account}'s answer taken")

    city.goto(f"{sent}?lang=en")
    assert city.locator(".directive-counts").inner_text() == "2/3 signed · 1/3 replied"
    wall = wall_display(chromium, app, viewport={"width": 1920, "height": 1080})
    wall.goto(f"http://127.0.0.1:{app}/wall?lang=en")
    wait_until(
        lambda: "Directives today: 2/3 signed · 1/3 replied" in wall.locator("#wall-silences").inner_text(),
        15,
        "today's directives on the wall (the towns' receipts of the relay not counted twice)",
    )
    tree = city.locator(".directive-tree").first.inner_text()
    assert re.search(r"Lianchi District Centre delivered · read · signed · forwarded · late", tree), tree
    assert re.search(r"Jingxiu District Centre delivered · read · signed · replied: 0", tree), tree
    assert re.search(r"Xushui District Centre delivered · late", tree), tree
    assert re.search(r"Yonghua Subdistrict Centre delivered · read · signed · replied: 3", tree), tree
    assert re.search(r"Wusilu Subdistrict Centre delivered · late", tree), tree

    (output_dir / "screenshots").mkdir(exist_ok=True)
    city.screenshot(path=output_dir / "screenshots" / "directive-sender.png", full_page=True)
    city.click("button.act-chase")
    wait_until(lambda: "chased" in city.locator(".inbox-timeline").inner_text(), 10, "the chase in the log")
    assert city.locator(".inbox-timeline").inner_text().count("chased") == 2  # 莲池区 (its figure owed), 徐水区
    # Another district's officer cannot open the city's page of it.
    other = signed_in(chromium, app, "duty-130609", viewport={"width": 1366, "height": 900})
    assert other.goto(sent).status == 404
    outsider = signed_in(chromium, app, "duty-130623", viewport={"width": 1366, "height": 900})
    assert outsider.request.get(href).status == 404  # the file too: not a receiver, not above the sender

    # Searchable: the city finds it by a word of its text; 莲池区 by its title, answered or not; nothing else.
    city.goto(f"http://127.0.0.1:{app}/inbox?lang=en")
    city.fill("input[name=q]", "积水点位数量")
    city.click(".inbox-search button")
    city.wait_for_url(re.compile(r"q="))
    assert city.locator(".inbox-section", has_text="Directives sent").get_by_role("link", name=title).count() == 1
    lianchi.goto(f"http://127.0.0.1:{app}/inbox?lang=en&q=%E9%9A%A7%E9%81%93")  # 隧道
    assert lianchi.locator(".inbox-section", has_text="Directives found").get_by_role("link", name=title).count() == 1
    lianchi.goto(f"http://127.0.0.1:{app}/inbox?lang=en&q=%25")  # a literal %, not a wildcard
    assert lianchi.locator(".inbox-row").count() == 0
