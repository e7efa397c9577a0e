"""A handler writes a supplier's playbook, the push is held back for a missing batch-number photo, the photo is
added on the case page, and the case goes out (by real SMTP) — in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.tables import CaseEvent
from app.evidence.tables import Evidence
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.browser.test_collaboration_flow import mail_arrives, mail_server, smtp  # noqa: F401 - the fixtures
from tests.conftest import PASSWORD
from tests.integration.test_collaboration import Sink, photo, supplier_case

pytestmark = pytest.mark.browser


async def test_a_push_held_for_a_missing_required_photo_goes_once_the_photo_is_added(
    browser: Any,
    mail_server: str,  # noqa: F811 - the fixture
    smtp: Sink,  # noqa: F811 - the fixture
    make_user: Any,
    tmp_path: Path,
) -> None:
    case = await supplier_case(code="SUP-PB", email="sales@sup-pb.cn", language="en")
    handler = await make_user("handler", name="Hao")
    errors: list[str] = []
    context = await browser.new_context(base_url=mail_server, viewport={"width": 1280, "height": 900})
    desk = await context.new_page()
    desk.on("pageerror", lambda error: errors.append(str(error)))
    desk.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        await sign_in_page(desk, handler.email, PASSWORD)
        # The playbook: quality claims go to the QA desk and need a photo of the batch number.
        await desk.goto(f"/cases/{case.number}")
        await desk.click("#collaboration a[href$='/playbook']")
        await desk.wait_for_selector("#playbook-form")
        contacts = desk.locator("#playbook-contacts tbody tr").first
        await contacts.locator("select[name=contact_problem_type]").select_option("quality_defect")
        await contacts.locator("input[name=contact_name]").fill("QA desk")
        await contacts.locator("input[name=contact_email]").fill("qa-desk@sup-pb.cn")
        await desk.locator("#playbook-evidence input[name=item_label]").first.fill("Batch number photo")
        await desk.fill("#answer-value", "2")
        # A refused save says why above the form and keeps everything typed.
        await desk.fill("#minimum-currency", "US")
        await desk.click("#playbook-save")
        await expect(desk.locator("#messages .notice-error")).to_contain_text("A three-letter currency code")
        assert await contacts.locator("input[name=contact_email]").input_value() == "qa-desk@sup-pb.cn"
        await desk.fill("#minimum-currency", "")
        await desk.click("#playbook-save")
        await expect(desk.locator("#playbook-saved")).to_be_visible()
        await desk.screenshot(path=screenshot_path("playbook-page"), full_page=True)

        # The push form takes the QA desk's address and says what the case lacks, before Send.
        await desk.goto(f"/cases/{case.number}")
        await desk.wait_for_selector("#push-form")
        assert await desk.input_value("#push-email") == "qa-desk@sup-pb.cn"
        missing = desk.locator("#push-readiness li[data-item='pb:batch_number_photo']")
        await expect(missing).to_have_text("Batch number photo missing")
        await desk.select_option("#push-requirement", "replacement")
        await desk.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
        await desk.click("#push")
        refused = desk.locator("#messages .notice-error")
        await expect(refused).to_contain_text("breaks the party's playbook")
        await expect(refused.locator("li[data-field=playbook_reason]")).to_have_count(1)
        await desk.screenshot(path=screenshot_path("playbook-push-refused"), full_page=True)
        assert not smtp.messages
        assert not await CaseEvent.exists().where((CaseEvent.case == case.id) & (CaseEvent.kind == "case_pushed"))

        # The photo of the batch number, tagged as such on the case's evidence panel.
        panel = desk.locator("#evidence-panel")
        await expect(panel.locator("li[data-checklist-item='pb:batch_number_photo']")).to_have_class("missing")
        picture = tmp_path / "batch.jpg"
        picture.write_bytes(photo((30, 120, 30)))
        await panel.locator("input[data-evidence-input]:not([capture])").set_input_files(str(picture))
        preview = panel.locator("[data-previews] li.preview").first
        # The supplier's own item is offered beside the rules' checklist; the handler says the photo shows it.
        await preview.locator("select[data-covers]").select_option("pb:batch_number_photo")
        await panel.locator(".add-evidence [data-submit]").click()
        await expect(desk.locator("#evidence-panel li[data-checklist-item='pb:batch_number_photo']")).to_have_class(
            "covered"
        )
        # The readiness panel follows the new file: nothing is missing any more.
        await expect(desk.locator("#push-readiness [data-ready=yes]")).to_be_visible()
        await expect(desk.locator("#push-playbook-reason")).to_have_count(0)

        await desk.click("#push")
        await desk.wait_for_selector("#links li[data-live='true']")
        mail = await mail_arrives(smtp)
        assert mail["To"] == "qa-desk@sup-pb.cn"
        row = await Evidence.objects().where(Evidence.case == case.id).first()
        assert row.covers == "pb:batch_number_photo"
        kinds = {row["kind"] for row in await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case.id)}
        assert "case_pushed" in kinds and "playbook_rules_overridden" not in kinds

        # A saved answer fills the message box to the supplier, and can still be changed before sending.
        await desk.goto("/replies")
        await desk.select_option("#reply-language", "en")
        await desk.fill("#reply-title", "Batch photo received")
        await desk.fill("#reply-body", "Thank you, we received the batch number photo.")
        await desk.click("#reply-save")
        await expect(desk.locator("#replies-list li[data-language=en] strong")).to_have_text("Batch photo received")
        await desk.goto(f"/cases/{case.number}")
        thread = desk.locator("#thread-supplier")
        await thread.locator(".saved-replies-pick summary").click()
        await thread.locator(".saved-replies-pick button", has_text="Batch photo received").click()
        await expect(thread.locator("#body-supplier")).to_have_value("Thank you, we received the batch number photo.")

        # The supplier's page offers suggested answers that fill its answer form and stay editable.
        link = re.search(r"(http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_\-]+)", mail.get_body(("plain",)).get_content())
        assert link
        party_context = await browser.new_context(viewport={"width": 375, "height": 780}, is_mobile=True)
        party = await party_context.new_page()
        party.on("pageerror", lambda error: errors.append(str(error)))
        await party.goto(link.group(1))
        await party.click("#continue")
        await party.wait_for_selector("#party-case")
        await party.click("#suggest-credit-note")
        await expect(party.locator("#respond-form input[name=response][value=accept]")).to_be_checked()
        await expect(party.locator("#reason")).to_have_value("We accept responsibility and will issue a credit note.")
        await expect(party.locator("#remedy")).to_have_value("credit_note")
        await party.fill("#reason", "We accept and will issue a credit note this week.")
        await party.click("#send-answer")
        await expect(party.locator("[data-response=accept]")).to_contain_text("this week")
        page_text = await party.content()
        assert "Batch photo received" not in page_text and "playbook" not in page_text.lower()
        await party_context.close()
        assert errors == []
    finally:
        await context.close()
