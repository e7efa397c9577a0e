"""A handler reads a transit-damage hint, answers a question it asks, and overrides it — in real Chromium."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.responsibility import hint_refresh, json_object
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def test_handler_reads_the_hint_settles_a_fact_and_overrides_it(page: Any, make_user: Any) -> None:
    user = await make_user("handler", name="Hao")
    today = datetime.now(UTC).date()
    delivered = today - timedelta(days=2)
    created = await case_create(
        actor=Actor.system(),
        draft=CaseDraft(
            problem_type="transit_damage",
            order_number="PO-ROAD-7",
            description="Cartons looked fine; the lamps inside are cracked.",
            facts={
                "incoterm": "FOB",
                "transport_mode": "road",
                "delivered_on": delivered.isoformat(),
                "damage_noted_on_receipt": False,
                "outer_packaging": "intact",
            },
        ),
    )
    case = await hint_refresh(case_id=created.case.id, actor=Actor.system(), today=today)
    cmr = next(d for d in case.hint["deadlines"] if d["regime"] == "CMR" and d["kind"] == "non_apparent_damage")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(page, user.email, PASSWORD)
    await page.goto(f"/cases/{case.number}")

    # The hint: no party yet, with its basis, a CMR countdown and the questions that would settle it.
    hint = page.locator("#hint")
    await expect(hint.locator("#hint-party")).to_have_attribute("data-party", "undetermined")
    await expect(hint.locator("#hint-basis")).to_contain_text("CMR Art. 30(1)")
    countdown = hint.locator('.countdown[data-regime="CMR"][data-kind="non_apparent_damage"]')
    await expect(countdown).to_contain_text("days left")
    await expect(countdown.locator("time")).to_have_attribute("datetime", cmr["due"])
    question = hint.locator('#hint-missing li[data-name="shock_indicator_tripped"] a')
    await expect(question).to_contain_text("shock or tilt indicator")
    # caret="initial": hiding carets leaves style="" on inputs, which htmx's settle would then copy (a CSP error).
    await page.screenshot(path=screenshot_path("hint-undetermined-1280"), full_page=True, caret="initial")

    # Following the question leads to its field; answering it swaps the region with a new hint.
    await question.click()
    await expect(page.locator("#fact-shock_indicator_tripped")).to_be_visible()
    await page.select_option("#fact-shock_indicator_tripped", "yes")
    await page.click("#facts-save")
    await expect(page.locator("#hint-party")).to_have_attribute("data-party", "carrier")
    await expect(page.locator("#hint-notice")).to_be_visible()
    await expect(page.locator("#hint-rules")).to_contain_text("transit.shock_indicator_post")
    await expect(page.locator("#hint-basis")).to_contain_text("CMR Art. 17(1)")
    # The timeline heard the change and reloaded itself.
    await expect(page.locator("#timeline li[data-kind=facts_changed]")).to_have_count(1)
    assert page.url.split("#")[0].endswith(f"/cases/{case.number}")  # no navigation: htmx swapped the region

    # Overriding without a reason is refused in place; with one it is recorded and shown.
    await page.click("#hint-override summary")
    await page.select_option("#override-party", "supplier")
    await page.click("#override-submit")
    await expect(page.locator("#override-error")).to_contain_text("needs a reason")
    await page.fill("#override-reason", "Lamps were packed without inner dividers; see the supplier's packing photos.")
    await page.click("#override-submit")
    await expect(page.locator("#hint-settled")).to_have_attribute("data-party", "supplier")
    await expect(page.locator("#hint-moved")).to_be_visible()
    await expect(page.locator("#timeline li[data-kind=responsibility_overridden]")).to_have_count(1)
    await expect(page.locator("#timeline")).to_contain_text("inner dividers")
    await page.screenshot(path=screenshot_path("hint-overridden-1280"), full_page=True)

    stored = await Case.objects().where(Case.id == case.id).output(load_json=True).first()
    assert stored.suggested_party == "carrier" and stored.confirmed_party == "supplier"
    event = (
        await CaseEvent.objects()
        .where((CaseEvent.case == case.id) & (CaseEvent.kind == "responsibility_overridden"))
        .first()
    )
    data = json_object(event.data)
    assert data["hint"]["party"] == "carrier" and data["hint"]["rule_ids"][0] == "transit.shock_indicator_post"
    assert event.actor_label == "Hao"
    assert errors == []


async def test_a_claim_at_risk_reads_in_chinese_after_switching_language(page: Any, make_user: Any) -> None:
    user = await make_user("handler", name="Mei")
    today = datetime.now(UTC).date()
    # Air freight delivered 30 days ago, no notice sent: Montreal's 14 days have run out.
    created = await case_create(
        actor=Actor.system(),
        draft=CaseDraft(
            problem_type="transit_damage",
            facts={
                "incoterm": "FOB",
                "transport_mode": "air",
                "delivered_on": (today - timedelta(days=30)).isoformat(),
            },
        ),
    )
    case = await hint_refresh(case_id=created.case.id, actor=Actor.system(), today=today)
    due = date.fromisoformat(
        next(d["due"] for d in case.hint["deadlines"] if d["kind"] == "non_apparent_damage" and d["status"] == "passed")
    )
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto(f"/cases/{case.number}")
    risk = page.locator("#hint-warnings li.notice-error").filter(has_text="non-apparent damage")
    await expect(risk).to_contain_text(f"claim at risk: carrier notice due {format_date(due, 'd MMM y', locale='en')}")

    await page.select_option("#language", "zh")
    await page.click("form[action='/language'] button[type=submit]")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    risk = page.locator("#hint-warnings li.notice-error").filter(has_text="隐蔽损坏")
    await expect(risk).to_contain_text(
        f"索赔有风险：向承运人发出通知的期限 {format_date(due, 'y年M月d日', locale='zh')} 已过"
    )
    await expect(risk).to_contain_text("1999年《蒙特利尔公约》")
    await expect(page.locator("#hint-warnings")).not_to_contain_text("claim at risk")
    await page.locator("#hint-warnings").screenshot(path=screenshot_path("hint-warnings-zh"))


async def test_handler_sees_the_likely_party_the_question_that_would_change_it_and_precedent(
    page: Any, make_user: Any
) -> None:
    from app.cases.responsibility import party_confirm
    from app.trade.tables import Carrier, PurchaseOrder, Supplier

    user = await make_user("handler", name="Lin")
    today = datetime.now(UTC).date()
    supplier = await Supplier.objects().create(code="SUP-LAMP", name="Lamp Works")
    carrier = await Carrier.objects().create(code="CAR-ROAD", name="EuroRoad")
    order = await PurchaseOrder.objects().create(
        number="PO-ROAD-9",
        supplier=supplier.id,
        carrier=carrier.id,
        incoterm="FOB",
        transport_mode="road",
        delivered_on=today - timedelta(days=2),
    )
    visible = {"damage_noted_on_receipt": True, "outer_packaging": "damaged"}
    # Two closed cases like this one, both settled on the carrier.
    earlier = []
    for _ in range(2):
        made = await case_create(
            actor=Actor.system(),
            draft=CaseDraft(problem_type="transit_damage", facts=visible, purchase_order_id=order.id),
        )
        await hint_refresh(case_id=made.case.id, actor=Actor.system(), today=today)
        await party_confirm(actor=Actor.system(), number=made.case.number, party="carrier", reason="Noted on the CMR")
        await Case.update({Case.node: "closed", Case.closed_at: datetime.now(UTC)}).where(Case.id == made.case.id)
        earlier.append(made.case.number)
    created = await case_create(
        actor=Actor.system(),
        draft=CaseDraft(
            problem_type="transit_damage",
            facts=visible,
            purchase_order_id=order.id,
            description="Crushed cartons, noted on the CMR.",
        ),
    )
    case = await hint_refresh(case_id=created.case.id, actor=Actor.system(), today=today)
    preview = {tuple(e["answers"]): e for e in case.hint["missing_facts"][0]["effects"]}
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(page, user.email, PASSWORD)
    await page.goto(f"/cases/{case.number}")

    # One fact is still unknown, yet the panel names the likely party with an honest, weak confidence.
    hint = page.locator("#hint")
    await expect(hint.locator("#hint-party")).to_have_attribute("data-party", "carrier")
    await expect(hint.locator("#hint-confidence")).to_have_attribute("data-reading", "likely")
    await expect(hint.locator("#hint-confidence")).to_contain_text("likely")
    await expect(hint.locator("#hint-basis")).to_contain_text("CMR Art. 17(1)")
    await expect(hint.locator("#hint-ranking [data-party=supplier]")).to_be_visible()
    # The question that could change it most comes first, each answer's effect previewed.
    top = hint.locator("#hint-top-question")
    await expect(top).to_have_attribute("data-name", "packaging_adequate")
    no = round(preview[(False,)]["confidence"] * 100)
    await expect(top.locator(".answer-previews li[data-party=supplier]")).to_have_text(f"if No → Supplier {no}%")
    await expect(top.locator(".answer-previews li[data-party=carrier]")).to_contain_text("if Yes → Carrier")
    # Precedent, apart from the basis, linked to the cases it counts.
    precedent = hint.locator("#hint-precedent")
    await expect(precedent).to_contain_text("In 2 similar closed cases")
    await expect(precedent.locator("[data-party=carrier]")).to_have_attribute("data-count", "2")
    await expect(precedent.locator("a")).to_have_count(2)
    await page.screenshot(path=screenshot_path("hint-likely-1280"), full_page=True, caret="initial")

    # Answering the top question as previewed moves the hint exactly as the preview said.
    await top.locator("a").click()
    await page.select_option("#fact-packaging_adequate", "no")
    await page.click("#facts-save")
    await expect(page.locator("#hint-party")).to_have_attribute("data-party", "supplier")
    await expect(page.locator("#hint-confidence")).to_have_attribute(
        "data-confidence", str(preview[(False,)]["confidence"])
    )
    await expect(page.locator("#hint-rules")).to_contain_text("packaging.unfit_for_mode")

    # The precedent's links lead to the earlier cases.
    await page.locator("#hint-precedent a", has_text=earlier[0]).click()
    await expect(page).to_have_url(f"/cases/{earlier[0]}")
    assert errors == []
