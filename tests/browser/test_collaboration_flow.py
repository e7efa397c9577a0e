"""The agreement loop in Chromium: push by real SMTP, the supplier disputes with a photo, a manager decides in
mediation and the decision is mailed, the plan is agreed, the customer confirms it on the tracking page, and the
supplier reports the plan carried out. Also the decline path, the appeal path and the push form."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import expect

from app.cases.events import Actor
from app.cases.responsibility import json_object
from app.cases.services import case_move
from app.cases.tables import Case, CaseEvent
from app.collaboration import links, services
from app.collaboration.tables import Dispute, PlanProposal
from app.db import atomic
from app.evidence.tables import Evidence
from app.trade.tables import Customer
from tests.browser.conftest import free_port, running_server, screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_collaboration import Sink, photo, supplier_case
from tests.integration.test_tracking import agreed_case

pytestmark = pytest.mark.browser


@pytest.fixture
def smtp() -> Iterator[Sink]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"  # type: ignore[attr-defined]
    yield sink
    controller.stop()


@pytest.fixture
def mail_server(settings: Any, smtp: Sink) -> Iterator[str]:
    """`crossclaim serve` on the test database, sending its mail to the loopback SMTP server."""
    url: str = smtp.url  # type: ignore[attr-defined]
    with running_server(settings, "collab", with_worker=True, CROSSCLAIM_SMTP_URL=url) as base:
        yield base


async def mail_arrives(sink: Sink) -> Any:
    for _ in range(100):
        if sink.messages:
            return sink.messages[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no mail arrived")


async def mail_to(sink: Sink, address: str, subject: str) -> Any:
    """The first mail to ``address`` whose subject holds ``subject``, waiting for it to arrive."""
    for _ in range(100):
        found = [m for m in sink.messages if m["To"] == address and subject in str(m["Subject"])]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail to {address} about {subject!r}: {[m['Subject'] for m in sink.messages]}")


# The supplier's language: its page, and the decision mailed to it, speak it.
DECIDED = {"zh": "调解已裁决", "en": "the mediation is decided"}


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_the_whole_agreement_loop_from_push_to_implementation(
    browser: Any, mail_server: str, smtp: Sink, make_user: Any, tmp_path: Path, language: str
) -> None:
    case = await supplier_case(email="qa@supplier-a.cn", language=language)
    customer_token = await with_customer(case.id)
    handler = await make_user("handler", name="Hao")
    manager = await make_user("manager", name="Mei")
    errors: list[str] = []
    desk_context = await browser.new_context(base_url=mail_server, viewport={"width": 1280, "height": 900})
    phone_context = await browser.new_context(
        base_url=mail_server, viewport={"width": 375, "height": 780}, has_touch=True, is_mobile=True
    )
    desk, phone = await desk_context.new_page(), await phone_context.new_page()
    streams: list[str] = []
    for page in (desk, phone):
        page.on("request", lambda r: streams.append(r.url) if r.resource_type == "eventsource" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        # The handler pushes the case; party and email come prefilled from the case's supplier.
        await sign_in_page(desk, handler.email, PASSWORD)
        await desk.goto(f"/cases/{case.number}")
        await desk.wait_for_selector("#push-form")
        assert await desk.input_value("#push-email") == "qa@supplier-a.cn"
        assert await desk.input_value("#push-party") == "supplier"
        await desk.select_option("#push-requirement", "replacement")
        await desk.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
        await desk.click("#push")
        await desk.wait_for_selector("#links li[data-live='true']")

        mail = await mail_arrives(smtp)
        body = mail.get_body(preferencelist=("plain",)).get_content()
        found = re.search(r"(http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_\-]+)", body)
        assert found, body
        token = found.group(1).rsplit("/", 1)[1]

        # The supplier opens the mailed link on a phone: a page with a button, then their case without the token.
        await phone.goto(found.group(1))
        assert token not in phone.url  # replaced in the address bar before the button is pressed
        await phone.click("#continue")
        await phone.wait_for_selector("#party-case")
        assert token not in phone.url and phone.url.endswith(f"/p/cases/{case.number}")
        # Going back finds no token in history either.
        await phone.go_back()
        assert token not in phone.url
        await phone.go_forward()
        await phone.wait_for_selector("#party-case")
        assert await phone.get_attribute("html", "lang") == ("zh-CN" if language == "zh" else "en")
        # One answer date, and which deadline it is.
        await expect(phone.locator("#party-deadline")).to_have_count(1)
        await expect(phone.locator("#party-deadline-why")).not_to_be_empty()

        # A refused answer shows why, in view, and keeps what they typed.
        await phone.check("input[name=response][value=accept_part]")
        await phone.fill("#reason", "Typed on a phone")
        await phone.click("#send-answer")
        refused = phone.locator("#messages .notice-error")
        await expect(refused.locator("li[data-field=share]")).to_have_count(1)  # the share field, in its own words
        assert await phone.input_value("#reason") == "Typed on a phone"

        # They dispute, with a photo as counter-evidence: that one action opens mediation.
        await expect(phone.locator("#party-mediation")).to_have_count(0)
        picture = tmp_path / "packed.jpg"
        picture.write_bytes(photo())
        await phone.check("input[name=response][value=dispute]")
        await phone.fill("#reason", "Packed intact; see photo")
        await phone.set_input_files("#evidence", str(picture))
        await phone.click("#send-answer")
        await phone.wait_for_selector("#party-open-dispute")
        await expect(phone.locator("#case-node")).to_have_attribute("data-node", "disputed")
        await expect(phone.locator("#party-evidence img")).to_have_count(1)
        await expect(phone.locator("#party-evidence .evidence-shows")).to_have_text("packed.jpg")
        await expect(phone.locator("#party-evidence")).not_to_contain_text("SHA-256")
        await phone.screenshot(path=screenshot_path(f"party-case-375-{language}"), full_page=True)

        # A message from the supplier reaches the handler's open page by polling, without a reload.
        await desk.reload()
        await desk.wait_for_selector("#thread-supplier")
        await phone.fill("#body-supplier", "Please check the packing photo")
        await phone.click("#thread-supplier button[type=submit]")
        await expect(desk.locator("#msgs-supplier")).to_contain_text("Please check the packing photo", timeout=10000)
        # Both pages hold an SSE connection to their thread (htmx's SSE extension); polling is the fallback.
        assert any(url.endswith(f"/p/cases/{case.number}/messages/stream") for url in streams), streams
        assert any(url.endswith(f"/cases/{case.number}/messages/supplier/stream") for url in streams), streams

        # A manager finds the dispute in the queue, reads both positions and decides.
        manager_context = await browser.new_context(base_url=mail_server, viewport={"width": 1280, "height": 900})
        boss = await manager_context.new_page()
        boss.on("pageerror", lambda error: errors.append(str(error)))
        await sign_in_page(boss, manager.email, PASSWORD)
        await boss.click("#nav-disputes")
        await boss.click(f"#dispute-queue tr[data-case='{case.number}'] a")
        await expect(boss.locator("#their-position .statement")).to_have_text("Packed intact; see photo")
        await expect(boss.locator("#their-position .evidence-grid img")).to_have_count(1)
        await expect(boss.locator("#dispute-deadlines li").first).to_contain_text("Mediation to be decided by")
        await boss.select_option("#decision", "supplier")
        await boss.fill("#rationale", "Supplier pays: the packing was too thin")
        await boss.click("#decide-form button[type=submit]")
        await boss.wait_for_selector("#decision")
        await boss.screenshot(path=screenshot_path(f"mediation-decided-1280-{language}"), full_page=True)
        await manager_context.close()
        # The decision is mailed to the supplier in its language, with the rationale; the case is at the plan.
        decided = await mail_to(smtp, "qa@supplier-a.cn", DECIDED[language])
        assert "Supplier pays: the packing was too thin" in decided.get_body(preferencelist=("plain",)).get_content()
        await phone.reload()
        await expect(phone.locator("#party-decision")).to_contain_text("Supplier pays: the packing was too thin")
        await expect(phone.locator(".timeline li[data-kind='dispute_decided']")).to_contain_text(
            "Supplier pays: the packing was too thin"
        )

        # The handler counters with a plan.
        await desk.reload()
        await expect(desk.locator("#case-node")).to_have_attribute("data-node", "plan")
        await desk.click("#collaboration details:has(#propose-form) summary")
        await desk.select_option("#remedy", "partial_refund")
        await desk.fill("#amount", "480.00")
        await desk.fill("#currency", "EUR")
        await desk.fill("#details", "Partial refund, 40% of the invoice")
        await desk.click("#propose")
        await desk.wait_for_selector("#proposals li[data-by='us'][data-status='open']")

        # The supplier accepts it; the plan waits for the customer.
        await phone.reload()
        await phone.click("#proposals li[data-status='open'] button")
        await phone.wait_for_selector("#proposals li[data-status='accepted']")

        # The customer confirms the agreed plan on their tracking page; the case moves to implementation.
        customer_context = await browser.new_context(base_url=mail_server, viewport={"width": 375, "height": 780})
        customer = await customer_context.new_page()
        customer.on("pageerror", lambda error: errors.append(str(error)))
        await customer.goto(f"/t/{customer_token}")
        await customer.click("#continue")
        await customer.wait_for_selector("#customer-plan")
        await expect(customer.locator("#plan-remedy")).to_have_text("Partial refund")
        await expect(customer.locator("#plan-amount")).to_have_text("€480.00")
        await expect(customer.locator("#customer-plan")).not_to_contain_text("40% of the invoice")
        await customer.click("#plan-confirm")
        await customer.wait_for_selector("#plan-confirmed")
        await expect(customer.locator("#customer-plan")).to_have_count(0)
        await customer_context.close()
        await desk.reload()
        await expect(desk.locator("#case-node")).to_have_attribute("data-node", "implementation")
        await expect(desk.locator("#customer-answer-form")).to_have_count(0)
        await desk.screenshot(path=screenshot_path(f"collaboration-desk-1280-{language}"), full_page=True)

        # The supplier reports the plan carried out; the handler sees it.
        await phone.reload()
        await phone.select_option("#step", "refund_sent")
        await phone.fill("#progress-note", "SWIFT ref 42")
        await phone.click("#report-progress")
        await expect(phone.locator("#progress-updates li[data-step='refund_sent']")).to_have_count(1)
        await desk.reload()
        await expect(desk.locator("#timeline li[data-kind='progress_update']")).to_have_count(1)

        stored = await Case.objects().where(Case.id == case.id).first()
        assert stored.node == "implementation" and stored.remedy == "partial_refund"
        theirs = await Evidence.objects().where((Evidence.case == case.id) & (Evidence.party == "supplier")).first()
        assert theirs is not None and theirs.status == "ok"
        assert (await PlanProposal.objects().where(PlanProposal.case == case.id).first()).status == "accepted"
        kinds = [row["kind"] for row in await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case.id)]
        for kind in (
            "case_pushed",
            "push_mail_sent",
            "party_link_opened",
            "party_viewed",
            "evidence_added",
            "party_response",
            "message",
            "plan_proposed",
            "plan_agreed",
            "customer_plan_answer",
            "dispute_opened",
            "dispute_decided",
            "decision_mail_sent",
            "progress_update",
        ):
            assert kind in kinds, (kind, kinds)
        assert errors == []
    finally:
        await desk_context.close()
        await phone_context.close()


async def with_customer(case_id: int) -> str:
    """The case's customer, with the tracking link they would get by mail (English); returns its token."""
    customer = await Customer.objects().create(name="Lin", email="lin@example.com")
    await Case.update({Case.customer: customer.id}).where(Case.id == case_id)
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case_id, party="customer", email="lin@example.com", language="en", now=datetime.now(UTC)
        )
    return token


