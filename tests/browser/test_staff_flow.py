"""A handler signs in, finds a case, moves it with htmx, and signs out — in real Chromium."""

from typing import Any

import pytest
from playwright.async_api import expect

from app.accounts.tables import User
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


async def test_handler_gives_a_case_to_a_colleague_from_the_case_page(page: Any, make_user: Any) -> None:
    user = await make_user("handler", name="Hao")
    colleague = await make_user("handler", name="Li Wei")
    await make_user("warehouse", name="Dock worker")
    filed = await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="quality_defect"))
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto(f"/cases/{filed.case.number}")
    await expect(page.locator("#case-assignee")).to_have_text("—")
    # Only people who may handle cases are offered.
    offered = await page.locator("#assignee option").all_inner_texts()
    assert any("Li Wei" in text for text in offered) and not any("Dock worker" in text for text in offered)
    await page.select_option("#assignee", str(colleague.id))
    await page.click("#assign-form button")
    await expect(page.locator("#case-assignee")).to_have_text("Li Wei")
    # The timeline listens for the change and shows it without a reload.
    await expect(page.locator("#timeline li[data-kind='assigned']")).to_have_count(1)
    stored = await Case.objects().where(Case.number == filed.case.number).first()
    assert stored.assignee == colleague.id


async def test_an_admin_disables_a_person_from_the_account_page(page: Any, make_user: Any) -> None:
    admin = await make_user("admin", name="Ada")
    leaving = await make_user("handler", name="Leaving")
    await sign_in_page(page, admin.email, PASSWORD)
    await page.goto("/account")
    await page.click("#users-link")
    row = page.locator(f"tr[data-user='{leaving.email}']")
    await row.locator("button").click()
    await expect(page.locator("#user-changed")).to_contain_text(f"{leaving.email} is disabled.")
    await expect(row.locator("td").nth(3)).to_have_text("Disabled")
    # The admin's own row offers no button.
    assert await page.locator(f"tr[data-user='{admin.email}'] button").count() == 0
    stored = await User.objects().where(User.id == leaving.id).first()
    assert stored.active is False
