"""Agreeing a plan before responsibility is settled: the handler says who pays, or is told why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.responsibility import json_object
from app.cases.services import case_move
from app.cases.tables import CaseEvent
from app.collaboration import services
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_collaboration import supplier_case

pytestmark = pytest.mark.browser


async def test_the_handler_chooses_who_pays_when_accepting_before_responsibility_is_settled(
    browser: Any, live_server: str, make_user: Any
) -> None:
    case = await supplier_case(language="en")
    await case_move(actor=Actor.system(), number=case.number, target="responsibility")
    pushed = await services.case_push(
        actor=Actor.system(), number=case.number, party="supplier", email="qa@supplier-a.cn", language="en",
        requirement="replacement", reply_by=datetime.now(UTC).date() + timedelta(days=7),
    )  # fmt: skip
    supplier = Actor(kind="supplier", id=str(pushed.link.id), label="qa@supplier-a.cn")
    offer = await services.plan_propose(
        actor=supplier, case_id=case.id, side="supplier", party="supplier", remedy="partial_refund",
        amount=Decimal("300.00"), currency="EUR", ready_by=None, details="30% of the lot",
    )  # fmt: skip
    handler = await make_user("handler", name="Hao")
    context = await browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await sign_in_page(page, handler.email, PASSWORD)
        await page.goto(f"/cases/{case.number}")
        payer = page.locator(f"#payer-{offer.id}")
        await expect(payer).to_have_count(1)
        # Sent without a choice (the browser's own check switched off): the server says what is missing.
        await page.evaluate(f"document.getElementById('payer-{offer.id}').required = false")
        await page.click(f"#accept-plan-{offer.id}")
        await expect(page.locator(".notice-error").first).to_contain_text("choose who pays")
        assert await CaseEvent.count().where(CaseEvent.kind == "plan_agreed") == 0
        # Chosen: the plan is agreed and the timeline says who pays.
        await page.select_option(f"#payer-{offer.id}", "shared")
        await page.click(f"#accept-plan-{offer.id}")
        await page.wait_for_selector("#proposals li[data-status='accepted']")
        await expect(page.locator("#timeline li[data-kind='plan_agreed']")).to_contain_text("Who pays: Shared")
        await page.screenshot(path=screenshot_path("plan-who-pays-1280"), full_page=True)
        agreed = await CaseEvent.objects().where(CaseEvent.kind == "plan_agreed").first()
        assert json_object(agreed.data)["payer"] == "shared"
        assert errors == []
    finally:
        await page.goto("about:blank")
        await context.close()
