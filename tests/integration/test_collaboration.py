"""Collaboration over HTTP: push by real SMTP, the link and party page, plan rounds, disputes, the claim pack."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup
from PIL import Image

from app.cases.events import Actor
from app.cases.responsibility import json_object
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent, Message
from app.collaboration.links import token_digest
from app.collaboration.services import dispute_decide
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.evidence.tables import Evidence
from app.i18n import format_day
from app.trade.tables import Carrier, Customer, Supplier
from tests.browser.conftest import free_port
from tests.conftest import asgi_client, csrf_token, sign_in, work_off_queue

LINK = re.compile(r"https?://\S+/l/([A-Za-z0-9_\-]+)")


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, str]]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
def mail_app(settings: Any, smtp: tuple[Sink, str]) -> Any:
    from app.asgi import create_app

    return create_app(replace(settings, smtp_url=smtp[1]))


@pytest.fixture
async def staff(mail_app: Any) -> AsyncIterator[Any]:
    async with asgi_client(mail_app) as client:
        yield client


@pytest.fixture
async def party(mail_app: Any) -> AsyncIterator[Any]:
    async with asgi_client(mail_app) as client:
        yield client


def photo(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


async def supplier_case(code: str = "SUP-A", email: str = "qa@supplier-a.cn", language: str = "zh") -> Case:
    supplier = Supplier(code=code, name=f"Supplier {code}", email=email, language=language)
    await supplier.save()
    carrier = Carrier(code=f"CAR-{code}", name=f"Carrier {code}", email=f"claims@{code.lower()}.example")
    await carrier.save()
    draft = CaseDraft(
        problem_type="quality_defect",
        description="Cracked housings on arrival · 外壳破裂",
        supplier_id=supplier.id,
        carrier_id=carrier.id,
        order_number=f"PO-{code}",
    )
    return (await case_create(actor=Actor.system(), draft=draft)).case


async def push_form(
    client: Any,
    number: str,
    *,
    party: str = "supplier",
    email: str = "qa@supplier-a.cn",
    language: str = "zh",
    reply_in: int = 7,
) -> Any:
    """The push form as a handler sends it, and its mail sent by the worker; the answer is the caller's to check."""
    response = await client.post(
        f"/cases/{number}/push",
        data={
            "party": party,
            "email": email,
            "language": language,
            "requirement": "replacement",
            "reply_by": (datetime.now(UTC).date() + timedelta(days=reply_in)).isoformat(),
            "note": "Photos attached",
            "_csrf_token": await csrf_token(client),
        },
    )
    await work_off_queue()
    return response


async def push(client: Any, number: str, *, email: str = "qa@supplier-a.cn", party: str = "supplier") -> Any:
    response = await push_form(client, number, party=party, email=email)
    assert response.status_code == 303, response.text
    return response


def link_in(mail: Any) -> str:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    found = LINK.search(body)
    assert found, body
    return found.group(1)


async def party_disputes(client: Any, number: str, reason: str, *, photo_name: str = "") -> None:
    """A party's answer "Dispute" (with a photo when named): the one action that opens mediation."""
    files = {"evidence": (photo_name, photo(), "image/jpeg")} if photo_name else None
    data = {"response": "dispute", "reason": reason}
    response = await client.post(
        f"/p/cases/{number}/respond", data=data, files=files, headers={"x-csrftoken": await csrf_token(client)}
    )
    assert response.status_code == 303, response.text


async def open_link(client: Any, token: str) -> Any:
    page = await client.get(f"/l/{token}")
    assert page.status_code == 200
    return await client.post(f"/l/{token}", data={"_csrf_token": await csrf_token(client)})


async def events(case_id: int) -> list[str]:
    rows = await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case_id).order_by(CaseEvent.id)
    return [row["kind"] for row in rows]


