"""The board in real Chromium: clocks by node, colours by time left, htmx filters, the bell, the deadlines panel."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.notify.inapp import notify_users
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def test_handler_reads_the_board_filters_it_and_opens_a_case(page: Any, make_user: Any) -> None:
    user = await make_user("handler", name="Hao")
    now = datetime.now(UTC)
    late = await case_create(
        actor=Actor.system(),
        draft=CaseDraft(problem_type="quality_defect", assignee_id=user.id),
        now=now - timedelta(days=10),
    )
    fresh = await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="transit_damage"), now=now)
    await notify_users([(user.id, late.case.id, f"Case {late.case.number} is overdue")], now=now)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(page, user.email, PASSWORD)
    await page.click("nav.mainnav a[href='/board']")
    await page.wait_for_url("**/board")
    await expect(page.locator(".board-card")).to_have_count(2)
    late_card = page.locator(f'.board-card[data-case="{late.case.number}"]')
    fresh_card = page.locator(f'.board-card[data-case="{fresh.case.number}"]')
    await expect(late_card).to_have_class("board-card time-late")
    await expect(fresh_card).to_have_class("board-card time-ok")
    late_colour = await late_card.evaluate("e => getComputedStyle(e).borderLeftColor")
    fresh_colour = await fresh_card.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert late_colour != fresh_colour
    await expect(late_card.locator(".assignee")).to_have_text("Hao")
    # The bell loads itself and shows the unread count.
    await expect(page.locator("#bell-count")).to_have_text("1")
    await page.screenshot(path=screenshot_path("board-1280"), full_page=True)

    await page.check("input[name=overdue]")
    await expect(page.locator(".board-card")).to_have_count(1)
    assert "overdue=true" in page.url
    await page.uncheck("input[name=overdue]")
    await expect(page.locator(".board-card")).to_have_count(2)
    await page.check("input[name=mine]")
    await expect(page.locator(".board-card")).to_have_count(1)

    await late_card.locator("a").click()
    await page.wait_for_selector("#case-node")
    # The deadlines panel is a shell that loads itself with htmx.
    await expect(page.locator("#deadlines-panel tbody tr")).to_have_count(1)
    await expect(page.locator("#deadlines-panel tbody tr .late-flag")).to_have_count(1)
    assert errors == []
