"""Staff see a supplier's emailed reply appear live in the case thread, and assign a quarantined mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.tables import Message
from app.collaboration import services as collaboration
from app.evidence.services import EvidencePolicy
from app.evidence.storage import LocalEvidenceStore
from app.mail.ingest import ingest_mail
from app.mail.outgoing import case_mail
from app.notify.email import Mail
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_collaboration import photo, supplier_case

pytestmark = pytest.mark.browser

SUPPLIER = "qa@supplier-a.cn"


def reply_mail(*, to: str, sender: str, body: str, in_reply_to: str, jpeg: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"Li Wei <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: After-sales case"
    message["Message-ID"] = make_msgid(domain="supplier-a.cn")
    message["In-Reply-To"] = in_reply_to
    message.set_content(f"{body}\n\nBest regards,\nLi Wei\n\nOn Thu, 26 Nov 2026, Crossclaim wrote:\n> Please answer\n")
    if jpeg:
        message.add_attachment(jpeg, maintype="image", subtype="jpeg", filename="batch.jpg")
    return message.as_bytes()


async def test_emailed_reply_shows_live_and_quarantine_assigns(page: Any, settings: Any, make_user: Any) -> None:
    mail_settings = replace(settings, reply_address="support@example.com")
    store = LocalEvidenceStore(settings.data_dir / "evidence")
    case = await supplier_case(email=SUPPLIER, language="en")
    handler = await make_user("handler", name="Hao")
    await collaboration.case_push(
        actor=Actor(kind="user", id=str(handler.id), label=handler.email),
        number=case.number,
        party="supplier",
        email=SUPPLIER,
        language="en",
        requirement="replacement",
        reply_by=datetime.now(UTC).date() + timedelta(days=7),
    )
    sent = await case_mail(
        mail_settings,
        Mail(to=[SUPPLIER], subject="case", text="x"),
        case_id=case.id,
        number=case.number,
        party="supplier",
    )
    assert sent.reply_to and sent.reply_to.startswith("support+")

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in_page(page, handler.email, PASSWORD)
    await page.goto(f"/cases/{case.number}")
    await page.wait_for_selector("#thread-supplier")

    # The reply arrives while the page is open: it appears without a reload, marked as mail, quote removed.
    raw = reply_mail(
        to=sent.reply_to,
        sender=SUPPLIER,
        body="We will ship 40 replacement housings on Monday.",
        in_reply_to=sent.headers["Message-ID"],
        jpeg=photo((20, 160, 90)),
    )
    outcome = await ingest_mail(raw, settings=mail_settings, store=store, policy=EvidencePolicy())
    assert outcome.status == "posted"
    thread = page.locator("#msgs-supplier")
    await expect(thread).to_contain_text("We will ship 40 replacement housings on Monday.", timeout=15000)
    await expect(thread.locator(".via-email")).to_have_count(1)
    await expect(thread.locator("img")).to_have_count(1)
    assert "Please answer" not in await thread.inner_text()
    await expect(thread.locator(".sender-not-verified")).to_have_count(0)

    # A mail with a valid tag from the supplier's address that its domain's DMARC disowns: posted, flagged.
    spoofed = reply_mail(
        to=sent.reply_to,
        sender=SUPPLIER,
        body="Our bank details have changed, please pay to the new account.",
        in_reply_to=sent.headers["Message-ID"],
    )
    verdicts = b"Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=supplier-a.cn; dmarc=fail\r\n"
    flagged = await ingest_mail(verdicts + spoofed, settings=mail_settings, store=store, policy=EvidencePolicy())
    assert flagged.status == "posted"
    warning = thread.locator(".sender-not-verified")
    await expect(warning).to_have_count(1, timeout=15000)
    await expect(warning).to_contain_text("dmarc=fail")

    # A colleague writes from an address we do not know: quarantined, then assigned by the handler.
    stranger = reply_mail(
        to=sent.reply_to,
        sender="sales@supplier-a.cn",
        body="I am taking over this case from Li Wei.",
        in_reply_to=sent.headers["Message-ID"],
    )
    held = await ingest_mail(stranger, settings=mail_settings, store=store, policy=EvidencePolicy())
    assert (held.status, held.reason) == ("quarantined", "unknown_sender")
    await page.click("nav a[href='/mail/quarantine']")
    row = page.locator(f"#inbound-{held.inbound_id}")
    await expect(row).to_contain_text("sales@supplier-a.cn")
    assert await row.locator("input[name=number]").input_value() == case.number
    await row.locator("select[name=party]").select_option("supplier")
    await page.screenshot(path=screenshot_path("mail-quarantine-1280"), full_page=True)
    await row.locator("button", has_text="Assign").click()
    await expect(page.locator(f"#inbound-{held.inbound_id}")).to_contain_text(case.number)
    await expect(page.locator(f"#inbound-{held.inbound_id} form")).to_have_count(0)
    assert await Message.count().where(Message.case == case.id) == 3

    await page.goto(f"/cases/{case.number}")
    await expect(page.locator("#msgs-supplier")).to_contain_text("I am taking over this case from Li Wei.")
    await expect(page.locator("#msgs-supplier .via-email")).to_have_count(3)
    await expect(page.locator("#msgs-supplier .sender-not-verified")).to_have_count(1)
    await page.screenshot(path=screenshot_path("mail-thread-1280"), full_page=True)
    assert errors == []
