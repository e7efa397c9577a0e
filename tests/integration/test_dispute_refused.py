"""A dispute that is refused keeps nothing: its files and their timeline events go with it."""

from __future__ import annotations

from typing import Any

from app.cases.tables import Case, CaseEvent
from app.collaboration.tables import Dispute
from app.evidence.tables import Evidence
from tests.conftest import csrf_token, sign_in
from tests.integration.test_collaboration import (  # noqa: F401 - fixtures
    Sink,
    link_in,
    mail_app,
    open_link,
    party,
    photo,
    push,
    smtp,
    staff,
    supplier_case,
)


async def evidence_on(case_id: int) -> tuple[int, int]:
    rows = await Evidence.count().where(Evidence.case == case_id)
    added = await CaseEvent.count().where((CaseEvent.case == case_id) & (CaseEvent.kind == "evidence_added"))
    return rows, added


async def test_a_refused_dispute_leaves_no_file_and_no_event_on_the_case(
    staff: Any,  # noqa: F811
    party: Any,  # noqa: F811
    make_user: Any,
    smtp: tuple[Sink, str],  # noqa: F811
) -> None:
    case = await supplier_case()
    await sign_in(staff, await make_user("handler"))
    await push(staff, case.number)
    await open_link(party, link_in(smtp[0].messages[0]))
    refused = await party.post(
        f"/p/cases/{case.number}/dispute",
        data={"reason": "  ", "_csrf_token": await csrf_token(party)},
        files={"evidence": ("crushed.jpg", photo(), "image/jpeg")},
    )
    assert refused.status_code == 422, refused.text
    assert await evidence_on(case.id) == (0, 0)
    assert await Dispute.count().where(Dispute.case == case.id) == 0
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "responsibility"
    # The same form with a reason opens the dispute with its file, once.
    opened = await party.post(
        f"/p/cases/{case.number}/dispute",
        data={"reason": "The forwarder's report shows crushing", "_csrf_token": await csrf_token(party)},
        files={"evidence": ("crushed.jpg", photo(), "image/jpeg")},
    )
    assert opened.status_code == 303, opened.text
    assert await evidence_on(case.id) == (1, 1)
    dispute = await Dispute.objects().where(Dispute.case == case.id).first()
    row = await Evidence.objects().where(Evidence.case == case.id).first()
    assert dispute is not None and row.party == "supplier"
    event = await CaseEvent.select(CaseEvent.data).where(
        (CaseEvent.case == case.id) & (CaseEvent.kind == "dispute_opened")
    ).first()
    assert str(row.id) in str(event["data"])
