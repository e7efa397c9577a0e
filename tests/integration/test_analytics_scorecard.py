"""The supplier and carrier scorecard from a collaboration history whose answers are known."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.analytics.filters import AnalyticsFilters
from app.analytics.scorecard import party_scorecard, scorecards

PERIOD = AnalyticsFilters(start=date(2026, 11, 1), end=date(2026, 11, 30))
DAY = timedelta(days=1)


async def history() -> dict[str, Any]:
    """Supplier A: 4 cases pushed in November, answered after 1, 2, 3 days and never; accepts, accepts in part,
    disputes then accepts; one plan agreed after 5 days; 2 claims, 1 recovered in full.
    Supplier B: one case pushed in October (outside) and one pushed to the carrier, who disputes after 4 days."""
    from app.analytics.tables import Recovery
    from app.cases.tables import Case, CaseEvent
    from app.trade.tables import Carrier, Supplier

    a, b = Supplier(code="A", name="深圳明亮电子"), Supplier(code="B", name="Osaka Craft")
    await Supplier.insert(a, b)
    carrier = Carrier(code="C", name="顺丰")
    await carrier.save()
    start = datetime(2026, 11, 3, 9, tzinfo=UTC)
    number = 0

    async def case(supplier: Supplier) -> Case:
        nonlocal number
        number += 1
        made = Case(
            number=f"CC-{number:03d}",
            supplier=supplier.id,
            carrier=carrier.id,
            problem_type="quality_defect",
            created_at=start - DAY,
            node_entered_at=start - DAY,
        )
        await made.save()
        return made

    async def event(made: Case, at: datetime, kind: str, actor: str = "user", **data: Any) -> None:
        # A unique stand-in predecessor: the figures need the events, not their chain.
        await CaseEvent(case=made.id, at=at, kind=kind, actor_kind=actor, data=data, prev_hash=uuid.uuid4().hex).save()

    answers = [(1, "accept"), (2, "accept_part"), (3, "dispute"), (None, None)]
    for days, response in answers:
        made = await case(a)
        await event(made, start - DAY / 2, "message", "supplier")  # before the push: not an answer to it
        await event(made, start, "case_pushed", party="supplier")
        if days is not None:
            await event(made, start + days * DAY, "party_response", "supplier", party="supplier", response=response)
        if response == "dispute":
            await event(made, start + 6 * DAY, "party_response", "supplier", party="supplier", response="accept")
        if response == "accept":
            await event(made, start + 5 * DAY, "plan_agreed", "supplier")
            for recovered in ("100.00", "30.00"):
                await Recovery(
                    case=made.id,
                    party="supplier",
                    claimed_amount=Decimal("100.00"),
                    recovered_amount=Decimal(recovered),
                    claimed_on=date(2026, 11, 10),
                ).save()
    october = await case(b)
    await event(october, datetime(2026, 10, 20, tzinfo=UTC), "case_pushed", party="supplier")
    await event(
        october, datetime(2026, 10, 21, tzinfo=UTC), "party_response", "supplier", party="supplier", response="dispute"
    )
    carried = await case(b)
    await event(carried, start, "case_pushed", party="carrier")
    await event(carried, start + 4 * DAY, "party_response", "carrier", party="carrier", response="dispute")
    return {"a": a, "b": b, "carrier": carrier}


async def test_supplier_figures_come_from_the_events() -> None:
    parties = await history()
    got = await party_scorecard(PERIOD, "supplier")
    assert set(got) == {parties["a"].id}  # B's only supplier push was in October
    a = got[parties["a"].id]
    assert (a["pushed"], a["answered"], a["responded"]) == (4, 3, 3)
    assert a["answer_days"] == pytest.approx(2.0)  # median of 1, 2, 3
    # The last answer counts: the dispute turned into an acceptance.
    assert (a["accepted"], a["partial"], a["disputed"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3), 0)
    assert (a["agreed"], a["plan_days"]) == (1, pytest.approx(5.0))
    assert (a["claims"], a["recovered_in_full"], a["recovery"]) == (2, 1, 0.5)


async def test_carrier_figures_and_names() -> None:
    parties = await history()
    cards = await scorecards(PERIOD)
    [carrier] = cards["carrier"]
    assert carrier["name"] == "顺丰"
    assert (carrier["pushed"], carrier["answered"], carrier["disputed"]) == (1, 1, 1.0)
    assert carrier["answer_days"] == pytest.approx(4.0)
    assert carrier["recovery"] is None
    assert [row["name"] for row in cards["supplier"]] == [parties["a"].name]


async def test_the_dashboard_shows_the_scorecard(client: Any, login: Any) -> None:
    await history()
    await login("manager")
    page = (await client.get("/dashboard?from=2026-11-01&to=2026-11-30")).text
    section = page[page.index('id="scorecard-supplier"') :]
    name = section.index("深圳明亮电子")
    row = section[name : section.index("</tr>", name)]
    assert "2.0" in row and "66.67%" in row and "33.33%" in row and "1 / 2" in row
    carriers = page[page.index('id="scorecard-carrier"') :]
    assert "顺丰" in carriers and "100.00%" in carriers[: carriers.index("</table>")]
