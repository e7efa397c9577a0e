"""The pages of the agreement loop read as the issue asks: one answer date, captioned evidence, outcomes on the
party's timeline, and both positions of a dispute in the same shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup

from app.cases.events import Actor
from app.cases.tables import Case
from app.collaboration import services
from app.collaboration.tables import Dispute
from app.evidence.tables import Evidence
from tests.conftest import csrf_token, sign_in
from tests.integration import test_collaboration as collaboration
from tests.integration.test_collaboration import (
    Sink,
    link_in,
    open_link,
    party_disputes,
    photo,
    push_form,
    supplier_case,
)

# The mail-sending app and its two clients (staff, party), as in the collaboration tests.
smtp, mail_app, staff, party = collaboration.smtp, collaboration.mail_app, collaboration.staff, collaboration.party


async def pushed_case(
    staff: Any, party: Any, smtp: tuple[Sink, str], make_user: Any, *, reply_in: int = 7, code: str = "SUP-A"
) -> Case:
    case = await supplier_case(code, language="en")
    if code == "SUP-A":
        await sign_in(staff, await make_user("handler", name="Hao"))
    response = await push_form(staff, case.number, language="en", reply_in=reply_in)
    assert response.status_code == 303, response.text
    await open_link(party, link_in(smtp[0].messages[-1]))
    return case


async def test_the_supplier_page_shows_one_answer_date_and_says_which_it_is(
    staff: Any, party: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    # Asked in 30 days: the step's own time limit (3 working days) ends first and is the date shown.
    case = await pushed_case(staff, party, smtp, make_user, reply_in=30)
    page = BeautifulSoup((await party.get(f"/p/cases/{case.number}")).text, "html.parser")
    assert [dt.get_text(strip=True) for dt in page.select("#party-case dt")].count("Please answer by") == 1
    assert "This stage is due" not in page.text and page.select_one("#reply-by") is None
    deadline = page.select_one("#party-deadline")
    assert deadline["data-source"] == "stage"
    why = deadline.select_one("#party-deadline-why").get_text(" ", strip=True)
    assert "time limit of this step (Responsibility)" in why and "before the reply date" in why, why

    # Asked for tomorrow: that reply date comes first; the explanation says so.
    sooner = await pushed_case(staff, party, smtp, make_user, reply_in=1, code="SUP-S")
    page = BeautifulSoup((await party.get(f"/p/cases/{sooner.number}")).text, "html.parser")
    deadline = page.select_one("#party-deadline")
    assert deadline["data-source"] == "reply_by", deadline
    why = deadline.select_one("#party-deadline-why").get_text(" ", strip=True)
    assert why.startswith("The reply date we set when we sent you the case.") and "ends later" in why, why


async def test_evidence_is_captioned_with_what_it_shows_and_who_sent_it_not_its_hash(
    staff: Any, party: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    case = await pushed_case(staff, party, smtp, make_user)
    ours = await staff.post(
        f"/cases/{case.number}/evidence",
        data={"evidence_covers": "damage_photos"},
        files={"evidence": ("IMG_0042.jpg", photo((20, 120, 220)), "image/jpeg")},
        headers={"x-csrftoken": await csrf_token(staff)},
    )
    assert ours.status_code in (200, 303), ours.text
    await party_disputes(party, case.number, "Not our packaging", photo_name="packing.jpg")
    rows = {row.party: row for row in await Evidence.objects().where(Evidence.case == case.id)}
    page = BeautifulSoup((await party.get(f"/p/cases/{case.number}")).text, "html.parser")
    captions = [" ".join(c.get_text(" ").split()) for c in page.select("#party-evidence .evidence-caption")]
    assert captions[0].startswith("Photos of the damage and of the outer") and "· sent by us," in captions[0], captions
    assert captions[1].startswith("packing.jpg · sent by you"), captions
    assert "SHA-256" not in page.select_one("#party-evidence").get_text()
    assert rows["us"].sha256[:12] not in page.text and rows["supplier"].sha256[:12] not in page.text

    dispute = await Dispute.objects().where(Dispute.case == case.id).first()
    mediation = BeautifulSoup((await staff.get(f"/disputes/{dispute.id}")).text, "html.parser")
    ours_caption = " ".join(mediation.select_one("#our-position .evidence-caption").get_text(" ").split())
    theirs_caption = " ".join(mediation.select_one("#their-position .evidence-caption").get_text(" ").split())
    assert ours_caption.startswith("Photos of the damage") and "· sent by Hao," in ours_caption, ours_caption
    assert theirs_caption.startswith("packing.jpg · sent by Supplier · qa@supplier-a.cn"), theirs_caption
    assert "SHA-256" not in mediation.select_one(".side-by-side").get_text()
    # The hash is on the proof view: the case's evidence panel.
    panel = BeautifulSoup((await staff.get(f"/cases/{case.number}/evidence")).text, "html.parser")
    assert rows["supplier"].sha256 in [p["data-sha256"] for p in panel.select(".proof")]


async def test_the_party_timeline_says_the_outcome(
    staff: Any, party: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    case = await pushed_case(staff, party, smtp, make_user)
    await party_disputes(party, case.number, "Not our packaging")
    dispute = await Dispute.objects().where(Dispute.case == case.id).first()
    await services.dispute_decide(
        actor=Actor.system(), dispute_id=dispute.id, decision="supplier", rationale="Supplier pays 60%"
    )
    await services.plan_propose(
        actor=Actor.system(), case_id=case.id, side="us", party="supplier", remedy="partial_refund",
        amount=Decimal("480.00"), currency="EUR", ready_by=None, details="",
    )  # fmt: skip
    # After the decision the answer's Dispute is an appeal: without new evidence it is refused, nothing stored.
    again = await party.post(
        f"/p/cases/{case.number}/respond",
        data={"response": "dispute", "reason": "Still not ours", "_csrf_token": await csrf_token(party)},
    )
    assert again.status_code == 422 and "an appeal needs new evidence" in again.text
    assert await Dispute.count().where(Dispute.case == case.id) == 1
    page = BeautifulSoup((await party.get(f"/p/cases/{case.number}")).text, "html.parser")
    lines = {li["data-kind"]: " ".join(li.get_text(" ").split()) for li in page.select(".timeline li[data-kind]")}
    assert "Dispute" in lines["party_response"] and "Not our packaging" in lines["party_response"]
    assert "Not our packaging" in lines["dispute_opened"]
    assert "Supplier" in lines["dispute_decided"] and "Supplier pays 60%" in lines["dispute_decided"]
    assert "Partial refund" in lines["plan_proposed"] and "€480.00" in lines["plan_proposed"]


async def test_the_mediation_page_shows_both_positions_in_one_shape_with_rule_basis_and_deadlines(
    staff: Any, party: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    case = await pushed_case(staff, party, smtp, make_user)
    await Case.update({Case.claim_amount: Decimal("1250.00"), Case.currency: "EUR"}).where(Case.id == case.id)
    await party.post(
        f"/p/cases/{case.number}/plan",
        data={"remedy": "partial_refund", "amount": "300", "currency": "EUR", "details": "30% only",
              "_csrf_token": await csrf_token(party)},
    )  # fmt: skip
    await party_disputes(party, case.number, "Not our packaging")
    dispute = await Dispute.objects().where(Dispute.case == case.id).first()
    page = BeautifulSoup((await staff.get(f"/disputes/{dispute.id}")).text, "html.parser")
    ours, theirs = page.select_one("#our-position"), page.select_one("#their-position")
    assert [h.get_text(strip=True) for h in ours.select("h3")] == ["Claim", "What it asks for", "Evidence", "Facts"]
    assert [h.get_text(strip=True) for h in theirs.select("h3")] == ["Answer", "What it asks for", "Evidence", "Facts"]
    claim = [p.get_text(" ", strip=True) for p in ours.select(".statement")]
    assert claim[:2] == ["We ask for: Replacement.", "Our note: Photos attached"], claim
    assert ours.select_one(".amount").get_text(strip=True) == "€1,250.00"
    assert [p.get_text(strip=True) for p in theirs.select(".statement")] == ["Not our packaging"]
    assert theirs.select_one(".amount").get_text(strip=True) == "€300.00"
    assert "30% only" in theirs.select_one(".facts").get_text()
    deadlines = [li.get_text(" ", strip=True) for li in page.select("#dispute-deadlines li")]
    assert any(line.startswith("Mediation to be decided by") for line in deadlines), deadlines
    assert any(line.startswith("Party's answer asked by") for line in deadlines), deadlines
    assert page.select_one("#dispute-hint") is not None
