"""The managers' queue of undecided disputes: oldest first, the amount and the deadlines that bear on each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup

from app.cases.events import Actor
from app.cases.services import case_move
from app.cases.tables import Case
from app.collaboration import services
from app.collaboration.tables import Dispute
from app.db import atomic
from tests.conftest import asgi_client, sign_in
from tests.integration.test_collaboration import supplier_case
from tests.integration.test_i18n import transit_case

STAFF = Actor.system()


async def disputed(case: Case, *, days_ago: int, amount: str, reason: str) -> Dispute:
    await Case.update({Case.claim_amount: Decimal(amount), Case.currency: "EUR"}).where(Case.id == case.id)
    async with atomic():
        await case_move(actor=STAFF, number=case.number, target="responsibility")
    opened = datetime.now(UTC) - timedelta(days=days_ago)
    return await services.dispute_open(actor=STAFF, case_id=case.id, opened_by="us", reason=reason, now=opened)


async def test_managers_see_open_disputes_oldest_first_with_amount_and_deadlines(
    app: Any, client: Any, make_user: Any
) -> None:
    young = await disputed(await supplier_case("SUP-Y"), days_ago=1, amount="120.00", reason="YOUNG")
    old = await disputed(await transit_case(), days_ago=6, amount="4800.50", reason="OLD")
    decided = await disputed(await supplier_case("SUP-D"), days_ago=9, amount="1.00", reason="DECIDED")
    await services.dispute_decide(actor=STAFF, dispute_id=decided.id, decision="supplier", rationale="done")

    await sign_in(client, await make_user("handler"))
    assert (await client.get("/disputes")).status_code == 403
    assert 'id="nav-disputes"' not in (await client.get("/cases")).text
    async with asgi_client(app) as manager:
        await sign_in(manager, await make_user("manager"))
        page = await manager.get("/disputes")
    assert page.status_code == 200, page.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#nav-disputes")["aria-current"] == "page"
    rows = soup.select("#dispute-queue tbody tr[data-dispute]")
    assert [int(row["data-dispute"]) for row in rows] == [old.id, young.id], "oldest first, decided ones gone"
    assert [row.select_one(".age")["data-days"] for row in rows] == ["6", "1"]
    assert rows[0].select_one(".amount").get_text(strip=True) == "€4,800.50"
    assert rows[0].select_one(f"a[href='/disputes/{old.id}']") is not None
    deadlines = [li.get_text(" ", strip=True) for li in rows[0].select(".deadlines li")]
    # Our mediation clock, and the carrier-notice periods of the transit hint.
    assert any(line.startswith("Mediation to be decided by") for line in deadlines), deadlines
    assert any("CMR" in line for line in deadlines), deadlines
    young_lines = [li.get_text(" ", strip=True) for li in rows[1].select(".deadlines li")]
    assert any(line.startswith("Mediation to be decided by") for line in young_lines), young_lines
