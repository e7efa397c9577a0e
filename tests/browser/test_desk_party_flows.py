"""The desk, the supplier's phone and the customer's phone as a new user meets them, in English and Chinese:
the next step after the party is settled, one answer form, the tracking page and its revisits; axe-core on each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.services import case_move
from app.collaboration import links
from app.collaboration import services as collaboration
from app.collaboration.tables import AccessLink
from app.db import atomic
from app.trade.tables import Supplier
from tests.browser import test_accessibility as accessibility
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_collaboration import supplier_case
from tests.integration.test_tracking import agreed_case, customer_link

pytestmark = pytest.mark.browser

# Browser contexts that let axe-core's file in (the pages are the same; see the accessibility tests).
open_context = accessibility.open_context
PHONE, DESKTOP = accessibility.PHONE, accessibility.DESKTOP

WORDS = {
    "en": {
        "next": "Next: send the claim to Supplier SUP-EN.",
        "wait": "Next: Supplier SUP-EN answers the claim.",
        "part": "Accept in part",
        "share": "accepted in part: 40%",
        "zone": "Central European",
        "now": "Now: We put it right",
        "contact": "Questions? Contact us",
        "remedy": "Partial refund",
    },
    "zh": {
        "next": "下一步：向Supplier SUP-ZH发出索赔。",
        "wait": "下一步：等待Supplier SUP-ZH答复索赔。",
        "part": "部分接受",
        "share": "部分接受：40%",
        "zone": "中欧",
        "now": "当前： 正在解决",
        "contact": "有疑问？请联系我们",
        "remedy": "部分退款",
    },
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_handler_settles_the_party_and_is_led_to_send_the_claim(
    open_context: Any, make_user: Any, language: str
) -> None:
    words = WORDS[language]
    handler = await make_user("handler", language=language)
    case = await supplier_case(code=f"SUP-{language.upper()}", email=f"qa@{language}.supplier.cn", language="en")
    desk = await open_context(DESKTOP)
    await sign_in_page(desk, handler.email, PASSWORD)
    await desk.goto(f"/cases/{case.number}")
    await expect(desk.locator("#next-step")).to_have_count(0)

    await desk.click("#hint-override summary")
    await desk.select_option("#override-party", "supplier")
    await desk.fill("#override-reason", "Cracks under intact packaging")
    await desk.click("#override-submit")
    step = desk.locator("#next-step")
    await expect(step).to_have_attribute("data-kind", "push")
    await expect(step).to_contain_text(words["next"])
    await expect(desk.locator("#case-node")).to_have_attribute("data-node", "reported")  # moves when sent
    assert await accessibility.axe_violations(desk) == []

    # The step's action opens the push form for that supplier; what we ask for is not chosen for the handler.
    await desk.click("#next-step-push")
    form = desk.locator("details[data-opened-for=supplier] #push-form")  # the panel as the step opened it
    await expect(form).to_be_in_viewport()
    assert await desk.input_value("#push-party") == "supplier"
    assert await desk.input_value("#push-requirement") == ""
    await desk.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
    await desk.click("#push")
    assert await desk.evaluate("() => document.querySelector('#push-requirement').validity.valueMissing")
    assert await AccessLink.count().where(AccessLink.case == case.id) == 0
    await desk.select_option("#push-requirement", "replacement")
    await desk.click("#push")
    await desk.wait_for_selector("#links li[data-live='true']")
    # The note follows the case without a reload: the claim went out, their answer is awaited.
    await expect(step).to_have_attribute("data-kind", "wait", timeout=10000)
    await expect(step).to_contain_text(words["wait"])
    await expect(desk.locator("#case-node")).to_have_attribute("data-node", "responsibility")
    await desk.screenshot(path=screenshot_path(f"next-step-{language}-1280"), full_page=True)
    assert await accessibility.axe_violations(desk) == []


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_supplier_answers_and_proposes_in_one_form_on_a_phone(
    open_context: Any, make_user: Any, language: str
) -> None:
    words = WORDS[language]
    case = await supplier_case(code=f"SUP-{language.upper()}", email=f"qa@{language}.supplier.cn", language=language)
    await Supplier.update({Supplier.time_zone: "Europe/Berlin"}).where(Supplier.code == f"SUP-{language.upper()}")
    await case_move(actor=Actor.system(), number=case.number, target="responsibility")
    handler = await make_user("handler", name="Hao Li", language=language)
    await collaboration.message_post(
        actor=Actor(kind="user", id=str(handler.id), label="Hao Li"),
        case_id=case.id,
        party="supplier",
        body="Please see the photos",
    )
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case.id, party="supplier", email=f"qa@{language}.supplier.cn", language=language,
            now=datetime.now(UTC),
        )  # fmt: skip
    phone = await open_context(PHONE)
    await phone.goto(f"/l/{token}")
    await phone.click("#continue")
    await phone.wait_for_selector("#party-case")

    # One form for the answer and the plan: nothing folded away, the choices big enough for a thumb.
    form = phone.locator("#respond-form")
    await expect(form.locator("#remedy")).to_be_visible()
    await expect(form.locator("#send-answer")).to_have_count(1)
    await expect(phone.locator("#party-case details")).to_have_count(0)
    for box in [await label.bounding_box() for label in await phone.locator("#answer-choices label.choice").all()]:
        assert box is not None and box["height"] >= 44 and box["width"] >= 44, box
    assert await accessibility.small_targets(phone) == []
    # Every time on the page is on the supplier's clock and says which; a message is signed by a name.
    times = await phone.locator("#party-case time").all_inner_texts()
    assert times and all(words["zone"] in text for text in times), times
    await expect(phone.locator("#msgs-supplier .author")).to_have_text(["Hao Li"])
    assert await accessibility.axe_violations(phone) == []

    await phone.locator("#answer-choices label.choice", has_text=words["part"]).click()
    await phone.fill("#share", "40")
    await phone.select_option("#remedy", "partial_refund")
    await phone.fill("#amount", "480")
    await phone.fill("#currency", "EUR")
    await phone.fill("#details", "40% of the invoice")
    await phone.click("#send-answer")
    await phone.wait_for_selector("#party-respond p[data-response='accept_part']")
    await expect(phone.locator("#proposals li[data-by='supplier']")).to_have_count(1)
    await phone.screenshot(path=screenshot_path(f"party-one-form-{language}-375"), full_page=True)
    assert await accessibility.axe_violations(phone) == []

    # The handler's timeline shows the share and the amount.
    desk = await open_context(DESKTOP)
    await sign_in_page(desk, handler.email, PASSWORD)
    await desk.goto(f"/cases/{case.number}")
    await expect(desk.locator("#timeline li[data-kind=party_response] .outcome")).to_have_text(words["share"])
    await expect(desk.locator("#timeline li[data-kind=plan_proposed] .plan-terms")).to_contain_text("€480.00")


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_customer_reads_plain_words_and_comes_back_to_the_page(open_context: Any, language: str) -> None:
    words = WORDS[language]
    case = await agreed_case(with_customer=False)  # the plan is being carried out
    _link, token = await customer_link(case.id, language=language)
    phone = await open_context(PHONE)
    await phone.goto(f"/t/{token}")
    assert token not in phone.url and phone.url.endswith("/track")  # what a bookmark made now keeps
    await phone.click("#continue")
    await phone.wait_for_selector("#customer-track")
    steps = " ".join(await phone.locator("ol.progress li").all_inner_texts())
    assert "Responsibility" not in steps and "Implementation" not in steps, steps
    await expect(phone.locator("#customer-step")).to_have_text(words["now"])
    await expect(phone.locator("#resolution-remedy")).to_have_text(words["remedy"])
    await expect(phone.locator("#resolution-amount")).to_have_text("€640.00")
    await expect(phone.locator("#customer-contact-title")).to_have_text(words["contact"])
    await expect(phone.locator("#contact-email")).to_have_text("claims@crossclaim.localhost")
    await phone.screenshot(path=screenshot_path(f"tracking-{language}-375"), full_page=True)
    assert await accessibility.axe_violations(phone) == []

    # A revisit, a bookmark of the page, or of the address the old page left behind: the page, not an error.
    again = await phone.context.new_page()
    for address in ("/track", "/t/opened"):
        await again.goto(address)
        await expect(again.locator("#customer-track")).to_be_visible()
        await expect(again.locator("#link-invalid")).to_have_count(0)
        assert again.url.endswith("/track")
    assert token not in " ".join(p.url for p in phone.context.pages)