async def test_push_mail_link_dispute_counter_accept_confirm(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    sink, _url = smtp
    case = await supplier_case()
    # A customer without a tracking link: the handler records their answer to the agreed plan.
    customer = await Customer.objects().create(name="Lin", email="lin@example.com")
    await Case.update({Case.customer: customer.id}).where(Case.id == case.id)
    handler = await make_user("handler")
    await sign_in(staff, handler)

    await push(staff, case.number)
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert mail["To"] == "qa@supplier-a.cn"
    assert case.number in mail["Subject"]
    token = link_in(mail)
    assert len(token) >= 43  # 256 bits, URL-safe
    link = await AccessLink.objects().where(AccessLink.case == case.id).first()
    assert link.token_hash == token_digest(token) and link.party == "supplier" and link.language == "zh"
    assert (link.expires_at - datetime.now(UTC)).days in (29, 30)

    # Scanners: GET and HEAD show the page and change nothing.
    before = await events(case.id)
    assert (await party.head(f"/l/{token}")).status_code in (200, 405)
    opened = await party.get(f"/l/{token}")
    assert opened.status_code == 200 and 'id="continue"' in opened.text
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert "cc_party" not in party.cookies
    assert await events(case.id) == before

    answer = await party.post(f"/l/{token}", data={"_csrf_token": await csrf_token(party)})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location == f"/p/cases/{case.number}" and token not in location
    assert answer.headers["referrer-policy"] == "no-referrer"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and token not in cookie

    page = await party.get(location)
    assert page.status_code == 200, page.text
    assert "Cracked housings" in page.text
    assert 'lang="zh-CN"' in page.text  # the link's language, not the browser's

    # The supplier disputes with a photo: it goes through the evidence pipeline, marked as theirs.
    await party_disputes(party, case.number, "Packed intact; damage happened in transit", photo_name="photo.jpg")
    theirs = await Evidence.objects().where(Evidence.case == case.id).first()
    assert theirs.party == "supplier" and theirs.status == "ok" and len(theirs.sha256) == 64
    assert (await party.get(f"/p/cases/{case.number}/evidence/{theirs.id}/thumb")).status_code == 200
    assert (await party.get(f"/evidence/{theirs.id}/original")).status_code in (302, 401)
    # The one dispute action opened mediation, with the answer's reason and the photo on it.
    row = await Case.objects().where(Case.id == case.id).first()
    assert row.node == "disputed" and row.node_before_dispute == "responsibility"
    dispute = await Dispute.objects().where(Dispute.case == case.id).first()
    assert dispute.opened_by == "supplier" and dispute.reason == "Packed intact; damage happened in transit"
    opened = [e for e in await CaseEvent.objects().where(CaseEvent.case == case.id) if e.kind == "dispute_opened"]
    assert len(opened) == 1 and json_object(opened[0].data)["evidence_ids"] == [theirs.id]
    # A manager decides; responsibility settled, the case goes on to the plan.
    await dispute_decide(
        actor=Actor.system(), dispute_id=dispute.id, decision="supplier", rationale="Damage visible at loading"
    )

    # Messages both ways, each a CaseEvent; internal notes never reach the party.
    await Message(case=case.id, party="supplier", body="INTERNAL-ONLY note", internal=True).save()
    sent = await staff.post(
        f"/cases/{case.number}/messages/supplier",
        data={"body": "We counter with a partial refund"},
        headers={"x-csrftoken": await csrf_token(staff), "HX-Request": "true"},
    )
    assert sent.status_code == 200 and "We counter" in sent.text
    thread = await party.get(f"/p/cases/{case.number}/messages", headers={"HX-Request": "true"})
    assert "We counter" in thread.text and "INTERNAL-ONLY" not in thread.text
    assert 'hx-trigger="every 3s"' in thread.text

    # The handler counters with a plan; the supplier accepts it.
    ready = (date.today() + timedelta(days=10)).isoformat()
    countered = await staff.post(
        f"/cases/{case.number}/plan",
        data={
            "remedy": "partial_refund",
            "amount": "1250.50",
            "currency": "eur",
            "ready_by": ready,
            "details": "Refund within 10 days",
            "_csrf_token": await csrf_token(staff),
        },
    )
    assert countered.status_code == 303, countered.text
    proposal = await PlanProposal.objects().where(PlanProposal.case == case.id).first()
    assert proposal.round == 1 and proposal.proposed_by == "us" and proposal.amount == Decimal("1250.50")
    # The side that proposed cannot accept its own proposal.
    own = await staff.post(
        f"/cases/{case.number}/plan/{proposal.id}/accept", data={"_csrf_token": await csrf_token(staff)}
    )
    assert own.status_code == 403
    accepted = await party.post(
        f"/p/cases/{case.number}/plan/{proposal.id}/accept", data={"_csrf_token": await csrf_token(party)}
    )
    assert accepted.status_code == 303, accepted.text
    row = await Case.objects().where(Case.id == case.id).first()
    assert row.node == "plan" and row.remedy == "partial_refund" and row.currency == "EUR"

    # The customer confirms the agreed plan: the case moves to implementation.
    confirmed = await staff.post(
        f"/cases/{case.number}/customer-answer",
        data={"answer": "accept", "comment": "ok", "_csrf_token": await csrf_token(staff)},
    )
    assert confirmed.status_code == 303, confirmed.text
    row = await Case.objects().where(Case.id == case.id).first()
    assert row.node == "implementation"

    progress = await party.post(
        f"/p/cases/{case.number}/progress",
        data={"step": "refund_sent", "note": "SWIFT ref 123", "_csrf_token": await csrf_token(party)},
    )
    assert progress.status_code == 303, progress.text
    shipped = await staff.post(
        f"/cases/{case.number}/progress",
        data={"step": "shipped", "tracking_no": "", "_csrf_token": await csrf_token(staff)},
    )
    assert shipped.status_code == 422  # shipped needs its tracking number
    shipped = await staff.post(
        f"/cases/{case.number}/progress",
        data={"step": "shipped", "tracking_no": "SF1234567890", "_csrf_token": await csrf_token(staff)},
    )
    assert shipped.status_code == 303
    seen = await party.get(f"/p/cases/{case.number}")
    assert "SF1234567890" in seen.text and "SWIFT ref 123" in seen.text and 'id="progress-form"' in seen.text

    kinds = await events(case.id)
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
        "progress_update",
    ):
        assert kind in kinds, (kind, kinds)
    # reported → responsibility → disputed → responsibility → plan → implementation
    assert kinds.count("node_changed") == 5

    # The staff panel and the supplier's answer time.
    panel = await staff.get(f"/cases/{case.number}/collaboration")
    assert panel.status_code == 200 and "partial_refund" in panel.text.replace("Partial refund", "partial_refund")
    overview = await staff.get(f"/parties/supplier/{row.supplier}")
    assert overview.status_code == 200 and case.number in overview.text


