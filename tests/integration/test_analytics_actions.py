"""Root causes on cases, corrective actions that prove their effect, and the recovery ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup

from app.analytics import actions, recovery, services
from app.analytics.rates import wilson
from app.analytics.tables import CorrectiveAction, Recovery
from app.cases.tables import Case, CaseEvent
from app.trade.tables import Carrier, OrderLine, Product, PurchaseOrder, Supplier
from tests.conftest import csrf_token

STARTED = date(2026, 3, 1)


async def delivery(
    supplier: Supplier, product: Product, carrier: Carrier, day: date, units: int, affected: int
) -> None:
    number = f"{supplier.code}-{day.isoformat()}-{units}"
    order = PurchaseOrder(number=number, supplier=supplier.id, carrier=carrier.id, delivered_on=day)
    await order.save()
    line = OrderLine(line_key=number, purchase_order=order.id, line_no=1, product=product.id, quantity_delivered=units)
    await line.save()
    if affected:
        await Case(
            number=f"C-{number}"[:20],
            purchase_order=order.id,
            order_line=line.id,
            product=product.id,
            supplier=supplier.id,
            carrier=carrier.id,
            quantity_affected=affected,
            problem_type="quality_defect",
            created_at=day,
        ).save()


async def supplier_with(code: str, before: tuple[int, int], after: tuple[int, int]) -> Supplier:
    """30 days of deliveries before STARTED and 30 after, with the given (units, affected) per window."""
    supplier = Supplier(code=code, name=f"{code} 工厂")
    await supplier.save()
    product = Product(sku=code, name=code, supplier=supplier.id)
    await product.save()
    carrier = await Carrier.objects().first() or Carrier(code="CAR", name="Carrier")
    if carrier.id is None:
        await carrier.save()
    for offset, (units, affected) in ((-15, before), (15, after)):
        await delivery(supplier, product, carrier, STARTED + timedelta(days=offset), units, affected)
    return supplier


async def test_an_action_is_effective_only_when_the_interval_after_lies_below_the_baseline() -> None:
    better = await supplier_with("GOOD", before=(5000, 250), after=(5000, 60))
    same = await supplier_with("SAME", before=(5000, 250), after=(5000, 235))
    worked = await services.corrective_action_create(
        root_cause="packaging",
        action="New carton spec",
        supplier_id=better.id,
        check_after_days=30,
        started_on=STARTED,
        today=STARTED,
    )
    failed = await services.corrective_action_create(
        root_cause="production",
        action="Stricter inspection",
        supplier_id=same.id,
        check_after_days=30,
        started_on=STARTED,
        today=STARTED,
    )
    assert worked.baseline_rate == 250 / 5000 and failed.baseline_rate == 250 / 5000
    # Before the period has ended there is no verdict, whatever the figures look like so far.
    still = await services.effect_check(action_id=worked.id, today=STARTED + timedelta(days=29))
    assert still.verdict == "pending" and still.effect_rate is None
    done = await services.effect_check_due(today=STARTED + timedelta(days=31))
    assert done == {"effective": 1, "not_effective": 1}
    rows = {row.action: row for row in await CorrectiveAction.objects()}
    assert rows["New carton spec"].verdict == "effective"
    assert rows["New carton spec"].effect_rate == 60 / 5000
    assert rows["Stricter inspection"].verdict == "not_effective"
    # 235/5000 is lower than 250/5000, but its interval reaches above the baseline: not proven.
    assert wilson(235, 5000).high > 250 / 5000
    listed = {row["action"]: row for row in await actions.action_list()}
    assert listed["New carton spec"]["before"]["affected"] == 250
    assert listed["New carton spec"]["after"]["affected"] == 60


async def test_an_action_needs_a_scope_and_a_known_root_cause() -> None:
    import pytest

    from app.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        await services.corrective_action_create(root_cause="bad luck", action=" ", today=STARTED)
    assert {field for field, _ in error.value.fields} == {"root_cause", "action", "supplier"}


async def test_workspace_records_root_causes_and_actions(client: Any, login: Any) -> None:
    supplier = await supplier_with("BRW", before=(4000, 200), after=(4000, 40))
    await login("handler")
    query = {"supplier": str(supplier.id), "from": "2026-02-01", "to": "2026-03-31"}
    page = await client.get("/dashboard/root-causes", params=query)
    assert page.status_code == 200, page.text
    soup = BeautifulSoup(page.text, "html.parser")
    numbers = [a.text for a in soup.select("#workspace-cases a")]
    assert len(numbers) == 2
    token = await csrf_token(client)
    answer = await client.post(
        f"/dashboard/root-causes/cases/{numbers[0]}",
        data={"root_cause": "material"},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert answer.status_code == 200 and "Saved" in answer.text and "<html" not in answer.text
    case = await Case.objects().where(Case.number == numbers[0]).first()
    assert case.root_cause == "material"
    event = await CaseEvent.objects().where(CaseEvent.kind == "root_cause_set").first()
    assert event is not None and event.case == case.id
    refused = await client.post(
        f"/dashboard/root-causes/cases/{numbers[0]}",
        data={"root_cause": "gremlins"},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert refused.status_code == 422
    matrix = BeautifulSoup((await client.get("/dashboard/root-causes", params=query)).text, "html.parser")
    assert "Material" in matrix.select_one("#cause-matrix").text

    created = await client.post(
        "/dashboard/actions",
        data={
            "supplier": str(supplier.id),
            "root_cause": "material",
            "action": "Change resin supplier",
            "started_on": STARTED.isoformat(),
            "check_after_days": "30",
            "_csrf_token": token,
        },
    )
    assert created.status_code == 303, created.text
    action = await CorrectiveAction.objects().first()
    assert action.baseline_rate == 200 / 4000 and action.verdict == "pending"
    checked = await client.post(f"/dashboard/actions/{action.id}/check", data={"_csrf_token": token})
    assert checked.status_code == 303
    listing = BeautifulSoup((await client.get("/dashboard/root-causes")).text, "html.parser")
    row = listing.select_one(f"#action-{action.id}")
    assert "Effective" in row.text and "5.00%" in row.text and "1.00%" in row.text


async def test_recovery_ledger_ages_open_claims(client: Any, login: Any) -> None:
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    case = Case(number="CC-1", problem_type="quality_defect")
    await case.save()
    for claimed, recovered, currency, age in (
        ("100.00", "100.00", "USD", 10),
        ("80.00", "20.00", "USD", 45),
        ("500.00", "0", "CNY", 120),
    ):
        await Recovery(
            case=case.id,
            party="supplier",
            claimed_amount=Decimal(claimed),
            recovered_amount=Decimal(recovered),
            currency=currency,
            claimed_on=today - timedelta(days=age),
        ).save()
    ledger = await recovery.recovery_ledger(today=today)
    assert ledger["totals"]["USD"] == {"claimed": "180.00", "recovered": "120.00", "open": "60.00"}
    assert ledger["ageing"]["USD"]["31–60"] == "60.00" and ledger["ageing"]["CNY"]["90+"] == "500.00"
    assert "USD" in ledger["ageing"] and ledger["ageing"]["USD"]["0–30"] == "0.00"
    # The list is the newest claims; the totals and the ageing still count every claim.
    newest = await recovery.recovery_ledger(today=today, limit=1)
    assert [row["age_days"] for row in newest["rows"]] == [10]
    assert (newest["totals"], newest["ageing"]) == (ledger["totals"], ledger["ageing"])
    await login("manager")
    page = await client.get("/dashboard/recoveries")
    assert page.status_code == 200 and "500.00" in page.text


async def test_recovery_form_records_a_claim_and_refuses_bad_input(client: Any, login: Any) -> None:
    case = Case(number="CC-7", problem_type="quality_defect")
    await case.save()
    await login("handler")
    token = await csrf_token(client)
    htmx = {"HX-Request": "true", "x-csrftoken": token}
    good = {"case": "CC-7", "party": "supplier", "kind": "credit_note", "claimed": "1,250.50", "recovered": "250",
            "currency": "usd", "claimed_on": (date.today() - timedelta(days=40)).isoformat()}  # fmt: skip
    answer = await client.post("/dashboard/recoveries", data=good, headers=htmx)
    assert answer.status_code == 200 and "<html" not in answer.text, answer.text
    soup = BeautifulSoup(answer.text, "html.parser")
    row = await Recovery.objects().first()
    assert (row.claimed_amount, row.recovered_amount, row.currency) == (Decimal("1250.50"), Decimal("250"), "USD")
    assert row.recovered_on is not None and soup.select_one("#recovery-recorded") is not None
    cells = soup.select_one(f"#recovery-{row.id}").text
    assert "$1,250.50" in cells and "$1,000.50" in cells and "(31–60)" in cells
    event = await CaseEvent.objects().where(CaseEvent.kind == "recovery_recorded").first()
    assert event is not None and event.case == case.id
    for change, field in (
        ({"claimed": "12,5.999"}, "claimed"),
        ({"claimed": "-5"}, "claimed"),
        ({"claimed": "0"}, "claimed"),
        ({"recovered": "abc"}, "recovered"),
        ({"recovered": "5000"}, "recovered"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "€"}, "currency"),
        ({"case": "NOPE-1"}, "case"),
        ({"party": "customer"}, "party"),
        ({"claimed_on": "31.05.2026"}, "claimed_on"),
        ({"claimed_on": "2999-01-01"}, "claimed_on"),
    ):
        refused = await client.post("/dashboard/recoveries", data={**good, **change}, headers=htmx)
        assert refused.status_code == 422, (change, refused.text)
        assert refused.headers["HX-Retarget"] == "#messages"
        assert "could not be recorded" in refused.text and field in refused.text, change
    assert await Recovery.count() == 1
    plain = await client.post("/dashboard/recoveries", data={**good, "_csrf_token": token})
    assert plain.status_code == 303 and plain.headers["location"].startswith("/dashboard/recoveries#recovery-")
    await login("warehouse")
    assert (await client.post("/dashboard/recoveries", data=good, headers=htmx)).status_code == 403
