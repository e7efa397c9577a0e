"""Bulk "send to supplier" from the grid: each ticked case to its own supplier, by real SMTP, each on its own link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import Case, CaseEvent
from app.collaboration.tables import AccessLink
from app.trade.tables import Supplier
from tests.conftest import csrf_token, sign_in, work_off_queue
from tests.integration.test_collaboration import Sink, link_in, mail_app, smtp, staff  # noqa: F401 - fixtures


async def case_for(supplier: Supplier | None, text: str) -> Case:
    draft = CaseDraft(
        problem_type="quality_defect",
        description=text,
        supplier_id=supplier.id if supplier else None,
        order_number=f"PO-{text[:6]}",
    )
    return (await case_create(actor=Actor.system(), draft=draft)).case


async def test_ticked_cases_go_each_to_their_supplier_and_the_others_are_listed_with_the_reason(
    staff: Any,  # noqa: F811
    make_user: Any,
    smtp: tuple[Sink, str],  # noqa: F811
) -> None:
    sink, _url = smtp
    german = Supplier(code="SUP-DE", name="Werk Berlin", email="qs@werk.example", language="de")
    chinese = Supplier(code="SUP-CN", name="深圳工厂", email="qa@factory.example", language="zh")
    silent = Supplier(code="SUP-NO", name="No Address Ltd", email="")
    for supplier in (german, chinese, silent):
        await supplier.save()
    first = await case_for(german, "Cracked housing")
    second = await case_for(chinese, "Wrong colour")
    no_address = await case_for(silent, "Bent frame")
    closed = await case_for(german, "Already settled")
    await case_move(actor=Actor.system(), number=closed.number, target="cancelled", reason="Customer withdrew")
    await sign_in(staff, await make_user("handler"))
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(staff)}
    reply_by = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    ticked = [str(case.id) for case in (first, second, no_address, closed)]

    response = await staff.post(
        "/grid/push",
        data={"case": ticked, "requirement": "replacement", "reply_by": reply_by, "note": "Please check"},
        headers=hx,
    )

    assert response.status_code == 200, response.text
    assert "2 cases sent to their suppliers" in response.text
    assert not sink.messages, "the request only queues the mails"
    assert await work_off_queue() == 2  # one task per case pushed
    assert f"{no_address.number}</a>: no email address on record for the supplier" in response.text
    assert f"{closed.number}</a>: the case is closed" in response.text
    # One mail per supplier, to the address on record, each with a link that opens only its own case.
    assert sorted(mail["To"] for mail in sink.messages) == ["qa@factory.example", "qs@werk.example"]
    links = await AccessLink.select(AccessLink.case, AccessLink.email).where(AccessLink.party == "supplier")
    assert {(row["case"], row["email"]) for row in links} == {
        (first.id, "qs@werk.example"),
        (second.id, "qa@factory.example"),
    }
    assert len({link_in(mail) for mail in sink.messages}) == 2
    pushed = await CaseEvent.select(CaseEvent.case).where(CaseEvent.kind == "case_pushed")
    assert sorted(row["case"] for row in pushed) == sorted([first.id, second.id])
    nodes = await Case.select(Case.number, Case.node).where(Case.id.is_in([first.id, second.id]))
    assert {row["node"] for row in nodes} == {"responsibility"}


async def test_bulk_push_with_a_missing_date_or_no_case_says_what_is_wrong_and_sends_nothing(
    staff: Any,  # noqa: F811
    make_user: Any,
    smtp: tuple[Sink, str],  # noqa: F811
) -> None:
    sink, _url = smtp
    supplier = Supplier(code="SUP-X", name="X", email="x@x.example")
    await supplier.save()
    case = await case_for(supplier, "Scratched lens")
    await sign_in(staff, await make_user("handler"))
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(staff)}

    no_date = await staff.post("/grid/push", data={"case": [str(case.id)], "requirement": "replacement"}, headers=hx)
    assert no_date.status_code == 422
    assert "Choose the date by which they should reply" in no_date.text
    past = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    late = await staff.post(
        "/grid/push", data={"case": [str(case.id)], "requirement": "replacement", "reply_by": past}, headers=hx
    )
    assert late.status_code == 422 and "cannot be in the past" in late.text
    nothing = await staff.post("/grid/push", data={"requirement": "replacement", "reply_by": "2099-01-01"}, headers=hx)
    assert nothing.status_code == 422 and "Tick the cases to send" in nothing.text
    bad_date = await staff.post(
        "/grid/push", data={"case": [str(case.id)], "requirement": "replacement", "reply_by": "31.12."}, headers=hx
    )
    assert bad_date.status_code == 422 and "YYYY-MM-DD" in bad_date.text
    assert sink.messages == []
    assert await CaseEvent.count().where(CaseEvent.kind == "case_pushed") == 0


async def test_warehouse_staff_cannot_bulk_push(client: Any, login: Any) -> None:
    await login("warehouse")
    token = await csrf_token(client)
    hx = {"HX-Request": "true", "x-csrftoken": token}
    refused = await client.post("/grid/push", data={"case": ["1"]}, headers=hx)
    assert refused.status_code == 403
