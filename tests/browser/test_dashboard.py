"""The dashboard in real Chromium: htmx filters, charts that draw, and numbers that lead to their cases."""

from typing import Any

import pytest
from playwright.async_api import expect

from app.analytics import figures
from app.analytics.filters import AnalyticsFilters
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_analytics_figures import END, START, generate

pytestmark = pytest.mark.browser


async def test_dashboard_filters_charts_and_links(page: Any, phone: Any, make_user: Any) -> None:
    data = await generate(seed=4)
    user = await make_user("manager", name="Mei")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    await sign_in_page(page, user.email, PASSWORD)

    await page.click("nav.mainnav >> text=Dashboard")
    await page.wait_for_url("**/dashboard")
    await page.goto(f"/dashboard?from={START.isoformat()}&to={END.isoformat()}")
    everything = await figures.case_totals(AnalyticsFilters(start=START, end=END))
    await expect(page.locator("#figure-cases strong")).to_have_text(str(everything["cases"]))
    # Every chart is an SVG image that the browser actually decoded (a CSP block would leave it empty).
    images = page.locator(".charts img")
    await expect(images).to_have_count(4)
    for index in range(4):
        assert await images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")

    supplier = data["suppliers"][1]
    await page.select_option("#filter-supplier", str(supplier.id))
    narrowed = await figures.case_totals(AnalyticsFilters(start=START, end=END, supplier_id=supplier.id))
    await expect(page.locator("#figure-cases strong")).to_have_text(str(narrowed["cases"]))
    assert f"supplier={supplier.id}" in page.url
    await page.select_option("#filter-problem-type", "transit_damage")
    both = await figures.case_totals(
        AnalyticsFilters(start=START, end=END, supplier_id=supplier.id, problem_type="transit_damage")
    )
    await expect(page.locator("#figure-cases strong")).to_have_text(str(both["cases"]))
    assert "problem_type=transit_damage" in page.url
    await page.screenshot(path=screenshot_path("dashboard-1280"), full_page=True)

    # The number leads to exactly the cases behind it.
    await page.click("#figure-cases")
    await page.wait_for_url("**/cases?**")
    await expect(page.locator("#case-rows tr")).to_have_count(both["cases"]) if both["cases"] else None
    if not both["cases"]:
        await expect(page.locator(".empty")).to_be_visible()

    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto(f"/dashboard?from={START.isoformat()}&to={END.isoformat()}")
    # On a phone the filters start folded, so the key figures are on the first screen; one tap opens them.
    await expect(phone.locator("#dashboard-filters")).to_be_hidden()
    top = await phone.locator("#figure-cases").evaluate("a => a.getBoundingClientRect().top")
    assert top < await phone.evaluate("() => window.innerHeight"), top
    await phone.click("#filter-panel > summary")
    await expect(phone.locator("#filter-category")).to_be_visible()
    # On a phone the chart keeps a readable width inside a sideways-scrolling frame that fits the screen.
    chart = await phone.locator(".charts img").first.evaluate("img => img.getBoundingClientRect().width")
    frame = await phone.locator(".charts figure").first.evaluate("f => f.getBoundingClientRect().width")
    page_width = await phone.evaluate("() => document.documentElement.scrollWidth")
    assert chart >= 560 and frame <= 375 and page_width <= 375
    await phone.screenshot(path=screenshot_path("dashboard-375"), full_page=True)
    assert errors == []
