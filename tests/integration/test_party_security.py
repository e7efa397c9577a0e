"""Magic links under attack: one generic page, no consuming GETs, revocation, IDOR over every party route, 429."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.accounts.roles import PARTY
from app.cases.events import Actor
from app.cases.services import case_move
from app.cases.tables import Case, CaseEvent
from app.collaboration import links, services
from app.collaboration.tables import AccessLink, Dispute, PlanProposal
from app.db import atomic
from app.evidence.tables import Evidence
from tests.conftest import asgi_client, csrf_token, sign_in
from tests.integration.test_collaboration import photo, supplier_case

# Every log line these tests cause is searched for the tokens they issue.
pytestmark = pytest.mark.usefixtures("tokens_kept_out_of_logs")


async def issued(case_id: int, *, party: str = "supplier", days: int = 30) -> tuple[AccessLink, str]:
    async with atomic():
        return await links.issue_link(
            case_id=case_id, party=party, email=f"{party}@example.cn", language="en", now=datetime.now(UTC), days=days
        )


async def session_for(app: Any, token: str) -> Any:
    client = asgi_client(app)
    await client.__aenter__()
    response = await client.post(f"/l/{token}", data={"_csrf_token": await csrf_token(client)})
    assert response.status_code == 303, response.text
    return client


async def generic(client: Any, token: str) -> tuple[int, str]:
    response = await client.post(f"/l/{token}", data={"_csrf_token": await csrf_token(client)})
    start = response.text.index('<section class="panel" id="link-invalid">')
    return response.status_code, response.text[start : response.text.index("</section>", start)]


@pytest.mark.checklist(12)
async def test_expired_revoked_tampered_and_unknown_tokens_get_one_generic_page(client: Any) -> None:
    case = await supplier_case()
    _live, live_token = await issued(case.id)
    expired, expired_token = await issued(case.id, days=30)
    await AccessLink.update({AccessLink.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        AccessLink.id == expired.id
    )
    _revoked, revoked_token = await issued(case.id, party="carrier")
    await links.revoke_links(case_id=case.id, party="carrier", now=datetime.now(UTC))
    tampered = live_token[:-1] + ("A" if live_token[-1] != "A" else "B")
    answers = {
        name: await generic(client, token)
        for name, token in {
            "expired": expired_token,
            "revoked": revoked_token,
            "tampered": tampered,
            "unknown": "x" * 43,
        }.items()
    }
    assert {status for status, _ in answers.values()} == {404}
    assert len({body for _, body in answers.values()}) == 1
    assert "cc_party" not in client.cookies
    assert await CaseEvent.count().where(CaseEvent.kind == "party_link_opened") == 0


@pytest.mark.checklist(13, 15, 20)
async def test_get_and_head_never_consume_and_the_token_leaves_the_url(
    client: Any, caplog: Any, monkeypatch: Any
) -> None:
    import io
    import json

    from app.logs import access_log

    case = await supplier_case()
    link, token = await issued(case.id)
    caplog.set_level(logging.INFO)
    access_log.flush()
    monkeypatch.setattr(access_log, "stream", io.StringIO())  # access lines are written apart, in batches
    for _ in range(3):
        assert (await client.get(f"/l/{token}")).status_code == 200
        await client.head(f"/l/{token}")
    row = await AccessLink.objects().where(AccessLink.id == link.id).first()
    assert row.last_used_at is None
    assert await CaseEvent.count().where(CaseEvent.case == case.id) == 1  # only case_reported
    response = await client.post(f"/l/{token}", data={"_csrf_token": await csrf_token(client)})
    assert response.status_code == 303 and token not in response.headers["location"]
    assert response.headers["referrer-policy"] == "no-referrer"
    page = await client.get(response.headers["location"])
    assert page.status_code == 200 and token not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    access_log.flush()
    ours = [record.__dict__ for record in caplog.records if record.name.startswith("crossclaim")]
    ours += [json.loads(line) for line in access_log.stream.getvalue().splitlines()]
    assert any(record.get("path") == "/l/…" for record in ours)
    assert all(token not in str(record) for record in ours)
    # The link is reusable (a second device); a POST without CSRF is refused.
    assert (await asgi_client(client._transport.app).post(f"/l/{token}")).status_code == 403


@pytest.mark.checklist(15, 34)
async def test_a_link_posted_without_its_csrf_cookie_keeps_the_token_out_of_every_log_line(app: Any) -> None:
    """A mail scanner or an expired cookie posts the link bare: refused, logged, and the token not in the log."""
    case = await supplier_case()
    _link, token = await issued(case.id)
    async with asgi_client(app) as scanner:
        for path in (f"/l/{token}", f"/t/{token}", f"/l/{token}/extra"):
            refused = await scanner.post(path, headers={"HX-Request": "true"})
            assert refused.status_code in (403, 404, 405)
        assert (await scanner.post(f"/l/{token}")).status_code == 403


@pytest.mark.checklist(16)
async def test_revoking_the_link_ends_the_session_at_once(app: Any, client: Any, make_user: Any) -> None:
    case = await supplier_case()
    link, token = await issued(case.id)
    party = await session_for(app, token)
    try:
        assert (await party.get(f"/p/cases/{case.number}")).status_code == 200
        await sign_in(client, await make_user("handler"))
        revoked = await client.post(
            f"/cases/{case.number}/links/{link.id}/revoke", data={"_csrf_token": await csrf_token(client)}
        )
        assert revoked.status_code == 303
        after = await party.get(f"/p/cases/{case.number}")
        assert after.status_code in (302, 401) and case.number not in after.text
    finally:
        await party.__aexit__(None, None, None)


@pytest.mark.checklist(12)
async def test_tampered_session_cookie_is_refused(app: Any) -> None:
    case = await supplier_case()
    _link, token = await issued(case.id)
    party = await session_for(app, token)
    try:
        value = party.cookies["cc_party"]
        link_id, issued_at, signature = value.split(".")
        party.cookies.set("cc_party", f"{link_id}.{int(issued_at) + 1}.{signature}", path="/p")
        assert (await party.get(f"/p/cases/{case.number}")).status_code in (302, 401)
    finally:
        await party.__aexit__(None, None, None)


def party_routes(app: Any) -> list[tuple[str, str]]:
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("roles") == PARTY:
                rows.extend(
                    (method, route.path) for method in handler.http_methods if method not in {"OPTIONS", "HEAD"}
                )
    return rows


@pytest.mark.checklist(14, 19)
async def test_supplier_a_cannot_read_or_act_on_supplier_b_case(app: Any) -> None:
    case_a = await supplier_case("SUP-A", "a@example.cn")
    case_b = await supplier_case("SUP-B", "b@example.cn")
    _link_a, token_a = await issued(case_a.id)
    _link_b, token_b = await issued(case_b.id)
    party_b = await session_for(app, token_b)
    party_a = await session_for(app, token_a)
    try:
        # B's case has a file of theirs and a proposal, so there is something to steal.
        await case_move(actor=Actor.system(), number=case_b.number, target="responsibility")
        uploaded = await party_b.post(
            f"/p/cases/{case_b.number}/respond",
            data={"response": "dispute", "reason": "mine"},
            files={"evidence": ("b.jpg", photo(), "image/jpeg")},
            headers={"x-csrftoken": await csrf_token(party_b)},
        )
        assert uploaded.status_code == 303, uploaded.text
        evidence_b = await Evidence.objects().where(Evidence.case == case_b.id).first()
        # B's dispute opened mediation; decided, the case is on to the plan.
        dispute_b = await Dispute.objects().where(Dispute.case == case_b.id).first()
        await services.dispute_decide(actor=Actor.system(), dispute_id=dispute_b.id, decision="shared", rationale="r")
        proposal_b = await services.plan_propose(
            actor=Actor.system(),
            case_id=case_b.id,
            side="us",
            party="supplier",
            remedy="refund",
            amount=None,
            currency="CNY",
            ready_by=None,
            details="B only",
        )
        before = await CaseEvent.count().where(CaseEvent.case == case_b.id)
        routes = party_routes(app)
        assert len(routes) >= 9
        token = await csrf_token(party_a)
        for number, evidence_id, proposal_id in (
            (case_b.number, evidence_b.id, proposal_b.id),  # B's number
            (case_a.number, evidence_b.id, proposal_b.id),  # A's number, B's ids
        ):
            for method, path in routes:
                url = (
                    path.replace("{number:str}", number)
                    .replace("{evidence_id:str}", str(evidence_id))
                    .replace("{proposal_id:str}", str(proposal_id))
                    .replace("{copy:str}", "thumb")
                )
                if number == case_a.number and "{evidence_id" not in path and "{proposal_id" not in path:
                    continue  # A's own case with no foreign id: allowed by design
                response = await party_a.request(
                    method,
                    url,
                    data={
                        "body": "x",
                        "response": "accept",
                        "reason": "x",
                        "remedy": "refund",
                        "step": "other",
                        "_csrf_token": token,
                    },
                )
                assert response.status_code == 404, (method, url, response.status_code)
                assert "B only" not in response.text and "mine" not in response.text
        assert await CaseEvent.count().where(CaseEvent.case == case_b.id) == before
        assert (await PlanProposal.objects().where(PlanProposal.id == proposal_b.id).first()).status == "open"
        # Staff pages and files are out of reach of any party session.
        for url in (f"/cases/{case_a.number}", f"/evidence/{evidence_b.id}/thumb", "/cases", "/api/v1/cases"):
            response = await party_a.get(url)
            assert response.status_code in (302, 401), (url, response.status_code)
    finally:
        await party_a.__aexit__(None, None, None)
        await party_b.__aexit__(None, None, None)


@pytest.mark.checklist(18)
async def test_link_attempts_are_rate_limited(client: Any) -> None:
    token = await csrf_token(client)
    statuses = [(await client.post(f"/l/{'y' * 43}", data={"_csrf_token": token})).status_code for _ in range(11)]
    assert statuses[:10] == [404] * 10
    assert statuses[10] == 429


@pytest.mark.parametrize("party", ["supplier", "carrier"])
async def test_a_party_page_speaks_the_link_language(app: Any, party: str) -> None:
    case = await supplier_case()
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case.id, party=party, email="x@example.cn", language="zh", now=datetime.now(UTC)
        )
    client = await session_for(app, token)
    try:
        page = await client.get(f"/p/cases/{case.number}", headers={"Accept-Language": "en"})
        assert page.status_code == 200 and 'lang="zh-CN"' in page.text
        assert f'data-party="{party}"' in page.text
    finally:
        await client.__aexit__(None, None, None)


@pytest.mark.checklist(14, 19)
async def test_a_party_cannot_see_or_accept_another_partys_plan(app: Any, make_user: Any) -> None:
    """The carrier's own plan and our plan to the carrier are neither shown to the supplier nor its to accept."""
    case = await supplier_case()
    _link, supplier_token = await issued(case.id, party="supplier")
    _link, carrier_token = await issued(case.id, party="carrier")
    await case_move(actor=Actor.system(), number=case.number, target="responsibility")
    supplier = await session_for(app, supplier_token)
    carrier = await session_for(app, carrier_token)
    try:
        posted = await carrier.post(
            f"/p/cases/{case.number}/plan",
            data={
                "remedy": "refund",
                "amount": "0.01",
                "details": "carrier only",
                "_csrf_token": await csrf_token(carrier),
            },
        )
        assert posted.status_code == 303, posted.text
        theirs = await PlanProposal.objects().where(PlanProposal.proposed_by == "carrier").first()
        ours = await services.plan_propose(
            actor=Actor.system(), case_id=case.id, side="us", party="carrier", remedy="replacement",
            amount=Decimal("5"), currency="CNY", ready_by=None, details="ours to the carrier",
        )  # fmt: skip
        page = await supplier.get(f"/p/cases/{case.number}")
        assert page.status_code == 200
        assert "carrier only" not in page.text and "ours to the carrier" not in page.text
        assert 'data-by="carrier"' not in page.text and "accept-plan-" not in page.text
        before = await CaseEvent.count().where(CaseEvent.case == case.id)
        for proposal in (theirs, ours):
            accepted = await supplier.post(
                f"/p/cases/{case.number}/plan/{proposal.id}/accept", data={"_csrf_token": await csrf_token(supplier)}
            )
            assert accepted.status_code == 404, accepted.text
            assert "carrier only" not in accepted.text
        # Nothing changed but the two refusals, which staff see on the case's timeline.
        row = await Case.objects().where(Case.id == case.id).first()
        assert row.node == "responsibility" and row.claim_amount is None
        statuses = (
            await PlanProposal.select(PlanProposal.status).where(PlanProposal.case == case.id).order_by(PlanProposal.id)
        )
        assert [s["status"] for s in statuses] == ["superseded", "open"]  # our round answered the carrier's
        rows = (
            await CaseEvent.select(CaseEvent.kind, CaseEvent.actor_kind)
            .where(CaseEvent.case == case.id)
            .order_by(CaseEvent.id)
        )
        refused = rows[before:]
        assert [(e["kind"], e["actor_kind"]) for e in refused] == [("party_action_refused", "supplier")] * 2
        staff = asgi_client(app)
        await staff.__aenter__()
        try:
            await sign_in(staff, await make_user("handler"))
            timeline = await staff.get(f"/cases/{case.number}")
            assert "Refused: a party acted on something not addressed to it" in timeline.text
        finally:
            await staff.__aexit__(None, None, None)
        # The refusal is not on the supplier's own page; the carrier may accept ours, once.
        assert "Refused" not in (await supplier.get(f"/p/cases/{case.number}")).text
        accepted = await carrier.post(
            f"/p/cases/{case.number}/plan/{ours.id}/accept", data={"_csrf_token": await csrf_token(carrier)}
        )
        assert accepted.status_code == 303, accepted.text
        # No customer on the case: the agreed plan is carried out at once.
        assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "implementation"
        # Progress on the carrier's plan is not the supplier's to report.
        reported = await supplier.post(
            f"/p/cases/{case.number}/progress",
            data={"step": "other", "note": "x", "_csrf_token": await csrf_token(supplier)},
        )
        assert reported.status_code == 404
    finally:
        await supplier.__aexit__(None, None, None)
        await carrier.__aexit__(None, None, None)