async def test_plan_rounds_go_back_and_forth(staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    assert (await open_link(party, link_in(smtp[0].messages[0]))).status_code == 303
    for side, client, prefix in ((1, party, "/p"), (2, staff, ""), (3, party, "/p")):
        response = await client.post(
            f"{prefix}/cases/{case.number}/plan",
            data={
                "remedy": "replacement",
                "currency": "CNY",
                "details": f"round {side}",
                "_csrf_token": await csrf_token(client),
            },
        )
        assert response.status_code == 303, response.text
    rows = await PlanProposal.objects().where(PlanProposal.case == case.id).order_by(PlanProposal.round)
    assert [(r.round, r.proposed_by, r.status) for r in rows] == [
        (1, "supplier", "superseded"),
        (2, "us", "superseded"),
        (3, "supplier", "open"),
    ]
    stale = await party.post(
        f"/p/cases/{case.number}/plan/{rows[1].id}/accept", data={"_csrf_token": await csrf_token(party)}
    )
    assert stale.status_code == 409
    bad = await party.post(
        f"/p/cases/{case.number}/plan",
        data={"remedy": "replacement", "amount": "12abc", "_csrf_token": await csrf_token(party)},
    )
    assert bad.status_code == 422


async def test_a_decided_dispute_is_mailed_to_the_party_and_moves_the_case_to_the_plan(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str], mail_app: Any
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    # Their answer "dispute" is the one action: no second "ask for mediation" step on the page.
    assert 'id="party-mediation"' not in (await party.get(f"/p/cases/{case.number}")).text
    opened = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"response": "dispute", "reason": "We do not agree with the hint", "_csrf_token": await csrf_token(party)},
    )
    assert opened.status_code == 303, opened.text
    row = await Case.objects().where(Case.id == case.id).first()
    assert row.node == "disputed" and row.node_before_dispute == "responsibility"
    dispute = await Dispute.objects().where(Dispute.case == case.id).first()
    assert dispute.opened_by == "supplier" and dispute.from_node == "responsibility"
    page = await staff.get(f"/disputes/{dispute.id}")
    assert page.status_code == 200 and 'id="their-position"' in page.text and "We do not agree" in page.text
    # A handler sees the page but cannot decide; a manager can.
    denied = await staff.post(
        f"/disputes/{dispute.id}/decide",
        data={"decision": "supplier", "rationale": "x", "_csrf_token": await csrf_token(staff)},
    )
    assert denied.status_code == 403
    async with asgi_client(mail_app) as manager_client:
        await sign_in(manager_client, await make_user("manager"))
        missing = await manager_client.post(
            f"/disputes/{dispute.id}/decide",
            data={"decision": "supplier", "rationale": " ", "_csrf_token": await csrf_token(manager_client)},
        )
        assert missing.status_code == 422
        decided = await manager_client.post(
            f"/disputes/{dispute.id}/decide",
            data={
                "decision": "supplier",
                "rationale": "Packing list shows the defect at origin",
                "_csrf_token": await csrf_token(manager_client),
            },
        )
        assert decided.status_code == 303, decided.text
    row = await Case.objects().where(Case.id == case.id).first()
    assert row.node == "plan" and row.confirmed_party == "supplier", "responsibility is settled: on to the plan"
    seen = await party.get(f"/p/cases/{case.number}")
    assert 'id="party-decision"' in seen.text and "Packing list shows the defect" in seen.text
    assert 'id="party-mediation"' not in seen.text, "no mediation form above the decision"
    assert {"dispute_opened", "dispute_decided", "decision_mail_sent"} <= set(await events(case.id))
    # The supplier who disputed gets the decision by mail, in its link's language, with the rationale.
    decision = [m for m in smtp[0].messages if case.number in m["Subject"] and m["To"] == "qa@supplier-a.cn"][-1]
    assert decision["Subject"] == f"售后案件 {case.number}：调解已裁决"
    body = decision.get_body(preferencelist=("plain",)).get_content()
    assert "供应商负有责任。" in body and "Packing list shows the defect at origin" in body
    assert len(smtp[0].messages) == 2, "the push and the decision, nothing to the carrier who was not in it"

    # Disputing again is an appeal: without new evidence it is refused and nothing changes; with it, it opens.
    assert 'id="party-appeal"' in seen.text
    bare = await party.post(
        f"/p/cases/{case.number}/dispute",
        data={"reason": "We still disagree", "_csrf_token": await csrf_token(party)},
    )
    assert bare.status_code == 422 and "申诉需要新证据" in bare.text
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "plan"
    appealed = await party.post(
        f"/p/cases/{case.number}/dispute",
        data={"reason": "The forwarder's report shows crushing", "_csrf_token": await csrf_token(party)},
        files={"evidence": ("report.jpg", photo(), "image/jpeg")},
    )
    assert appealed.status_code == 303, appealed.text
    appeal = await Dispute.objects().where(Dispute.case == case.id).order_by(Dispute.id, ascending=False).first()
    assert appeal.id != dispute.id and appeal.from_node == "plan"
    assert (await Evidence.count().where((Evidence.case == case.id) & (Evidence.party == "supplier"))) == 1
    page = await staff.get(f"/disputes/{appeal.id}")
    assert 'id="dispute-appeal"' in page.text
    first = await staff.get(f"/disputes/{dispute.id}")
    assert 'id="dispute-appeal"' not in first.text
    # The case timeline says the outcome of each step, not just that it happened.
    timeline = BeautifulSoup((await staff.get(f"/cases/{case.number}")).text, "html.parser")
    decided_line = timeline.select_one("#timeline li[data-kind=dispute_decided]").get_text(" ", strip=True)
    assert "Supplier" in decided_line and "Packing list shows the defect at origin" in decided_line
    opened_lines = [li.get_text(" ", strip=True) for li in timeline.select("#timeline li[data-kind=dispute_opened]")]
    assert ["Appeal" in line for line in opened_lines] == [False, True]


