"""The push on the case page: it answers at once, says "sending" while the worker talks SMTP, then "sent"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import running_server, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_collaboration import supplier_case
from tests.integration.test_push_queue import GatedSink, gated  # noqa: F401 - the gated SMTP fixture

pytestmark = pytest.mark.browser


async def test_the_case_page_shows_the_push_mail_sending_then_sent_without_a_reload(
    browser: Any,
    settings: Any,
    gated: tuple[GatedSink, str],  # noqa: F811
    make_user: Any,
) -> None:
    sink, url = gated
    sink.gate.clear()  # SMTP holds the mail until the page has shown "sending"
    case = await supplier_case(email="qa@supplier-a.cn", language="en")
    handler = await make_user("handler", name="Hao")
    with running_server(settings, "push", with_worker=True, CROSSCLAIM_SMTP_URL=url) as base:
        context = await browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        loads: list[str] = []
        page.on("load", lambda loaded: loads.append(loaded.url))
        try:
            await sign_in_page(page, handler.email, PASSWORD)
            await page.goto(f"/cases/{case.number}")
            await page.wait_for_selector("#push-form")
            await page.select_option("#push-requirement", "replacement")
            await page.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
            await page.click("#push")
            status = page.locator("#push-status")
            await expect(status).to_have_attribute("data-status", "sending", timeout=10000)
            await expect(status).to_contain_text("Sending the mail to qa@supplier-a.cn")
            loaded = len(loads)
            sink.gate.set()
            await expect(status).to_have_attribute("data-status", "sent", timeout=15000)
            await expect(status).to_contain_text("Mail sent to qa@supplier-a.cn.")
            await expect(page.locator("#timeline li[data-kind='push_mail_sent']")).to_have_count(1, timeout=10000)
            assert len(loads) == loaded  # no reload
            assert [mail["To"] for mail in sink.messages] == ["qa@supplier-a.cn"]
        finally:
            await page.goto("about:blank")  # closes the event streams before the server stops
            await context.close()
