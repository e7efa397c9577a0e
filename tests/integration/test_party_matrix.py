"""What each party sees and may do, cell by cell (docs/SECURITY.md, "What each party sees and may do").

One case is worked with a supplier, a carrier and a customer: every item of the model is given a marker
of its own, then each party's page, claim pack and actions are read. The observed matrix must equal the
written one; changing any cell fails the test.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from app.cases.events import Actor, record_event
from app.cases.tables import Case, Message
from app.collaboration import claim_pack, links, services
from app.collaboration.links import PartyAccess
from app.collaboration.tables import Dispute, PlanProposal
from app.customers import services as customers
from app.db import atomic
from app.evidence.storage import LocalEvidenceStore
from app.evidence.tables import Evidence
from app.playbooks.tables import Playbook
from app.trade.tables import Carrier, Supplier
from tests.conftest import asgi_client, csrf_token, sign_in
from tests.integration.test_i18n import transit_case
from tests.integration.test_party_security import session_for

STAFF = Actor(kind="system", label="Desk")
OTHER = {"supplier": "carrier", "carrier": "supplier"}

# (party, item) → seen on its page and claim pack. "own"/"other" are the party's and the other party's.
SEEN: dict[tuple[str, str], bool] = {
    **{
        (party, item): seen
        for party in ("supplier", "carrier")
        for item, seen in {
            "description": True,
            "cited basis": True,
            "other's cited basis": False,
            "hint explanation": False,
            "hint confidence": False,
            "our notice deadlines": False,
            "our evidence": True,
            "own evidence": True,
            "other's evidence": False,
            "own round": True,
            "our round to it": True,
            "other's round": False,
            "our round to other": False,
            "own thread": True,
            "other's thread": False,
            "internal note": False,
            "own answer": True,
            "other's answer": False,
            "own mediation decision": True,
            "other's mediation": False,
            "our progress": True,
            "other's progress": False,
            "other's name": False,
            "other's address": False,
            "refusals about it": False,
            "who pays": False,  # recorded when its plan was accepted before responsibility was settled
            "playbook internal notes": False,
            "why we sent despite the playbook": False,
        }.items()
    },
    ("supplier", "own progress"): True,
    ("supplier", "customer answer"): True,  # the agreed plan is the supplier's
    ("carrier", "customer answer"): False,
    **{("customer", item): item == "number" for item in ("number", "description", "hint", "rounds", "messages")},
}
# (party, act) → the status the party gets.
ACTS: dict[tuple[str, str], int] = {
    ("supplier", "accept our round to it"): 303,
    ("supplier", "accept our round to other"): 404,
    ("supplier", "accept other's round"): 404,
    ("supplier", "accept own round"): 404,
    ("supplier", "propose"): 303,
    ("supplier", "write own thread"): 303,
    ("supplier", "view our evidence"): 200,
    ("supplier", "view own evidence"): 200,
    ("supplier", "view other's evidence"): 404,
    ("supplier", "report progress on its plan"): 303,
    ("carrier", "accept our round to it"): 303,
    ("carrier", "accept our round to other"): 404,
    ("carrier", "accept other's round"): 404,
    ("carrier", "accept own round"): 404,
    ("carrier", "propose"): 303,
    ("carrier", "write own thread"): 303,
    ("carrier", "view our evidence"): 200,
    ("carrier", "view own evidence"): 200,
    ("carrier", "view other's evidence"): 404,
    ("carrier", "report progress on another's plan"): 404,
    ("customer", "open the party page"): 302,  # no party session: sent to sign in, like any stranger
}


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


async def post(client: Any, url: str, data: dict[str, Any], files: Any = None) -> int:
    if files:
        response = await client.post(url, data=data, files=files, headers={"x-csrftoken": await csrf_token(client)})
    else:
        response = await client.post(url, data={**data, "_csrf_token": await csrf_token(client)})
    return int(response.status_code)


async def propose(case_id: int, party: str, details: str) -> PlanProposal:
    return await services.plan_propose(
        actor=STAFF, case_id=case_id, side="us", party=party, remedy="refund", amount=Decimal("10"),
        currency="CNY", ready_by=None, details=details,
    )  # fmt: skip


@pytest.mark.checklist(14, 19)
async def test_each_party_sees_and_may_do_exactly_what_the_model_says(app: Any, make_user: Any, tmp_path: Any) -> None:
    case = await transit_case()  # a hint with confidence, citations and CMR/CISG notice deadlines
    supplier = Supplier(code="SUP-M", name="Matrix Supplier Co", email="sup@matrix.example")
    carrier = Carrier(code="CAR-M", name="Matrix Carrier Co", email="car@matrix.example")
    await supplier.save()
    await carrier.save()
    await Case.update(
        {Case.supplier: supplier.id, Case.carrier: carrier.id, Case.description: "DESC-MARK cartons crushed"}
    ).where(Case.id == case.id)
    for kind, row in (("supplier", supplier), ("carrier", carrier)):
        # Our playbook of each party is staff data: its notes and contacts stay with us.
        await Playbook(
            party_kind=kind, party_id=row.id, notes=f"PLAYBOOK-NOTE-{kind}", evidence='[{"key": "damage_photos"}]'
        ).save()
    staff = asgi_client(app)
    await staff.__aenter__()
    clients: dict[str, Any] = {}
    try:
        await sign_in(staff, await make_user("handler"))
        ours = {"evidence": ("ours-mark.jpg", jpeg((1, 2, 3)), "image/jpeg")}
        assert await post(staff, f"/cases/{case.number}/evidence", {}, ours) in (200, 303)
        reply_by = datetime.now(UTC).date() + timedelta(days=7)
        cited = {"supplier": "CISG Art. 38", "carrier": "CMR Art. 30(1)"}
        for party, email in (("supplier", "sup@matrix.example"), ("carrier", "car@matrix.example")):
            pushed = await services.case_push(
                actor=STAFF, number=case.number, party=party, email=email, language="en",
                requirement="refund", reply_by=reply_by, basis=[cited[party]],
            )  # fmt: skip
            clients[party] = await session_for(app, pushed.token)
        async with atomic():
            customer_link, customer_token = await links.issue_link(
                case_id=case.id, party="customer", email="buyer@example.cn", language="en", now=datetime.now(UTC)
            )
        customer = asgi_client(app)
        await customer.__aenter__()
        clients["customer"] = customer
        tracked = await customer.post(f"/t/{customer_token}", data={"_csrf_token": await csrf_token(customer)})
        assert tracked.status_code == 303

        # Each counterparty disputes with a file (the one action that opens mediation) and we decide each;
        # then each writes and proposes, and we propose to each.
        marks = {"supplier": "SUP", "carrier": "CAR"}
        for party, client in ((p, clients[p]) for p in ("supplier", "carrier")):
            mark = marks[party]
            colour = (200, 9, 9) if party == "supplier" else (9, 9, 200)
            files = {"evidence": (f"{party}-mark.jpg", jpeg(colour), "image/jpeg")}
            if party == "supplier":
                # Suggested answers are on the answer form while responsibility is open.
                assert 'id="suggested-answers"' in (await client.get(f"/p/cases/{case.number}")).text
            answer = {"response": "dispute", "reason": f"RESP-{mark} DISPUTE-{mark}"}
            assert await post(client, f"/p/cases/{case.number}/respond", answer, files) == 303
            dispute = await Dispute.objects().where(Dispute.opened_by == party).first()
            await services.dispute_decide(
                actor=STAFF, dispute_id=dispute.id, decision="shared", rationale=f"RATIONALE-{mark}"
            )
        async with atomic():
            await record_event(
                case_id=case.id, actor=STAFF, kind="playbook_rules_overridden",
                data={"party": "supplier", "rules": [{"kind": "missing_item"}], "reason": "OVERRIDE-REASON"},
            )  # fmt: skip
        acts: dict[tuple[str, str], int] = {}
        for party in ("carrier", "supplier"):  # our round to the supplier is the later one
            url = f"/p/cases/{case.number}/messages"
            acts[(party, "write own thread")] = await post(clients[party], url, {"body": f"MSG-{marks[party]}"})
            data = {"remedy": "refund", "amount": "1", "details": f"{marks[party]}-ROUND"}
            acts[(party, "propose")] = await post(clients[party], f"/p/cases/{case.number}/plan", data)
            await propose(case.id, party, f"US-TO-{marks[party]}")
        async with atomic():
            await Message(
                case=case.id, party="supplier", author_kind="user", body="NOTE-INTERNAL", internal=True
            ).save()

        rounds = {p.details: p for p in await PlanProposal.objects().where(PlanProposal.case == case.id)}
        files = {e.filename: e for e in await Evidence.objects().where(Evidence.case == case.id)}
        for party in ("supplier", "carrier"):
            mark, other = marks[party], marks[OTHER[party]]
            client, base = clients[party], f"/p/cases/{case.number}"
            for act, name in (
                ("accept our round to other", f"US-TO-{other}"),
                ("accept other's round", f"{other}-ROUND"),
                ("accept own round", f"{mark}-ROUND"),
            ):
                acts[(party, act)] = await post(client, f"{base}/plan/{rounds[name].id}/accept", {})
            for act, name in (
                ("view our evidence", "ours-mark.jpg"),
                ("view own evidence", f"{party}-mark.jpg"),
                ("view other's evidence", f"{OTHER[party]}-mark.jpg"),
            ):
                acts[(party, act)] = (await client.get(f"{base}/evidence/{files[name].id}/thumb")).status_code
        # Each accepts ours; the supplier's round is the later one, so the agreed plan is the supplier's.
        for party in ("carrier", "supplier"):
            url = f"/p/cases/{case.number}/plan/{rounds['US-TO-' + marks[party]].id}/accept"
            acts[(party, "accept our round to it")] = await post(clients[party], url, {})
        buyer = PartyAccess(customer_link.id, case.id, "customer", "buyer@example.cn", "en")
        await customers.customer_confirm_plan(access=buyer, note="CUSTOMER-COMMENT", now=datetime.now(UTC))
        await services.progress_update(actor=STAFF, case_id=case.id, step="other", note="PROG-US")
        reports = (("supplier", "report progress on its plan"), ("carrier", "report progress on another's plan"))
        for party, act in reports:
            progress = {"step": "other", "note": f"PROG-{marks[party]}"}
            acts[(party, act)] = await post(clients[party], f"/p/cases/{case.number}/progress", progress)
        async with atomic():  # as if the carrier had reported on a plan of its own earlier
            await record_event(
                case_id=case.id, actor=Actor(kind="carrier", id="0", label="car@matrix.example"),
                kind="progress_update", data={"step": "other", "tracking_no": "", "note": "PROG-CAR"},
            )  # fmt: skip
        acts[("customer", "open the party page")] = (await customer.get(f"/p/cases/{case.number}")).status_code

        # What each one reads: its page and the claim pack we would mail it.
        environment = app.template_engine.engine
        store = LocalEvidenceStore(app.state.settings.data_dir / "evidence")
        seen: dict[tuple[str, str], bool] = {}
        for party in ("supplier", "carrier"):
            mark, other = marks[party], marks[OTHER[party]]
            page = (await clients[party].get(f"/p/cases/{case.number}")).text
            context = await claim_pack.claim_pack_context(case.number, store=store, party=party)
            text = page + environment.get_template(claim_pack.TEMPLATE).render(**context)
            markers = {
                "description": ["DESC-MARK"],
                "cited basis": [cited[party]],
                "other's cited basis": [cited[OTHER[party]]],
                "hint explanation": ["Clean receipt"],
                "hint confidence": ["confidence"],
                "our notice deadlines": ["CMR Art. 32(1)", "CISG Art. 39(2)"],
                "our evidence": ["ours-mark.jpg"],
                "own evidence": [f"{party}-mark.jpg"],
                "other's evidence": [f"{OTHER[party]}-mark.jpg"],
                "own round": [f"{mark}-ROUND"],
                "our round to it": [f"US-TO-{mark}"],
                "other's round": [f"{other}-ROUND"],
                "our round to other": [f"US-TO-{other}"],
                "own thread": [f"MSG-{mark}"],
                "other's thread": [f"MSG-{other}"],
                "internal note": ["NOTE-INTERNAL"],
                "own answer": [f"RESP-{mark}"],
                "other's answer": [f"RESP-{other}"],
                "own mediation decision": [f"RATIONALE-{mark}"],
                "other's mediation": [f"DISPUTE-{other}", f"RATIONALE-{other}"],
                "our progress": ["PROG-US"],
                "other's progress": [f"PROG-{other}"],
                "customer answer": ["CUSTOMER-COMMENT"],
                "other's name": [f"Matrix {'Carrier' if party == 'supplier' else 'Supplier'} Co"],
                "other's address": ["car@matrix.example" if party == "supplier" else "sup@matrix.example"],
                "refusals about it": ["Refused"],
                "who pays": ["Who pays"],
                "playbook internal notes": ["PLAYBOOK-NOTE-"],
                "why we sent despite the playbook": ["OVERRIDE-REASON", "despite the party"],
            }
            if party == "supplier":
                markers["own progress"] = ["PROG-SUP"]
            for item, words in markers.items():
                seen[(party, item)] = any(word in text for word in words)
        tracking = (await customer.get("/track")).text
        for item, words in {
            "number": [case.number],
            "description": ["DESC-MARK"],
            "hint": ["Clean receipt", "confidence"],
            "rounds": ["US-TO-SUP", "SUP-ROUND"],
            "messages": ["MSG-SUP", "MSG-CAR"],
        }.items():
            seen[("customer", item)] = any(word in tracking for word in words)

        assert seen == SEEN
        assert acts == ACTS
        # The supplier's timeline names no event of the carrier's business: no reason of another's mediation.
        supplier_page = (await clients["supplier"].get(f"/p/cases/{case.number}")).text
        assert "DISPUTE-CAR" not in supplier_page and "RESP-CAR" not in supplier_page
    finally:
        for client in (staff, *clients.values()):
            await client.__aexit__(None, None, None)
