"""Tracking pages: the board and its filters, the case's deadlines, SLA admin, the bell, customer feedback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.cases.events import Actor
from app.cases.responsibility import json_object
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import Case, CaseEvent
from app.collaboration import links
from app.collaboration import services as collaboration
from app.collaboration.tables import AccessLink, PlanProposal
from app.db import atomic
from app.notify.inapp import notify_users
from app.tracking.policies import configure_policy
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Customer, Supplier
from tests.conftest import csrf_token, sign_in

# Every log line these tests cause is searched for the tokens they issue.
pytestmark = pytest.mark.usefixtures("tokens_kept_out_of_logs")


async def make_case(*, assignee: int | None = None, supplier: int | None = None, started: datetime) -> Case:
    draft = CaseDraft(problem_type="quality_defect", assignee_id=assignee, supplier_id=supplier)
    return (await case_create(actor=Actor.system(), draft=draft, now=started)).case


async def test_the_board_shows_clocks_by_node_coloured_and_filtered(client: Any, make_user: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    me = await make_user("handler")
    other = await make_user("handler")
    supplier = Supplier(code="SUP-B", name="Brightway")
    await supplier.save()
    now = datetime.now(UTC)
    late = await make_case(assignee=me.id, supplier=supplier.id, started=now - timedelta(days=20))
    fresh = await make_case(assignee=other.id, started=now)
    await sign_in(client, me)
    page = BeautifulSoup((await client.get("/board")).text, "html.parser")
    cards = {c["data-case"]: c for c in page.select(".board-card")}
    assert set(cards) == {late.number, fresh.number}
    assert cards[late.number]["data-state"] == "late" and cards[fresh.number]["data-state"] == "ok"
    assert cards[late.number].find_parent(attrs={"data-node": True})["data-node"] == "reported"
    for query, expected in [
        ("mine=true", {late.number}),
        ("overdue=true", {late.number}),
        (f"supplier={supplier.id}", {late.number}),
    ]:
        answer = await client.get(f"/board?{query}", headers={"HX-Request": "true"})
        fragment = BeautifulSoup(answer.text, "html.parser")
        assert fragment.find("html") is None, "an htmx filter gets the board block only"
        assert {c["data-case"] for c in fragment.select(".board-card")} == expected, query


async def test_the_kept_board_follows_the_data_the_clock_and_the_reader(
    client: Any, make_user: Any, settings: Any, monkeypatch: Any
) -> None:
    """The board's cards are kept while nothing changes, for the minute at most: a new case shows at
    once, a card turns late within the minute its clock runs out, and "Mine" is each person's own."""
    from app.routes import tracking as tracking_routes

    configure_policy(settings.data_dir)
    me = await make_user("handler")
    other = await make_user("handler")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = [now]
    monkeypatch.setattr(tracking_routes, "_now", lambda: clock[0])
    mine = await make_case(assignee=me.id, started=now)
    await sign_in(client, me)

    async def cards(path: str = "/board") -> dict[str, str]:
        page = BeautifulSoup((await client.get(path)).text, "html.parser")
        return {card["data-case"]: card["data-state"] for card in page.select(".board-card")}

    assert await cards() == {mine.number: "ok"}
    assert await cards() == {mine.number: "ok"}  # kept
    theirs = await make_case(assignee=other.id, started=now)
    assert await cards() == {mine.number: "ok", theirs.number: "ok"}
    assert await cards("/board?mine=true") == {mine.number: "ok"}
    due = (await StageDeadline.objects().where(StageDeadline.case == mine.id).first()).due_at
    clock[0] = due + timedelta(seconds=30)
    assert (await cards())[mine.number] == "late"
    assert set(await cards("/board?overdue=true")) == {mine.number, theirs.number}
    await client.post("/logout", data={"_csrf_token": client.cookies.get("csrftoken")})
    await sign_in(client, other)
    assert await cards("/board?mine=true") == {theirs.number: "late"}


