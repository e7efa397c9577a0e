"""The desk, supplier and customer flows as a new user meets them: the next step after the party is settled,
what we ask for as a choice, the supplier mail's greeting and order line, the one answer form, the tracking link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import Case, CaseEvent
from app.collaboration import links
from app.collaboration.tables import AccessLink, PlanProposal
from app.tracking.policies import configure_policy
from app.trade.tables import OrderLine, Product, PurchaseOrder, Supplier
from tests.conftest import csrf_token, sign_in
from tests.integration import test_collaboration as collaboration
from tests.integration.test_collaboration import Sink, link_in, open_link, push_form, supplier_case
from tests.integration.test_tracking import agreed_case, customer_link, open_tracking

# The mail-sending app and its clients, as the collaboration tests have them.
mail_app, smtp, staff, party = collaboration.mail_app, collaboration.smtp, collaboration.staff, collaboration.party


async def ordered_case(language: str = "en") -> Case:
    """A case on line 2 of an order: 12 of 200 delivered heaters affected, from a supplier named in full."""
    supplier = await Supplier.objects().create(
        code="SUP-NB", name="Ningbo Heat Co", email="qa@ningbo-heat.cn", language=language
    )
    product = await Product.objects().create(sku="HT-200", name="Oil heater 2 kW", supplier=supplier.id)
    order = await PurchaseOrder.objects().create(number="PO-7788", supplier=supplier.id)
    line = await OrderLine.objects().create(
        line_key="PO-7788/2",
        purchase_order=order.id,
        line_no=2,
        product=product.id,
        quantity_ordered=200,
        quantity_delivered=200,
    )
    draft = CaseDraft(
        problem_type="quality_defect",
        description="Cracked housings",
        supplier_id=supplier.id,
        order_number="PO-7788",
        quantity_affected=12,
    )
    case = (await case_create(actor=Actor.system(), draft=draft)).case
    await Case.update({Case.order_line: line.id, Case.purchase_order: order.id}).where(Case.id == case.id)
    return case


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "Dear Ningbo Heat Co,",
                "Order: PO-7788, line 2",
                "Product: HT-200 Oil heater 2 kW",
                "Quantity affected: 12 of 200 delivered",
                "We ask for: Replacement.",
            ],
        ),
        (
            "zh",
            [
                "Ningbo Heat Co，您好：",
                "订单：PO-7788，第 2 行",
                "产品：HT-200 Oil heater 2 kW",
                "已交付 200 件中的 12 件",
            ],
        ),
    ],
)
async def test_the_push_mail_greets_the_party_by_name_and_names_the_order_line_product_and_quantity(
    staff: Any, make_user: Any, smtp: tuple[Sink, str], language: str, words: list[str]
) -> None:
    sink, _url = smtp
    case = await ordered_case(language)
    await sign_in(staff, await make_user("handler"))
    sent = await push_form(staff, case.number, email="qa@ningbo-heat.cn", language=language)
    assert sent.status_code == 303, sent.text
    body = sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    for word in words:
        assert word in body, (word, body)
    assert body.index(words[0]) < body.index(words[1])  # the greeting first
    link_in(sink.messages[0])


async def test_what_we_ask_for_and_the_remedy_are_choices_never_defaults(
    staff: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    sink, _url = smtp
    case = await supplier_case(language="en")
    await sign_in(staff, await make_user("handler"))
    panel = BeautifulSoup((await staff.get(f"/cases/{case.number}/collaboration")).text, "html.parser")
    choice = panel.select_one("#push-requirement")
    assert choice.has_attr("required") and choice.select_one("option[selected]") is None
    assert choice.select("option")[0]["value"] == ""
    refused = await staff.post(
        f"/cases/{case.number}/push",
        data={
            "party": "supplier",
            "email": "qa@supplier-a.cn",
            "language": "en",
            "reply_by": (datetime.now(UTC).date() + timedelta(days=7)).isoformat(),
            "_csrf_token": await csrf_token(staff),
        },
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422 and "Choose what we ask for." in refused.text
    assert await AccessLink.count().where(AccessLink.case == case.id) == 0 and sink.messages == []
    assert (await push_form(staff, case.number, language="en")).status_code == 303
    plan = await staff.post(
        f"/cases/{case.number}/plan",
        data={"amount": "50", "currency": "EUR", "_csrf_token": await csrf_token(staff)},
        headers={"HX-Request": "true"},
    )
    assert plan.status_code == 422 and "Choose a remedy." in plan.text
    assert await PlanProposal.count().where(PlanProposal.case == case.id) == 0


async def test_the_case_page_names_the_next_step_once_the_party_is_settled(
    staff: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    case = await supplier_case(language="en")
    await sign_in(staff, await make_user("handler"))
    page = BeautifulSoup((await staff.get(f"/cases/{case.number}")).text, "html.parser")
    assert page.select_one("#next-step") is None  # nothing settled yet
    settled = await staff.post(
        f"/cases/{case.number}/responsibility",
        data={"party": "supplier", "reason": "Cracks under intact packaging", "_csrf_token": await csrf_token(staff)},
        headers={"HX-Request": "true"},
    )
    assert settled.status_code == 200, settled.text
    step = BeautifulSoup(settled.text, "html.parser").select_one("#next-step")
    assert step["data-kind"] == "push" and "Next: send the claim to Supplier SUP-A." in step.get_text(" ")
    # The case stays at "reported" until the claim is sent; the action opens the push form for that party.
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "reported"
    action = step.select_one("#next-step-push")
    panel = BeautifulSoup((await staff.get(action["hx-get"])).text, "html.parser")
    assert panel.select_one("details:has(#push-form)").has_attr("open")
    assert panel.select_one("#push-party option[selected]")["value"] == "supplier"
    assert (await push_form(staff, case.number, language="en")).status_code == 303
    page = BeautifulSoup((await staff.get(f"/cases/{case.number}")).text, "html.parser")
    step = page.select_one("#next-step")
    assert step["data-kind"] == "wait" and "Next: Supplier SUP-A answers the claim." in step.get_text(" ")
    assert page.select_one("#case-node")["data-node"] == "responsibility"


async def test_one_answer_form_carries_the_answer_and_a_plan_and_the_timeline_shows_share_and_amount(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    sink, _url = smtp
    case = await supplier_case(language="en")
    await sign_in(staff, await make_user("handler", name="Hao"))
    assert (await push_form(staff, case.number, language="en")).status_code == 303
    assert (await open_link(party, link_in(sink.messages[0]))).status_code == 303
    form = BeautifulSoup((await party.get(f"/p/cases/{case.number}")).text, "html.parser").select_one("#respond-form")
    assert form.select_one("#remedy") is not None and form.select("label.choice input[name=response]")
    # An amount without a remedy is refused by name, and nothing of the answer is kept.
    base = {"response": "accept_part", "share": "40", "_csrf_token": await csrf_token(party)}
    refused = await party.post(f"/p/cases/{case.number}/respond", data={**base, "amount": "480"})
    assert refused.status_code == 422 and "Choose a remedy." in refused.text
    assert await CaseEvent.count().where((CaseEvent.case == case.id) & (CaseEvent.kind == "party_response")) == 0
    plan = {"remedy": "partial_refund", "amount": "480", "currency": "EUR", "details": "40% of the invoice"}
    sent = await party.post(f"/p/cases/{case.number}/respond", data={**base, **plan})
    assert sent.status_code == 303, sent.text
    assert await CaseEvent.count().where((CaseEvent.case == case.id) & (CaseEvent.kind == "party_response")) == 1
    proposal = await PlanProposal.objects().where(PlanProposal.case == case.id).first()
    assert proposal.proposed_by == "supplier" and proposal.amount == Decimal("480.00")
    # A plan alone, without a new answer, is a counter-offer.
    alone = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"remedy": "replacement", "details": "Ship 12 new units", "_csrf_token": await csrf_token(party)},
    )
    assert alone.status_code == 303 and await PlanProposal.count().where(PlanProposal.case == case.id) == 2
    nothing = await party.post(f"/p/cases/{case.number}/respond", data={"_csrf_token": await csrf_token(party)})
    assert nothing.status_code == 422 and "Choose an answer." in nothing.text

    timeline = BeautifulSoup((await staff.get(f"/cases/{case.number}")).text, "html.parser").select_one("#timeline")
    answer = timeline.select_one("li[data-kind=party_response] .outcome").get_text(strip=True)
    assert answer == "accepted in part: 40%"
    terms = [
        li.select_one(".plan-terms").get_text(" ", strip=True) for li in timeline.select("li[data-kind=plan_proposed]")
    ]
    assert terms[0] == "Partial refund · €480.00" and terms[1] == "Replacement"


async def test_the_party_reads_every_time_in_its_zone_and_messages_signed_by_name(
    staff: Any, party: Any, make_user: Any, smtp: tuple[Sink, str]
) -> None:
    sink, _url = smtp
    case = await supplier_case(language="en")
    await Supplier.update({Supplier.time_zone: "Europe/Berlin"}).where(Supplier.code == "SUP-A")
    await sign_in(staff, await make_user("handler", email="hao@company.example", name="Hao Li"))
    assert (await push_form(staff, case.number, language="en")).status_code == 303
    await open_link(party, link_in(sink.messages[0]))
    await party.post(
        f"/p/cases/{case.number}/messages", data={"body": "From the factory", "_csrf_token": await csrf_token(party)}
    )
    await staff.post(
        f"/cases/{case.number}/messages/supplier",
        data={"body": "From the desk", "_csrf_token": await csrf_token(staff)},
    )
    for address in (f"/p/cases/{case.number}", f"/p/cases/{case.number}/messages"):
        page = BeautifulSoup((await party.get(address)).text, "html.parser")
        times = [t.get_text(" ", strip=True) for t in page.select("time")]
        assert times and all("Central European" in text for text in times), times
        authors = [a.get_text(strip=True) for a in page.select("#msgs-supplier .author")]
        assert authors == ["Supplier SUP-A", "Hao Li"], authors
        assert "qa@supplier-a.cn" not in page.select_one("#msgs-supplier").get_text()


@pytest.mark.usefixtures("tokens_kept_out_of_logs")  # every log line is searched for the token issued
async def test_the_tracking_page_speaks_plainly_shows_the_resolution_and_a_contact_and_lasts_with_its_link(
    client: Any, settings: Any
) -> None:
    configure_policy(settings.data_dir)
    case = await agreed_case(with_customer=False)  # agreed with no customer to ask: carried out at once
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "implementation"
    link, token = await customer_link(case.id, language="en")
    opened = await open_tracking(client, token)
    cookie = opened.headers["set-cookie"]
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert max_age > links.SESSION_HOURS * 3600 and max_age <= (link.expires_at - datetime.now(UTC)).total_seconds() + 5
    page = BeautifulSoup((await client.get("/track")).text, "html.parser")
    steps = [li.get_text(" ", strip=True) for li in page.select("ol.progress li")]
    assert not any(word in " ".join(steps) for word in ("Responsibility", "Implementation"))
    assert page.select_one("#customer-step").get_text(" ", strip=True) == "Now: We put it right"
    assert page.select_one("#resolution-remedy").get_text(strip=True) == "Partial refund"
    assert page.select_one("#resolution-amount").get_text(strip=True) == "€640.00"
    assert "SUPPLIER-ONLY" not in page.get_text()
    assert page.select_one("#contact-company").get_text(strip=True) == "Crossclaim"
    assert page.select_one("#contact-email")["href"].startswith("mailto:claims@crossclaim.localhost")
    # A day later (past the old 12-hour session) the cookie still opens the page; the old address goes there too.
    later = datetime.now(UTC) + timedelta(days=3)
    value = client.cookies["cc_track"]
    access = await links.session_access(
        settings.secret_key, value, now=later, parties=("customer",), lasts_with_link=True
    )
    assert access is not None and access.case_id == case.id
    assert await links.session_access(settings.secret_key, value, now=later, parties=("customer",)) is None
    old = await client.get("/t/opened")
    assert old.status_code == 303 and old.headers["location"] == "/track"
    # Past the link's life, or revoked, it ends.
    after = link.expires_at + timedelta(seconds=1)
    assert (
        await links.session_access(settings.secret_key, value, now=after, parties=("customer",), lasts_with_link=True)
        is None
    )
    await case_move(actor=Actor.system(), number=case.number, target="completed")
    await links.revoke_links(case_id=case.id, party="customer", now=datetime.now(UTC))
    assert (await client.get("/track")).status_code == 404


async def test_the_tracking_contact_comes_from_the_settings(settings: Any) -> None:
    from dataclasses import replace

    from app.asgi import create_app
    from tests.conftest import asgi_client

    configure_policy(settings.data_dir)
    company = replace(
        settings, company_name="Bright Home GmbH", contact_email="service@bright.example", contact_phone="+49 30 1234"
    )
    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="quality_defect"))).case
    _link, token = await customer_link(case.id, language="zh")
    async with asgi_client(create_app(company)) as client:
        await open_tracking(client, token)
        page = BeautifulSoup((await client.get("/track")).text, "html.parser")
    assert page.select_one("#contact-company").get_text(strip=True) == "Bright Home GmbH"
    assert page.select_one("#contact-email").get_text(strip=True) == "service@bright.example"
    assert page.select_one("#contact-phone")["href"] == "tel:+49301234"
    assert page.select_one("#customer-contact-title").get_text(strip=True) == "有疑问？请联系我们"
    assert page.select_one('li[data-step="responsibility"]').get_text(" ", strip=True).startswith("查明问题原因")
