"""A handler signs in, finds a case, moves it with htmx, and signs out — in real Chromium."""

from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def test_handler_filters_opens_and_moves_a_case(page: Any, make_user: Any) -> None:
    user = await make_user("handler", name="Hao")
    damaged = await case_create(
        actor=Actor.system(), draft=CaseDraft(problem_type="transit_damage", order_number="PO-DMG-1")
    )
    await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="quality_defect", order_number="PO-QD-1"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # htmx logs refused requests (the 409 below) as console errors; CSP violations are what matter here.
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(page, user.email, PASSWORD)
    assert page.url.endswith("/cases")
    assert await page.locator("#case-rows tr").count() == 2

    # The filter is an htmx form: choosing a problem type swaps only the results and pushes the URL.
    await page.select_option("#problem_type", "transit_damage")
    await expect(page.locator("#case-rows tr")).to_have_count(1)
    assert "problem_type=transit_damage" in page.url
    await page.screenshot(path=screenshot_path("case-list-1280"), full_page=True)

    await page.click(f"text={damaged.case.number}")
    await page.wait_for_selector("#case-node")
    await page.select_option("#target", "responsibility")
    await page.click("form[hx-post$='/move'] button.primary")
    await expect(page.locator("#case-node")).to_have_attribute("data-node", "responsibility")
    # A refused move shows its reason in the message region, and the page stays.
    await page.select_option("#target", "cancelled")
    await page.click("form[hx-post$='/move'] button.primary")
    await page.wait_for_selector("#messages .notice-error")
    assert "needs a reason" in await page.inner_text("#messages")

    stored = await Case.objects().where(Case.number == damaged.case.number).first()
    assert stored.node == "responsibility"
    kinds = await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == stored.id).order_by(CaseEvent.id)
    assert [k["kind"] for k in kinds] == ["case_reported", "node_changed"]

    await page.click("#logout-form button")
    await page.wait_for_url("**/login?logged_out=1")
    await page.goto("/cases")
    assert "/login" in page.url
    assert errors == []