@pytest.mark.parametrize("overdue", [False, True])
async def test_the_boards_query_walks_the_open_clocks_due_index_without_sorting_them_all(overdue: bool) -> None:
    """Open clocks soonest due first: the planner walks stage_deadline_open_due in order and stops at the
    limit. (With a plain finished_at index beside it, SQLite took that one for "finished_at IS NULL" and
    sorted every open clock: 120 ms at 100,000 cases.)"""
    from app.tracking.selectors import BoardFilters, board_query
    from tests.integration.test_grid import plan_of

    started = datetime(2026, 12, 1, tzinfo=UTC)
    await make_case(started=started)
    filters = BoardFilters(mine=False, overdue=overdue, due_today=False, supplier_id=None)
    query = board_query(filters, user_id=1, zone="UTC", now=started + timedelta(days=2))
    plan = await plan_of(str(query), [])  # the values written in: the plan of the query as the board runs it
    assert "stage_deadline_open_due" in plan and "TEMP B-TREE" not in plan, plan
    assert not re.search(r"^(\s*->\s+)?Sort ", plan, re.MULTILINE), plan


async def test_the_case_page_lists_each_nodes_clock(client: Any, login: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    await login("handler")
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    case = await make_case(started=start)
    await case_move(actor=Actor.system(), number=case.number, target="responsibility", now=start + timedelta(days=1))
    page = await client.get(f"/cases/{case.number}")
    assert 'hx-get="/cases/' + case.number + '/deadlines"' in page.text
    panel = BeautifulSoup((await client.get(f"/cases/{case.number}/deadlines")).text, "html.parser")
    rows = panel.select("#deadlines-panel tbody tr")
    assert [r["data-node"] for r in rows] == ["reported", "responsibility"]
    assert "late" in rows[0]["class"]  # 8 working hours, finished a day later
    assert rows[1].find_all("td")[4].text.strip() == "Supplier"  # the owner's label in the reader's language


async def test_admins_edit_the_sla_override_and_retry_failed_reminders(client: Any, login: Any, settings: Any) -> None:
    await login("admin")
    token = await csrf_token(client)
    bad = await client.post("/admin/sla", data={"override": "[nodes.plan]\nowner = 'nobody'\n", "_csrf_token": token})
    assert bad.status_code == 422 and "owner" in bad.text
    good = await client.post("/admin/sla", data={"override": "[nodes.plan]\ndays = 6\n", "_csrf_token": token})
    assert good.status_code == 200 and 'id="sla-saved"' in good.text
    case = await make_case(started=datetime.now(UTC))
    await Reminder(
        claim_key="x",
        case=case.id,
        node="reported",
        level="100",
        channel="email",
        recipient="a@b.c",
        status="failed",
        error="550 no such user",
    ).save()
    page = await client.get("/admin/sla")
    assert "550 no such user" in page.text
    retried = await client.post("/admin/reminders/retry", data={"reminder_id": "1", "_csrf_token": token})
    assert retried.status_code == 303
    assert (await Reminder.select(Reminder.status).first())["status"] == "queued"
    (settings.data_dir / "sla_override.toml").unlink()  # the data dir is shared by the whole run
    configure_policy(None)


async def test_the_bell_counts_unread_and_clears(client: Any, login: Any) -> None:
    user = await login("handler")
    await notify_users([(user.id, None, "Case AS-1 is overdue")], now=datetime.now(UTC))
    bell = BeautifulSoup((await client.get("/bell", headers={"HX-Request": "true"})).text, "html.parser")
    assert bell.select_one("#bell-count").text == "1"
    token = await csrf_token(client)
    cleared = await client.post("/bell/read", headers={"HX-Request": "true", "x-csrftoken": token})
    assert BeautifulSoup(cleared.text, "html.parser").select_one("#bell-count").text == "0"


async def customer_link(case_id: int, *, language: str = "zh") -> tuple[AccessLink, str]:
    async with atomic():
        return await links.issue_link(
            case_id=case_id, party="customer", email="c@example.cn", language=language, now=datetime.now(UTC)
        )


async def open_tracking(client: Any, token: str) -> Any:
    """Press Continue on the link page, as the customer does."""
    return await client.post(f"/t/{token}", data={"_csrf_token": await csrf_token(client)})


async def test_the_customer_sees_progress_only_gives_feedback_and_may_reopen(client: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    now = datetime.now(UTC)
    case = await make_case(started=now - timedelta(days=5))
    for node in ("responsibility", "plan", "implementation", "completed", "feedback"):
        await case_move(actor=Actor.system(), number=case.number, target=node, now=now - timedelta(days=1))
    link, token = await customer_link(case.id)
    opened = await open_tracking(client, token)
    assert opened.status_code == 303 and opened.headers["location"] == "/track"
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert token not in client.cookies["cc_track"] and link.token_hash not in client.cookies["cc_track"]
    page = await client.get("/track")
    assert page.status_code == 200 and case.number in page.text and 'id="feedback-form"' in page.text
    token = await csrf_token(client)
    sent = await client.post(
        "/track/feedback", data={"score": "2", "comment": "Still broken", "reopen": "yes", "_csrf_token": token}
    )
    assert sent.status_code == 200 and 'id="feedback-thanks"' in sent.text
    event = (
        await CaseEvent.select(CaseEvent.data, CaseEvent.actor_id).where(CaseEvent.kind == "customer_feedback").first()
    )
    assert event["actor_id"] == str(link.id)
    assert event["data"]["score"] == 2 if isinstance(event["data"], dict) else '"score": 2' in event["data"]
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "implementation"


async def test_feedback_and_its_reopening_are_one_transaction(settings: Any, monkeypatch: Any) -> None:
    """A failure after the reopening starts keeps neither the feedback nor the move (they used to commit apart)."""
    from app.collaboration.links import PartyAccess
    from app.customers import services as customers

    configure_policy(settings.data_dir)
    now = datetime.now(UTC)
    case = await make_case(started=now - timedelta(days=5))
    for node in ("responsibility", "plan", "implementation", "completed", "feedback"):
        await case_move(actor=Actor.system(), number=case.number, target=node, now=now - timedelta(days=1))
    link, _token = await customer_link(case.id)
    access = PartyAccess(link.id, case.id, "customer", "lin@example.com", "en")
    real_move = customers.case_move

    async def move_then_fail(**kwargs: Any) -> Any:
        await real_move(**kwargs)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(customers, "case_move", move_then_fail)
    with pytest.raises(RuntimeError):
        await customers.customer_feedback(access=access, score=1, comment="Broken again", reopen=True, now=now)
    assert await CaseEvent.count().where(CaseEvent.kind == "customer_feedback") == 0
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "feedback"
    monkeypatch.setattr(customers, "case_move", real_move)
    await customers.customer_feedback(access=access, score=1, comment="Broken again", reopen=True, now=now)
    assert await CaseEvent.count().where(CaseEvent.kind == "customer_feedback") == 1
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "implementation"


async def test_the_customer_reads_the_dates_on_their_own_clock(client: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    # Reported at 03:00 UTC on 20 November: still the 19th in Los Angeles, already the 20th in Shanghai.
    case = await make_case(started=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    customer = await Customer.objects().create(name="Lin", email="lin@example.com", time_zone="America/Los_Angeles")
    await Case.update({Case.customer: customer.id}).where(Case.id == case.id)
    _link, token = await customer_link(case.id, language="en")
    await open_tracking(client, token)
    page = BeautifulSoup((await client.get("/track")).text, "html.parser")
    assert page.select_one('li[data-step="reported"] time').get_text(strip=True) == "19 Nov 2026"

    await Customer.update({Customer.time_zone: ""}).where(Customer.id == customer.id)
    page = BeautifulSoup((await client.get("/track")).text, "html.parser")
    assert page.select_one('li[data-step="reported"] time').get_text(strip=True) == "20 Nov 2026"


@pytest.mark.checklist(13)
async def test_get_and_head_of_a_tracking_link_only_show_a_continue_page(client: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    case = await make_case(started=datetime.now(UTC))
    link, token = await customer_link(case.id)
    events = await CaseEvent.count().where(CaseEvent.case == case.id)
    for _ in range(2):
        shown = await client.get(f"/t/{token}")
        assert shown.status_code == 200 and 'id="link-continue"' in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer" and "cc_track" not in shown.headers.get(
            "set-cookie", ""
        )
        form = BeautifulSoup(shown.text, "html.parser").select_one("#link-continue form")
        assert form["method"] == "post" and form["action"] == f"/t/{token}"
        assert "/static/js/party-link.js" in shown.text  # takes the token out of the address bar
        head = await client.head(f"/t/{token}")
        assert "cc_track" not in head.headers.get("set-cookie", "")
    assert "cc_track" not in client.cookies
    assert await CaseEvent.count().where(CaseEvent.case == case.id) == events
    row = await AccessLink.objects().where(AccessLink.id == link.id).first()
    assert row.last_used_at is None
    assert (await client.get("/track")).status_code == 404


@pytest.mark.checklist(15)
async def test_the_tracking_page_is_reached_at_an_address_without_the_token(client: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    case = await make_case(started=datetime.now(UTC))
    link, token = await customer_link(case.id)
    shown = await client.get(f"/t/{token}")
    action = BeautifulSoup(shown.text, "html.parser").select_one("#link-continue form")["action"]
    final = await client.post(action, data={"_csrf_token": await csrf_token(client)}, follow_redirects=True)
    assert final.status_code == 200 and case.number in final.text
    assert str(final.url).endswith("/track") and token not in str(final.url)
    assert all(token not in r.headers.get("location", "") for r in final.history)
    assert (await AccessLink.objects().where(AccessLink.id == link.id).first()).last_used_at is not None


@pytest.mark.checklist(16)
async def test_revoking_the_tracking_link_ends_the_customer_session_at_once(client: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    now = datetime.now(UTC)
    case = await make_case(started=now - timedelta(days=5))
    for node in ("responsibility", "plan", "implementation", "completed"):
        await case_move(actor=Actor.system(), number=case.number, target=node, now=now - timedelta(days=1))
    _link, token = await customer_link(case.id)
    assert (await open_tracking(client, token)).status_code == 303
    assert (await client.get("/track")).status_code == 200
    await links.revoke_links(case_id=case.id, party="customer", now=datetime.now(UTC))
    page = await client.get("/track")
    assert page.status_code == 404 and 'id="link-invalid"' in page.text and case.number not in page.text
    sent = await client.post("/track/feedback", data={"score": "5", "_csrf_token": await csrf_token(client)})
    assert sent.status_code == 404 and 'id="link-invalid"' in sent.text
    assert await CaseEvent.count().where(CaseEvent.kind == "customer_feedback") == 0
    again = await open_tracking(client, token)
    assert again.status_code == 404 and 'id="link-invalid"' in again.text


@pytest.mark.checklist(12, 14)
async def test_tampered_unknown_and_foreign_tokens_and_cookies_get_the_generic_page(client: Any, settings: Any) -> None:
    configure_policy(settings.data_dir)
    case = await make_case(started=datetime.now(UTC))
    _link, token = await customer_link(case.id)
    async with atomic():
        _supplier, supplier_token = await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="en", now=datetime.now(UTC)
        )
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    bodies = set()
    for bad in (tampered, "x" * 43, supplier_token):
        refused = await open_tracking(client, bad)
        assert refused.status_code == 404 and case.number not in refused.text
        start = refused.text.index('<section class="panel" id="link-invalid">')
        bodies.add(refused.text[start : refused.text.index("</section>", start)])
    assert len(bodies) == 1 and "cc_track" not in client.cookies
    # A forged or altered cookie is no session either.
    assert (await open_tracking(client, token)).status_code == 303
    link_id, issued_at, signature = client.cookies["cc_track"].split(".")
    client.cookies.set("cc_track", f"{link_id}.{int(issued_at) + 1}.{signature}", path="/track")
    assert (await client.get("/track")).status_code == 404


@pytest.mark.checklist(18)
async def test_tracking_link_attempts_are_rate_limited(client: Any) -> None:
    token = await csrf_token(client)
    statuses = [(await client.post(f"/t/{'y' * 43}", data={"_csrf_token": token})).status_code for _ in range(11)]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429


async def test_waiting_on_another_party_pauses_our_clock(client: Any, login: Any, settings: Any) -> None:
    from app.errors import Conflict
    from app.tracking.services import clock_wait
    from app.tracking.tables import StageDeadline

    configure_policy(settings.data_dir)
    await login("handler")
    start = datetime.now(UTC) - timedelta(days=3)
    case = await make_case(started=start)
    for node in ("responsibility", "plan"):
        await case_move(actor=Actor.system(), number=case.number, target=node, now=start)
    before = await StageDeadline.objects().where(StageDeadline.node == "plan").first()
    paused_at = start + timedelta(hours=1)
    await clock_wait(actor=Actor.system(), number=case.number, waiting=True, now=paused_at)
    during = await StageDeadline.objects().where(StageDeadline.node == "plan").first()
    assert during.next_check_at is None and during.due_at == before.due_at
    try:
        await clock_wait(actor=Actor.system(), number=case.number, waiting=True, now=paused_at)
        raise AssertionError("pausing twice must be refused")
    except Conflict:
        pass
    token = await csrf_token(client)
    answer = await client.post(
        f"/cases/{case.number}/clock", data={"waiting": "no", "_csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200 and 'data-paused="no"' in answer.text
    after = await StageDeadline.objects().where(StageDeadline.node == "plan").first()
    waited = after.due_at - before.due_at
    assert (
        timedelta(days=2, hours=22) < waited < timedelta(days=3) and after.paused_seconds >= waited.total_seconds() - 1
    )
    assert after.next_check_at is not None
    kinds = [e["kind"] for e in await CaseEvent.select(CaseEvent.kind).where(CaseEvent.kind.like("clock_%"))]
    assert kinds == ["clock_paused", "clock_resumed"]


async def test_the_clock_passes_to_the_party_the_case_was_sent_to(settings: Any) -> None:
    from app.collaboration.services import case_push
    from app.trade.tables import Carrier

    configure_policy(settings.data_dir)
    supplier = await Supplier.objects().create(code="SUP-W", name="Works", email="qa@works.example")
    carrier = await Carrier.objects().create(code="CAR-W", name="Lines", email="claims@lines.example")
    draft = CaseDraft(problem_type="transit_damage", supplier_id=supplier.id, carrier_id=carrier.id)
    now = datetime.now(UTC)
    case = (await case_create(actor=Actor.system(), draft=draft, now=now)).case
    await case_move(actor=Actor.system(), number=case.number, target="responsibility", now=now)

    async def owners() -> list[tuple[str, str, bool]]:
        rows = await StageDeadline.select().where(StageDeadline.case == case.id).order_by(StageDeadline.id)
        return [(r["node"], r["owner_party"], r["finished_at"] is None) for r in rows]

    # A transit problem: by default the carrier holds the responsibility clock.
    assert (await owners())[-1] == ("responsibility", "carrier", True)
    # Sent to the supplier instead: the running clock is the supplier's now; the one we asked answers it.
    await case_push(actor=Actor.system(), number=case.number, party="supplier", email="qa@works.example",
                    language="en", requirement="refund", reply_by=now.date() + timedelta(days=5), now=now)  # fmt: skip
    assert (await owners())[-1] == ("responsibility", "supplier", True)
    # Later counterpart stages go to the party we work with, not back to the carrier.
    for node in ("plan", "implementation"):
        await case_move(actor=Actor.system(), number=case.number, target=node, now=now)
    assert (await owners())[-1] == ("implementation", "supplier", True)


async def agreed_case(*, with_customer: bool) -> Case:
    """A case in responsibility with a round we proposed to the supplier, accepted by the supplier."""
    now = datetime.now(UTC)
    case = await make_case(started=now - timedelta(days=3))
    if with_customer:
        customer = await Customer.objects().create(name="Lin", email="lin@example.com", time_zone="Asia/Shanghai")
        await Case.update({Case.customer: customer.id}).where(Case.id == case.id)
    await Case.update({Case.hint: {"party": "supplier", "confidence": 0.83}}).where(Case.id == case.id)
    await case_move(actor=Actor.system(), number=case.number, target="responsibility", now=now)
    await agree(case.id, amount="640.00")
    return case


async def agree(case_id: int, *, amount: str) -> None:
    proposal = await collaboration.plan_propose(
        actor=Actor.system(),
        case_id=case_id,
        side="us",
        party="supplier",
        remedy="partial_refund",
        amount=Decimal(amount),
        currency="eur",
        ready_by=(datetime.now(UTC) + timedelta(days=9)).date(),
        details="SUPPLIER-ONLY: their packaging",
    )
    supplier = Actor(kind="supplier", id="1", label="qa@supplier.cn")
    await collaboration.plan_accept(actor=supplier, case_id=case_id, proposal_id=proposal.id, side="supplier")


async def test_the_customer_declines_the_agreed_plan_then_confirms_the_next_round(
    client: Any, login: Any, settings: Any
) -> None:
    configure_policy(settings.data_dir)
    case = await agreed_case(with_customer=True)
    assert (await Case.select(Case.node).where(Case.id == case.id).first())["node"] == "plan"
    _link, token = await customer_link(case.id, language="en")
    await open_tracking(client, token)
    page = BeautifulSoup((await client.get("/track")).text, "html.parser")
    plan = page.select_one("#customer-plan")
    assert plan is not None, "the agreed plan is shown to the customer"
    assert plan.select_one("#plan-remedy").text.strip() == "Partial refund"
    assert plan.select_one("#plan-amount").text.strip() == "€640.00"
    assert plan.select_one("#plan-when time")["datetime"] == (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
    for secret in ("SUPPLIER-ONLY", "0.83", "Brightway", "supplier"):
        assert secret not in plan.text, secret

    # A decline needs its reason; a bad answer says what was wrong; nothing is recorded.
    form = await csrf_token(client)
    empty = await client.post("/track/plan", data={"answer": "decline", "reason": "  ", "_csrf_token": form})
    assert empty.status_code == 422 and "why you decline" in empty.text
    odd = await client.post("/track/plan", data={"answer": "maybe", "_csrf_token": form})
    assert odd.status_code == 422 and "Confirm the plan or decline it" in odd.text
    assert await CaseEvent.count().where(CaseEvent.kind == "customer_plan_answer") == 0

    declined = await client.post(
        "/track/plan", data={"answer": "decline", "reason": "I want a replacement", "_csrf_token": form}
    )
    assert declined.status_code == 200 and 'id="plan-declined"' in declined.text
    assert 'id="customer-plan"' not in declined.text, "the declined plan is no longer offered"
    answer = await CaseEvent.objects().where(CaseEvent.kind == "customer_plan_answer").first()
    assert answer.actor_kind == "customer" and answer.actor_id == str(_link.id)
    data = json_object(answer.data)
    assert data["accepted"] is False and data["comment"] == "I want a replacement"
    row = await Case.select(Case.node).where(Case.id == case.id).first()
    assert row["node"] == "plan", "a decline reopens the plan round"
    assert [p["status"] for p in await PlanProposal.select(PlanProposal.status).order_by(PlanProposal.id)] == [
        "declined"
    ]

    # The handler cannot answer for a customer who has their own tracking link.
    await login("handler")
    staff_form = await csrf_token(client)
    by_hand = await client.post(
        f"/cases/{case.number}/customer-answer", data={"answer": "accept", "_csrf_token": staff_form}
    )
    assert by_hand.status_code == 409

    # A new round is agreed and offered; the customer confirms it and the case moves to implementation.
    await agree(case.id, amount="700.00")
    await open_tracking(client, token)
    again = BeautifulSoup((await client.get("/track")).text, "html.parser")
    assert again.select_one("#plan-amount").text.strip() == "€700.00"
    confirmed = await client.post("/track/plan", data={"answer": "confirm", "_csrf_token": await csrf_token(client)})
    assert confirmed.status_code == 200 and 'id="plan-confirmed"' in confirmed.text
    row = await Case.select(Case.node).where(Case.id == case.id).first()
    assert row["node"] == "implementation"
    twice = await client.post("/track/plan", data={"answer": "confirm", "_csrf_token": await csrf_token(client)})
    assert twice.status_code == 409
    assert await CaseEvent.count().where(CaseEvent.kind == "customer_plan_answer") == 2


async def test_a_plan_agreed_on_a_case_without_a_customer_is_carried_out_at_once(settings: Any) -> None:
    configure_policy(settings.data_dir)
    case = await agreed_case(with_customer=False)
    row = await Case.select(Case.node).where(Case.id == case.id).first()
    assert row["node"] == "implementation"
    agreed = await CaseEvent.objects().where(CaseEvent.kind == "plan_agreed").first()
    assert json_object(agreed.data)["awaiting"] is None