async def test_a_company_may_answer_a_dispute_before_mediation(
    settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    """CROSSCLAIM_DISPUTE_ANSWER_ROUND: the dispute is recorded for our answer; mediation waits for a handler."""
    from app.asgi import create_app

    app = create_app(replace(settings, smtp_url=smtp[1], dispute_answer_round=True))
    case = await supplier_case()
    async with asgi_client(app) as staff, asgi_client(app) as party:
        await sign_in(staff, await make_user("handler"))
        await push(staff, case.number)
        await open_link(party, link_in(smtp[0].messages[0]))
        answered = await party.post(
            f"/p/cases/{case.number}/respond",
            data={"response": "dispute", "reason": "Not our packaging", "_csrf_token": await csrf_token(party)},
        )
        assert answered.status_code == 303, answered.text
        row = await Case.objects().where(Case.id == case.id).first()
        assert row.node == "responsibility" and not await Dispute.exists().where(Dispute.case == case.id)
        assert "party_response" in await events(case.id)
        opened = await staff.post(
            f"/cases/{case.number}/mediation",
            data={"reason": "Our answer did not settle it", "_csrf_token": await csrf_token(staff)},
        )
        assert opened.status_code == 303, opened.text
        assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "disputed"


async def test_claim_pack_pdf_parses_back(staff: Any, make_user: Any, tmp_path: Path) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    uploaded = await staff.post(
        f"/cases/{case.number}/evidence",
        files={"evidence": ("crack.jpg", photo((20, 120, 220)), "image/jpeg")},
        headers={"x-csrftoken": await csrf_token(staff)},
    )
    assert uploaded.status_code in (200, 303), uploaded.text
    evidence = await Evidence.objects().where(Evidence.case == case.id).first()
    response = await staff.get(f"/cases/{case.number}/claim-pack.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    flat = re.sub(r"\s+", "", text)
    assert case.number in text and "Claim letter" in text and "Timeline" in text
    assert "外壳破裂" in text  # the CJK font is embedded, so the Chinese text comes back
    assert evidence.sha256 in flat
    images = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert len(images.strip().splitlines()) >= 3  # header, rule, at least one image


async def test_push_refuses_bad_input(staff: Any, make_user: Any, smtp: tuple[Sink, str]) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    response = await staff.post(
        f"/cases/{case.number}/push",
        data={
            "party": "customs",
            "email": "a@b.c\r\nBcc: x@y.z",
            "requirement": "gift",
            "reply_by": "2001-01-01",
            "_csrf_token": await csrf_token(staff),
        },
    )
    assert response.status_code == 422
    assert not smtp[0].messages
    assert await AccessLink.count().where(AccessLink.case == case.id) == 0


async def test_claim_pack_attached_to_the_push_mail_and_links_renewed_when_we_write(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    token = await csrf_token(staff)
    reply_by = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    response = await staff.post(
        f"/cases/{case.number}/push",
        data={
            "party": "supplier",
            "email": "qa@supplier-a.cn",
            "language": "en",
            "requirement": "refund",
            "reply_by": reply_by,
            "attach_pack": "yes",
            "note": "Please check the photos and confirm a refund.",
            "_csrf_token": token,
        },
    )
    assert response.status_code == 303, response.text
    assert await work_off_queue() == 1
    mail = smtp[0].messages[0]
    attachments = list(mail.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    assert attachments[0].get_content().startswith(b"%PDF")
    day = format_day(date.fromisoformat(reply_by))  # the reader's date format, here English ("1 Dec 2026")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Please answer by " + day in body
    assert "Our note: Please check the photos and confirm a refund." in body  # what the handler wrote goes too

    link = await AccessLink.objects().where(AccessLink.case == case.id).first()
    await AccessLink.update({AccessLink.expires_at: datetime.now(UTC) + timedelta(days=1)}).where(
        AccessLink.id == link.id
    )
    sent = await staff.post(
        f"/cases/{case.number}/messages/supplier", data={"body": "Any news?", "_csrf_token": await csrf_token(staff)}
    )
    assert sent.status_code == 303
    renewed = await AccessLink.objects().where(AccessLink.id == link.id).first()
    assert renewed.expires_at > datetime.now(UTC) + timedelta(days=29)

    # A second push replaces the first link: one live link per party and case.
    await push(staff, case.number)
    rows = await AccessLink.objects().where(AccessLink.case == case.id).order_by(AccessLink.id)
    assert [row.revoked_at is None for row in rows] == [False, True]

    # The supplier answers; the overview shows the answer time.
    assert (await open_link(party, link_in(smtp[0].messages[-1]))).status_code == 303
    answered = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"response": "accept_part", "share": "40", "_csrf_token": await csrf_token(party)},
    )
    assert answered.status_code == 303, answered.text
    bad_share = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"response": "accept_part", "share": "140", "_csrf_token": await csrf_token(party)},
    )
    assert bad_share.status_code == 422
    # A refused answer stores none of its files.
    refused = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"response": "dispute", "reason": " "},
        files={"evidence": ("x.jpg", photo(), "image/jpeg")},
        headers={"x-csrftoken": await csrf_token(party)},
    )
    assert refused.status_code == 422
    assert await Evidence.count().where(Evidence.case == case.id) == 0
    overview = await staff.get(f"/parties/supplier/{case.supplier}")
    assert overview.status_code == 200
    hours = re.findall(r'<td class="answer-hours">([^<]+)</td>', overview.text)
    assert len(hours) == 1 and float(hours[0]) >= 0
    assert 'id="late-count"' not in overview.text  # answered before the reply date
    index = await staff.get("/parties")
    assert index.status_code == 200 and "Supplier SUP-A" in index.text
    medians = re.findall(r'<td class="median-hours">([^<]+)</td>', index.text)
    assert (
        len(medians) == 2 and float(medians[0]) == float(hours[0]) and medians[1] == "—"
    )  # the carrier never answered


