"""A replay whose answer never comes is given up after its time limit, and the phone's other reports go on."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.tables import Case
from app.evidence.tables import Evidence
from tests.browser.conftest import sign_in_page
from tests.browser.test_offline_intake import eventually, fill_report, photo, queued
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# The page's limit for one send in this test (the product's is 90 s); the server holds the first answer longer.
LIMIT_SECONDS = 3
HELD_SECONDS = 15


async def test_a_hung_send_times_out_and_the_other_reports_go_on(
    browser: Any, live_server: str, make_user: Any, tmp_path: Path
) -> None:
    user = await make_user("warehouse", name="Wu")
    # A phone's page on its own (no service worker): the page's replay is the one under test.
    context = await browser.new_context(
        base_url=live_server,
        viewport={"width": 375, "height": 780},
        has_touch=True,
        is_mobile=True,
        service_workers="block",
    )
    await context.add_init_script(f"self.CROSSCLAIM_SEND_TIMEOUT_MS = {LIMIT_SECONDS * 1000};")
    page = await context.new_page()
    try:
        await sign_in_page(page, user.email, PASSWORD)
        await page.goto("/intake")
        await page.wait_for_load_state("networkidle")
        await context.set_offline(True)
        for number, colour in enumerate(((200, 40, 40), (40, 200, 40), (40, 40, 200)), start=1):
            await fill_report(page, f"Dock report {number}", [photo(tmp_path / f"dock-{number}.jpg", colour)])
            await page.locator("[data-submit]").click()
            await expect(page.locator("[data-status]")).to_have_text("Saved on this phone, will send automatically.")
            await expect(page.locator("#queue-badge [data-queue-count]")).to_have_text(str(number))
        first = (await queued(page))[0]["key"]

        # The first report reaches the server, which files it and then holds its answer for longer than the limit.
        with urllib.request.urlopen(
            f"{live_server}/_hooks/stall-next-intake?seconds={HELD_SECONDS}", timeout=5
        ) as armed:
            assert armed.status == 200
        started = asyncio.get_running_loop().time()
        await context.set_offline(False)

        async def still_queued() -> list[str]:
            return [item["key"] for item in await queued(page)]

        # The hung send is given up after its limit; the two after it are sent meanwhile, long before the answer.
        assert await eventually(still_queued, [first], seconds=HELD_SECONDS) == [first]
        assert asyncio.get_running_loop().time() - started < HELD_SECONDS - 2
        assert await Case.count() == 3  # the server had the first report all along
        item = (await queued(page))[0]
        assert item["state"] == "waiting" and item["error"] == "" and item["attempts"] == 1
        await expect(page.locator("#queue-badge [data-queue-count]")).to_have_text("1")

        # The next replay sends it again with its key: the same case, not a fourth.
        await asyncio.sleep(HELD_SECONDS - (asyncio.get_running_loop().time() - started) + 1)
        await page.goto("/intake")
        assert await eventually(still_queued, [], seconds=20) == []
        assert await Case.count() == 3
        for case in await Case.objects():
            assert await Evidence.count().where(Evidence.case == case.id) == 1
    finally:
        await context.close()