async def test_the_customer_declines_the_agreed_plan_with_a_reason(browser: Any, mail_server: str) -> None:
    case = await agreed_case(with_customer=True)
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case.id, party="customer", email="lin@example.com", language="zh", now=datetime.now(UTC)
        )
    context = await browser.new_context(base_url=mail_server, viewport={"width": 375, "height": 780})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto(f"/t/{token}")
        await page.click("#continue")
        await page.wait_for_selector("#customer-plan")
        assert await page.get_attribute("html", "lang") == "zh-CN"
        await page.fill("#plan-reason", "我想要换货")
        await page.click("#plan-decline")
        await page.wait_for_selector("#plan-declined")
        await expect(page.locator("#customer-plan")).to_have_count(0)
        await page.screenshot(path=screenshot_path("customer-plan-declined-375"), full_page=True)
        stored = await Case.objects().where(Case.id == case.id).first()
        assert stored.node == "plan"
        assert [row["status"] for row in await PlanProposal.select(PlanProposal.status)] == ["declined"]
        answer = await CaseEvent.objects().where(CaseEvent.kind == "customer_plan_answer").first()
        assert answer.actor_kind == "customer" and json_object(answer.data)["comment"] == "我想要换货"
        assert errors == []
    finally:
        await context.close()


async def test_switching_the_party_swaps_the_address_and_names_who_the_push_reaches(
    browser: Any, mail_server: str, smtp: Sink, make_user: Any
) -> None:
    case = await supplier_case(email="qa@supplier-a.cn", language="zh")  # its carrier: claims@sup-a.example
    handler = await make_user("handler", name="Hao")
    context = await browser.new_context(base_url=mail_server, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await sign_in_page(page, handler.email, PASSWORD)
        await page.goto(f"/cases/{case.number}")
        await page.wait_for_selector("#push-form")
        await page.wait_for_load_state("networkidle")  # the panel loaded and htmx has wired it
        await expect(page.locator("#push-confirm")).to_contain_text("Send to Supplier SUP-A qa@supplier-a.cn")
        # Carrier chosen: its address and language replace the supplier's, and the line says so.
        await page.select_option("#push-party", "carrier")
        await expect(page.locator("#push-email")).to_have_value("claims@sup-a.example")
        await expect(page.locator("#push-language")).to_have_value("en")
        await expect(page.locator("#push-confirm")).to_contain_text("Send to Carrier SUP-A claims@sup-a.example")
        # Back to the supplier: its own address again, and the push goes to it (the panel answers, no reload).
        await page.select_option("#push-party", "supplier")
        await expect(page.locator("#push-email")).to_have_value("qa@supplier-a.cn")
        await expect(page.locator("#push-confirm")).to_contain_text("Send to Supplier SUP-A qa@supplier-a.cn")
        await page.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
        await page.select_option("#push-requirement", "return")  # never chosen for the handler
        await page.click("#push")
        mail = await mail_arrives(smtp)
        assert mail["To"] == "qa@supplier-a.cn"
        await expect(page.locator("#links li[data-live='true']")).to_have_count(1)
        await page.wait_for_selector("#thread-supplier")
        # The carrier next, with the supplier's address typed: named as the supplier's, and refused if sent.
        await page.click("#collaboration details:has(#push-form) summary")
        await page.select_option("#push-party", "carrier")
        await expect(page.locator("#push-email")).to_have_value("claims@sup-a.example")
        await page.fill("#push-email", "qa@supplier-a.cn")
        await page.press("#push-email", "Tab")  # leaving the field checks it too
        await expect(page.locator("#push-confirm")).to_contain_text("is the address of the supplier Supplier SUP-A")
        await page.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
        await page.select_option("#push-requirement", "return")  # never chosen for the handler
        await page.click("#push")
        await expect(page.locator(".notice-error li[data-field=email]")).to_have_count(1)
        assert len(smtp.messages) == 1
        assert errors == []
    finally:
        await page.goto("about:blank")  # closes the thread's event stream before the server stops
        await context.close()


async def test_a_suppliers_answer_appears_live_on_the_handlers_open_page(
    browser: Any, mail_server: str, smtp: Sink, make_user: Any
) -> None:
    case = await supplier_case(email="qa@supplier-a.cn", language="en")
    handler = await make_user("handler", name="Hao")
    desk_context = await browser.new_context(base_url=mail_server, viewport={"width": 1280, "height": 900})
    phone_context = await browser.new_context(base_url=mail_server, viewport={"width": 375, "height": 780})
    desk, phone = await desk_context.new_page(), await phone_context.new_page()
    errors: list[str] = []
    loads: list[str] = []
    for page in (desk, phone):
        page.on("pageerror", lambda error: errors.append(str(error)))
    desk.on("load", lambda page: loads.append(page.url))
    try:
        await sign_in_page(desk, handler.email, PASSWORD)
        await desk.goto(f"/cases/{case.number}")
        await desk.wait_for_selector("#push-form")
        await desk.fill("#push-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
        await desk.select_option("#push-requirement", "return")  # never chosen for the handler
        await desk.click("#push")
        # The push answers with the panel itself: the link is listed and the page was not reloaded.
        await desk.wait_for_selector("#links li[data-live='true']")
        await desk.wait_for_selector("#thread-supplier")
        loaded = len(loads)

        mail = await mail_arrives(smtp)
        found = re.search(
            r"(http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_\-]+)", mail.get_body(preferencelist=("plain",)).get_content()
        )
        assert found
        await phone.goto(found.group(1))
        await phone.click("#continue")
        await phone.wait_for_selector("#party-case")
        await phone.check("input[name=response][value=accept_part]")
        await phone.fill("#share", "30")
        await phone.click("#send-answer")
        # The supplier's page shows its answer in place.
        await phone.wait_for_selector("#party-respond p[data-response='accept_part']")

        # The handler's open page shows it within seconds: the answer, and the timeline entry.
        answer = desk.locator("#collab-live p.party-response[data-response='accept_part']")
        await expect(answer).to_have_count(1, timeout=10000)
        await expect(desk.locator("#timeline li[data-kind='party_response']")).to_have_count(1, timeout=10000)
        assert len(loads) == loaded  # no reload
        assert errors == []
    finally:
        for page in (desk, phone):
            await page.goto("about:blank")  # closes the event streams before the server stops
        await desk_context.close()
        await phone_context.close()


async def test_a_manager_decides_the_party_gets_the_mail_and_may_appeal_only_with_new_evidence(
    browser: Any, mail_server: str, smtp: Sink, make_user: Any, tmp_path: Path
) -> None:
    case = await supplier_case(email="qa@supplier-a.cn", language="zh")
    await case_move(actor=Actor.system(), number=case.number, target="responsibility")
    pushed = await services.case_push(
        actor=Actor.system(), number=case.number, party="supplier", email="qa@supplier-a.cn", language="zh",
        requirement="replacement", reply_by=datetime.now(UTC).date() + timedelta(days=7),
    )  # fmt: skip
    supplier = Actor(kind="supplier", id=str(pushed.link.id), label="qa@supplier-a.cn")
    dispute = await services.dispute_open(
        actor=supplier, case_id=case.id, opened_by="supplier", reason="Packed intact; see photo"
    )
    manager = await make_user("manager", name="Mei")
    desk_context = await browser.new_context(base_url=mail_server, viewport={"width": 1280, "height": 900})
    phone_context = await browser.new_context(base_url=mail_server, viewport={"width": 375, "height": 780})
    desk, phone = await desk_context.new_page(), await phone_context.new_page()
    errors: list[str] = []
    for page in (desk, phone):
        page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await sign_in_page(desk, manager.email, PASSWORD)
        await desk.goto(f"/disputes/{dispute.id}")
        await desk.select_option("#decision", "supplier")
        await desk.fill("#rationale", "The packing list shows the defect at origin")
        await desk.click("#decide-form button[type=submit]")
        await desk.wait_for_selector("#decision")

        mail = await mail_arrives(smtp)
        assert mail["To"] == "qa@supplier-a.cn" and mail["Subject"] == f"售后案件 {case.number}：调解已裁决"
        assert "The packing list shows the defect at origin" in mail.get_body(preferencelist=("plain",)).get_content()
        assert (await Case.objects().where(Case.id == case.id).first()).node == "plan"

        await phone.goto(f"/l/{pushed.token}")
        await phone.click("#continue")
        await phone.wait_for_selector("#party-decision")
        await expect(phone.locator("#party-mediation")).to_have_count(0)
        await phone.click("#party-appeal summary")
        await phone.fill("#appeal-reason", "货代报告显示外箱被压")
        picture = tmp_path / "report.jpg"
        picture.write_bytes(photo())
        await phone.set_input_files("#appeal-evidence", str(picture))
        await phone.click("#party-appeal button[type=submit]")
        await expect(phone.locator("#party-appeal")).to_have_count(0)
        appeal = await Dispute.objects().where(Dispute.case == case.id).order_by(Dispute.id, ascending=False).first()
        assert appeal.id != dispute.id and appeal.reason == "货代报告显示外箱被压"
        await desk.goto(f"/disputes/{appeal.id}")
        await expect(desk.locator("#dispute-appeal")).to_have_count(1)
        assert errors == []
    finally:
        await desk_context.close()
        await phone_context.close()