async def test_messages_carry_attachments_through_the_evidence_pipeline(
    staff: Any, party: Any, mail_app: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    sent = await party.post(
        f"/p/cases/{case.number}/messages",
        data={"body": "Label photo"},
        files={"evidence": ("label.jpg", photo((10, 200, 10)), "image/jpeg")},
        headers={"x-csrftoken": await csrf_token(party), "HX-Request": "true"},
    )
    assert sent.status_code == 200, sent.text
    row = await Evidence.objects().where(Evidence.case == case.id).first()
    assert row.party == "supplier" and row.status == "ok"
    assert f"/p/cases/{case.number}/evidence/{row.id}/thumb" in sent.text
    staff_view = await staff.get(f"/cases/{case.number}/messages/supplier", headers={"HX-Request": "true"})
    assert f"/evidence/{row.id}/thumb" in staff_view.text and "Label photo" in staff_view.text
    # A file alone is a message; a message with neither text nor file is refused.
    empty = await party.post(
        f"/p/cases/{case.number}/messages", data={"body": " "}, headers={"x-csrftoken": await csrf_token(party)}
    )
    assert empty.status_code == 422
    # The carrier on the same case sees neither the supplier's thread nor its files.
    await push(staff, case.number, email="claims@carrier.example", party="carrier")
    async with asgi_client(mail_app) as carrier:
        await open_link(carrier, link_in(smtp[0].messages[-1]))
        thread = await carrier.get(f"/p/cases/{case.number}/messages")
        assert thread.status_code == 200 and "Label photo" not in thread.text
        assert (await carrier.get(f"/p/cases/{case.number}/evidence/{row.id}/thumb")).status_code == 404
        assert 'data-party="supplier"' not in (await carrier.get(f"/p/cases/{case.number}")).text


async def test_threads_stream_new_messages_as_server_sent_events(
    staff: Any, party: Any, mail_app: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    mail_app.state.sse_ticks, mail_app.state.sse_interval = 4, 0.3

    async def listen() -> str:
        response = await party.get(f"/p/cases/{case.number}/messages/stream", headers={"Accept": "text/event-stream"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        return str(response.text)

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.4)
    sent = await staff.post(
        f"/cases/{case.number}/messages/supplier",
        data={"body": "Live from the desk", "_csrf_token": await csrf_token(staff)},
    )
    assert sent.status_code == 303
    stream = await listening
    events = [block for block in stream.split("\r\n\r\n") if "event: thread" in block]
    assert len(events) == 2, stream  # the thread as it was, then again with the new message
    assert "Live from the desk" not in events[0] and "Live from the desk" in events[1]
    assert 'id="msgs-supplier"' in events[1]
    # Without an event-stream Accept header the same address answers the thread once.
    once = await party.get(f"/p/cases/{case.number}/messages/stream")
    assert once.status_code == 200 and "Live from the desk" in once.text
    # The staff side streams too; a party session cannot reach it.
    staff_once = await staff.get(f"/cases/{case.number}/messages/supplier/stream")
    assert staff_once.status_code == 200 and "Live from the desk" in staff_once.text
    assert (await party.get(f"/cases/{case.number}/messages/supplier/stream")).status_code in (302, 401)


async def test_revoking_the_link_ends_its_stream_at_once(
    staff: Any, party: Any, mail_app: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    mail_app.state.sse_ticks, mail_app.state.sse_interval = 50, 0.2
    link = await AccessLink.objects().where(AccessLink.case == case.id).first()

    async def listen() -> str:
        response = await party.get(f"/p/cases/{case.number}/messages/stream", headers={"Accept": "text/event-stream"})
        return str(response.text)

    started = asyncio.get_running_loop().time()
    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    revoked = await staff.post(
        f"/cases/{case.number}/links/{link.id}/revoke", data={"_csrf_token": await csrf_token(staff)}
    )
    assert revoked.status_code == 303
    await staff.post(
        f"/cases/{case.number}/messages/supplier",
        data={"body": "After the revocation", "_csrf_token": await csrf_token(staff)},
    )
    stream = await asyncio.wait_for(listening, timeout=5)
    assert asyncio.get_running_loop().time() - started < 5  # not the 10 s the stream would have run
    assert "After the revocation" not in stream


async def test_the_pack_for_a_party_leaves_our_internal_timeline_out(tmp_path: Path) -> None:
    from app.cases.events import record_event
    from app.collaboration.claim_pack import claim_pack_context
    from app.db import atomic
    from app.evidence.storage import LocalEvidenceStore

    case = await supplier_case()
    async with atomic():
        await record_event(
            case_id=case.id,
            actor=Actor.system(),
            kind="responsibility_overridden",
            data={"from": "undetermined", "to": "carrier", "reason": "Carrier signed with reservation"},
        )
        await record_event(case_id=case.id, actor=Actor.system(), kind="case_pushed", data={"party": "supplier"})
    store = LocalEvidenceStore(tmp_path / "evidence")
    ours = await claim_pack_context(case.number, store=store)
    theirs = await claim_pack_context(case.number, store=store, party="supplier")
    assert "responsibility_overridden" in [e["kind"] for e in ours["events"]]
    assert [e["kind"] for e in theirs["events"]] == ["case_pushed"]
    # The letter greets the supplier by name.
    supplier = await Supplier.objects().where(Supplier.id == case.supplier).first()
    assert theirs["addressee"] == "supplier" and theirs["addressee_name"] == supplier.name


def in_chinese(render: Any) -> str:
    from app.i18n import current_language

    marker = current_language.set("zh")
    try:
        return str(render())
    finally:
        current_language.reset(marker)


def pdf_words(content: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", "", text)


async def test_the_party_sees_the_basis_we_cite_and_never_our_hint(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    from app.i18n import gettext, rule_text
    from tests.integration.test_i18n import transit_case

    case = await transit_case()
    carrier = Carrier(code="CAR-T", name="Road Carrier", email="claims@road.example", language="zh")
    await carrier.save()
    await Case.update({Case.carrier: carrier.id}).where(Case.id == case.id)
    await sign_in(staff, await make_user("handler"))
    panel = await staff.get(f"/cases/{case.number}/collaboration")
    # "Cite this basis" is prefilled from the hint: every citation offered, ticked.
    offered = re.findall(r'name="basis" value="([^"]+)" checked', panel.text)
    assert offered == ["CISG Art. 36(1)", "CISG Art. 38", "CISG Art. 39(1)", "CMR Art. 30(1)"]
    form = {
        "party": "carrier",
        "email": "claims@road.example",
        "language": "zh",
        "requirement": "refund",
        "reply_by": (datetime.now(UTC).date() + timedelta(days=7)).isoformat(),
        "attach_pack": "yes",
        "basis_note": "Seal intact on unloading",
        "_csrf_token": await csrf_token(staff),
    }
    made_up = await staff.post(f"/cases/{case.number}/push", data={**form, "basis": ["Invented Act Art. 1"]})
    assert made_up.status_code == 422 and "Cite from the basis the hint lists" in made_up.text
    assert await AccessLink.count().where(AccessLink.case == case.id) == 0 and not smtp[0].messages
    pushed = await staff.post(f"/cases/{case.number}/push", data={**form, "basis": ["CMR Art. 30(1)"]})
    assert pushed.status_code == 303, pushed.text
    assert await work_off_queue() == 1

    cited, uncited = in_chinese(lambda: rule_text("CMR Art. 30(1)")), in_chinese(lambda: rule_text("CISG Art. 38"))
    explanation = in_chinese(lambda: rule_text(case.hint["explanation"]))
    percent = round(case.hint["confidence"] * 100)
    assert percent > 0, "the hint names a party with a confidence the pages could leak"
    confidence = in_chinese(lambda: gettext("confidence %(percent)s%%", percent=percent))
    mail = smtp[0].messages[0]
    await open_link(party, link_in(mail))
    page = await party.get(f"/p/cases/{case.number}")
    assert page.status_code == 200
    assert cited in page.text and "Seal intact on unloading" in page.text
    for internal in (uncited, explanation, confidence, 'class="countdowns"', "party-hint"):
        assert internal not in page.text, internal
    # The pack mailed to the carrier: the same basis, in the carrier's language, and nothing of the hint.
    pack = pdf_words(next(mail.iter_attachments()).get_content(), tmp_path)
    assert in_chinese(lambda: gettext("Basis of our claim")) in pack
    assert re.sub(r"\s+", "", cited) in pack and "Sealintactonunloading" in pack
    for internal in (uncited, explanation, confidence, in_chinese(lambda: gettext("Responsibility hint and basis"))):
        assert re.sub(r"\s+", "", internal) not in pack, internal
    # Our own pack keeps the hint.
    ours = pdf_words((await staff.get(f"/cases/{case.number}/claim-pack.pdf")).content, tmp_path)
    assert "Responsibilityhintandbasis" in ours, ours
    assert f"confidence{percent}%" in ours, ours


async def test_the_party_chosen_drives_the_address_and_another_partys_address_is_refused(
    staff: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()  # supplier qa@supplier-a.cn, carrier claims@sup-a.example
    await sign_in(staff, await make_user("handler"))
    panel = await staff.get(f"/cases/{case.number}/collaboration")
    assert 'value="qa@supplier-a.cn"' in panel.text and "Send to Supplier SUP-A qa@supplier-a.cn" in panel.text
    swapped = await staff.get(f"/cases/{case.number}/push/address?party=carrier", headers={"HX-Request": "true"})
    assert swapped.status_code == 200
    assert 'id="push-email"' in swapped.text and 'value="claims@sup-a.example"' in swapped.text
    assert "qa@supplier-a.cn" not in swapped.text
    assert 'hx-swap-oob="true"' in swapped.text and "Send to Carrier SUP-A claims@sup-a.example" in swapped.text
    warned = await staff.get(f"/cases/{case.number}/push/confirm?party=supplier&email=claims@sup-a.example")
    assert "claims@sup-a.example is the address of the carrier Carrier SUP-A on this case" in warned.text
    # The server refuses it whatever the page showed, in any letter case: no link, no mail.
    refused = await push_form(staff, case.number, party="supplier", email="Claims@SUP-A.example")
    assert refused.status_code == 422
    assert "Claims@SUP-A.example is the address of the carrier Carrier SUP-A on this case" in refused.text
    assert await AccessLink.count().where(AccessLink.case == case.id) == 0 and not smtp[0].messages
    # An address we sent the carrier's link to belongs to the carrier from then on.
    assert (await push_form(staff, case.number, party="carrier", email="ops@road.example")).status_code == 303
    again = await staff.get(f"/cases/{case.number}/push/address?party=carrier")
    assert '<option value="ops@road.example">' in again.text
    assert (await push_form(staff, case.number, party="supplier", email="ops@road.example")).status_code == 422
    assert (await push_form(staff, case.number, party="supplier", email="qa@supplier-a.cn")).status_code == 303
    assert [m["To"] for m in smtp[0].messages] == ["ops@road.example", "qa@supplier-a.cn"]


async def test_a_partys_answer_reaches_the_open_staff_page_and_actions_answer_with_fragments(
    staff: Any, party: Any, mail_app: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    mail_app.state.sse_ticks, mail_app.state.sse_interval = 5, 0.3

    async def listen() -> str:
        response = await staff.get(
            f"/cases/{case.number}/messages/supplier/stream", headers={"Accept": "text/event-stream"}
        )
        return str(response.text)

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.4)
    # The supplier answers from its page: htmx gets its region back, no full reload.
    answered = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"response": "accept_part", "share": "30", "_csrf_token": await csrf_token(party)},
        headers={"HX-Request": "true"},
    )
    assert answered.status_code == 200 and "HX-Refresh" not in answered.headers
    assert answered.headers["HX-Trigger"] == "case-changed"
    assert 'id="party-case"' in answered.text
    assert 'data-response="accept_part"' in answered.text and "<html" not in answered.text
    stream = await listening
    collab = [block for block in stream.split("\r\n\r\n") if "event: collab" in block]
    assert len(collab) == 1, stream  # once, for the answer; the thread's own event is apart
    # On that event the page fetches the changed regions: the answer, and the step badge out of band.
    live = await staff.get(f"/cases/{case.number}/collaboration/live", headers={"HX-Request": "true"})
    assert live.status_code == 200 and live.headers["HX-Trigger"] == "case-changed"
    assert 'id="collab-live"' in live.text and 'data-response="accept_part"' in live.text
    assert 'id="case-node" data-node="responsibility" hx-swap-oob="true"' in live.text
    # A staff action answers with the panel as it now is, not a reload.
    proposed = await staff.post(
        f"/cases/{case.number}/plan",
        data={"party": "supplier", "remedy": "refund", "details": "live round", "_csrf_token": await csrf_token(staff)},
        headers={"HX-Request": "true"},
    )
    assert proposed.status_code == 200 and "HX-Refresh" not in proposed.headers
    assert proposed.headers["HX-Trigger"] == "case-changed"
    assert 'id="collaboration"' in proposed.text and "live round" in proposed.text
    # A file the party sends shows in the live region too.
    sent = await party.post(
        f"/p/cases/{case.number}/messages",
        data={"body": "Seal photo"},
        files={"evidence": ("seal.jpg", photo((10, 90, 200)), "image/jpeg")},
        headers={"x-csrftoken": await csrf_token(party), "HX-Request": "true"},
    )
    assert sent.status_code == 200
    live = await staff.get(f"/cases/{case.number}/collaboration/live", headers={"HX-Request": "true"})
    assert 'id="party-files"' in live.text and 'alt="seal.jpg"' in live.text
    # A party's stream never says when others act: no collab events there.
    party_stream = await party.get(f"/p/cases/{case.number}/messages/stream", headers={"Accept": "text/event-stream"})
    assert "event: collab" not in party_stream.text


async def test_two_accepts_of_one_round_at_once_agree_it_once() -> None:
    """The proposal's state and the case's node are read under the case's lock: one accept wins, the other
    is told the round is no longer open, and the timeline says 'agreed' once."""
    import asyncio
    from decimal import Decimal

    from app.cases.events import Actor
    from app.cases.services import CaseDraft, case_create, case_move
    from app.cases.tables import CaseEvent
    from app.collaboration.services import plan_accept, plan_propose
    from app.errors import Conflict

    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="quality_defect"))).case
    for node in ("responsibility", "plan"):  # a second round, in the plan stage: nothing else to refuse it
        await case_move(actor=Actor.system(), number=case.number, target=node)
    supplier = Actor(kind="supplier", id="1", label="sup@example.com")
    offered = await plan_propose(
        actor=supplier, case_id=case.id, side="supplier", party="supplier", remedy="refund",
        amount=Decimal("120.00"), currency="USD", ready_by=None, details="Refund the lot",
    )  # fmt: skip
    handler = Actor(kind="user", id="7", label="Hao")
    results = await asyncio.gather(
        *(
            plan_accept(actor=handler, case_id=case.id, proposal_id=offered.id, side="us", payer="supplier")
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    assert sorted(type(result).__name__ for result in results) == ["Conflict", "PlanProposal"], results
    assert any(isinstance(result, Conflict) for result in results)
    assert await CaseEvent.count().where((CaseEvent.case == case.id) & (CaseEvent.kind == "plan_agreed")) == 1
    moves = (
        await CaseEvent.select(CaseEvent.data)
        .where((CaseEvent.case == case.id) & (CaseEvent.kind == "node_changed"))
        .order_by(CaseEvent.id)
        .output(load_json=True)
    )
    # Agreed once: a case without a customer goes on to implementation once, not twice.
    assert [move["data"]["to"] for move in moves] == ["responsibility", "plan", "implementation"]


async def test_accepting_a_plan_before_responsibility_is_settled_needs_who_pays(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    proposed = await party.post(
        f"/p/cases/{case.number}/plan",
        data={
            "remedy": "replacement",
            "currency": "CNY",
            "details": "We resend",
            "_csrf_token": await csrf_token(party),
        },
    )
    assert proposed.status_code == 303, proposed.text
    proposal = await PlanProposal.objects().where(PlanProposal.case == case.id).first()
    panel = await staff.get(f"/cases/{case.number}/collaboration")
    assert f'id="payer-{proposal.id}"' in panel.text, "the accept asks who pays while responsibility is open"
    silent = await staff.post(
        f"/cases/{case.number}/plan/{proposal.id}/accept", data={"_csrf_token": await csrf_token(staff)}
    )
    assert silent.status_code == 422 and "choose who pays" in silent.text
    assert (await PlanProposal.objects().where(PlanProposal.id == proposal.id).first()).status == "open"
    chosen = await staff.post(
        f"/cases/{case.number}/plan/{proposal.id}/accept",
        data={"payer": "shared", "_csrf_token": await csrf_token(staff)},
    )
    assert chosen.status_code == 303, chosen.text
    agreed = await CaseEvent.objects().where((CaseEvent.case == case.id) & (CaseEvent.kind == "plan_agreed")).first()
    assert json_object(agreed.data)["payer"] == "shared"
    timeline = BeautifulSoup((await staff.get(f"/cases/{case.number}")).text, "html.parser")
    line = timeline.select_one("#timeline li[data-kind=plan_agreed]").get_text(" ", strip=True)
    assert "Who pays: Shared" in line


async def test_with_responsibility_settled_the_plan_is_accepted_without_choosing(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    await Case.update({Case.confirmed_party: "supplier"}).where(Case.id == case.id)
    await party.post(
        f"/p/cases/{case.number}/plan",
        data={"remedy": "replacement", "currency": "CNY", "_csrf_token": await csrf_token(party)},
    )
    proposal = await PlanProposal.objects().where(PlanProposal.case == case.id).first()
    assert f'id="payer-{proposal.id}"' not in (await staff.get(f"/cases/{case.number}/collaboration")).text
    accepted = await staff.post(
        f"/cases/{case.number}/plan/{proposal.id}/accept", data={"_csrf_token": await csrf_token(staff)}
    )
    assert accepted.status_code == 303, accepted.text
    agreed = await CaseEvent.objects().where((CaseEvent.case == case.id) & (CaseEvent.kind == "plan_agreed")).first()
    assert "payer" not in json_object(agreed.data)
