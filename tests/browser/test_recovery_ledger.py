"""The recovery ledger in real Chromium: a claim recorded through the htmx form appears with its ageing."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from app.analytics.tables import Recovery
from app.cases.tables import Case
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def test_a_claim_recorded_in_the_form_shows_in_the_ledger_with_its_age(page: Any, make_user: Any) -> None:
    await Case(number="AS-2026-000042", problem_type="transit_damage").save()
    user = await make_user("handler", name="Hui")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/dashboard/recoveries")
    await expect(page.locator("#recovery-totals")).to_contain_text("Nothing claimed yet.")
    # The page is not reloaded: htmx swaps the ledger in place, so this marker survives.
    await page.evaluate("() => { window.stillHere = true; }")

    form = page.locator("#recovery-form")
    await form.locator("input[name=case]").fill("AS-2026-000042")
    await form.locator("select[name=party]").select_option("carrier")
    await form.locator("select[name=kind]").select_option("insurer")
    await form.locator("input[name=claimed]").fill("12.5.0")
    await form.locator("input[name=currency]").fill("EUR")
    claimed_on = (datetime.now(UTC).date() - timedelta(days=45)).isoformat()
    await form.locator("input[name=claimed_on]").fill(claimed_on)
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#messages")).to_contain_text("Enter an amount like 1250.50")
    assert await Recovery.count() == 0

    await form.locator("input[name=claimed]").fill("800.00")
    await form.locator("input[name=recovered]").fill("300")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#recovery-recorded")).to_be_visible()
    await expect(page.locator("#messages")).to_be_empty()
    row = await Recovery.objects().first()
    line = page.locator(f"#recovery-{row.id}")
    await expect(line).to_contain_text("AS-2026-000042")
    await expect(line).to_contain_text("€500.00")
    await expect(line.locator(".age")).to_have_text("45 (31–60)")
    totals = page.locator("#recovery-totals")
    await expect(totals).to_contain_text("EUR")
    await expect(totals.locator("td[data-label='31–60']")).to_have_text("€500.00")
    assert await page.evaluate("() => window.stillHere === true")
    # The form is ready for the next claim.
    await expect(page.locator("#recovery-form input[name=claimed]")).to_have_value("")
    await page.screenshot(path=screenshot_path("recovery-ledger-1280"), full_page=True)
    assert errors == []
