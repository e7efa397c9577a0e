"""The SQL figures against a plain Python recomputation over the same generated rows."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.analytics import figures
from app.analytics.filters import AnalyticsFilters, month_bounds
from app.analytics.rates import wilson

START = date(2026, 3, 1)
END = date(2026, 5, 31)
REGIONS = ["East", "South", "North"]
PROBLEMS = ["quality_defect", "transit_damage", "wrong_item", "late_delivery"]


def event(**fields: Any) -> Any:
    """A timeline row for the figures; a unique stand-in predecessor keeps each chain unforked."""
    from app.cases.tables import CaseEvent

    return CaseEvent(prev_hash=uuid.uuid4().hex, **fields)


async def generate(seed: int = 7) -> dict[str, Any]:
    """Orders, lines and cases around the period (some outside it), events, deadlines, disputes, money."""
    from app.analytics.tables import Recovery
    from app.cases.tables import Case
    from app.collaboration.tables import Dispute
    from app.tracking.tables import StageDeadline
    from app.trade.tables import Carrier, OrderLine, Product, PurchaseOrder, Supplier

    rng = random.Random(seed)
    suppliers = [Supplier(code=f"S{i}", name=f"供应商 {i}") for i in range(4)]
    await Supplier.insert(*suppliers)
    carriers = [Carrier(code=f"C{i}", name=f"Carrier {i}") for i in range(3)]
    await Carrier.insert(*carriers)
    products = [
        Product(sku=f"P{i}", name=f"Product {i}", category=["toys", "tools"][i % 2], supplier=suppliers[i % 4].id)
        for i in range(8)
    ]
    await Product.insert(*products)
    lines: list[dict[str, Any]] = []
    for number in range(60):
        delivered = START - timedelta(days=20) + timedelta(days=rng.randint(0, 120))
        supplier = suppliers[number % 4]
        order = PurchaseOrder(
            number=f"PO{number}",
            supplier=supplier.id,
            carrier=rng.choice(carriers).id,
            region=rng.choice(REGIONS),
            delivered_on=delivered,
        )
        await order.save()
        own = [p for p in products if p.supplier == supplier.id]
        for line_no, product in enumerate(own, start=1):
            line = OrderLine(
                line_key=f"{order.number}#{line_no}",
                purchase_order=order.id,
                line_no=line_no,
                product=product.id,
                quantity_ordered=500,
                quantity_delivered=rng.randint(50, 900),
            )
            await line.save()
            lines.append({"order": order, "line": line, "product": product})
    cases: list[Any] = []
    for index in range(140):
        entry = rng.choice(lines)
        order = entry["order"]
        created = datetime(2026, 2, 20, 8, tzinfo=UTC) + timedelta(hours=rng.randint(0, 24 * 110))
        node = rng.choice(["reported", "plan", "closed", "disputed", "cancelled", "completed"])
        case = Case(
            number=f"CC-{index:04d}",
            purchase_order=order.id,
            order_line=entry["line"].id,
            product=entry["product"].id,
            supplier=order.supplier,
            carrier=order.carrier,
            quantity_affected=rng.randint(1, 40),
            problem_type=rng.choice(PROBLEMS),
            region=order.region,
            node=node,
            created_at=created,
            node_entered_at=created,
            confirmed_party=rng.choice(["", "supplier", "supplier", "carrier"]),
        )
        await case.save()
        cases.append(case)
        at = created
        previous = "reported"
        for target in ["responsibility", "plan", "implementation"][: rng.randint(0, 3)]:
            at += timedelta(hours=rng.randint(3, 200))
            await event(
                case=case.id, at=at, kind="node_changed", data={"from": previous, "to": target, "reason": ""}
            ).save()
            previous = target
        if rng.random() < 0.5:
            kind = rng.choice(["responsibility_confirmed", "responsibility_overridden"])
            await event(case=case.id, at=created + timedelta(hours=5), kind=kind, data={}).save()
        if rng.random() < 0.6:
            due = created + timedelta(days=3)
            finished = created + timedelta(days=rng.uniform(0.5, 6)) if rng.random() < 0.8 else None
            await StageDeadline(
                case=case.id,
                node="responsibility",
                owner_party=rng.choice(["us", "supplier"]),
                started_at=created,
                due_at=due,
                finished_at=finished,
                paused_seconds=rng.choice([0, 0, 86400]),
            ).save()
        if case.confirmed_party == "supplier" and rng.random() < 0.3:
            await Dispute(case=case.id, opened_by="supplier", from_node="plan", reason="not ours").save()
        if rng.random() < 0.4:
            await Recovery(
                case=case.id,
                party="supplier",
                claimed_amount=Decimal("100.50"),
                recovered_amount=Decimal(rng.choice(["0", "40.25", "100.50"])),
                currency=rng.choice(["USD", "CNY"]),
                claimed_on=created.date(),
            ).save()
    return {"lines": lines, "cases": cases, "suppliers": suppliers, "products": products}


def expected_rates(data: dict[str, Any], filters: AnalyticsFilters, key: Any) -> dict[Any, tuple[int, int, int]]:
    units: dict[Any, int] = defaultdict(int)
    affected: dict[Any, int] = defaultdict(int)
    count: dict[Any, int] = defaultdict(int)
    orders = {entry["order"].id: entry["order"] for entry in data["lines"]}
    products = {p.id: p for p in data["products"]}
    for entry in data["lines"]:
        order = entry["order"]
        if filters.start <= order.delivered_on <= filters.end and _matches_order(order, filters):
            if not filters.category or entry["product"].category == filters.category:
                units[key(order, entry["product"])] += entry["line"].quantity_delivered
    for case in data["cases"]:
        order = orders[case.purchase_order]
        if case.node == "cancelled" or not (filters.start <= order.delivered_on <= filters.end):
            continue
        if not _matches_order(order, filters) or (filters.problem_type and case.problem_type != filters.problem_type):
            continue
        if filters.category and products[case.product].category != filters.category:
            continue
        affected[key(order, products[case.product])] += case.quantity_affected
        count[key(order, products[case.product])] += 1
    return {k: (affected.get(k, 0), units.get(k, 0), count.get(k, 0)) for k in set(units) | set(affected)}


def _matches_order(order: Any, filters: AnalyticsFilters) -> bool:
    return (
        (filters.supplier_id is None or order.supplier == filters.supplier_id)
        and (filters.carrier_id is None or order.carrier == filters.carrier_id)
        and (not filters.region or order.region == filters.region)
    )


def in_period(moment: datetime, filters: AnalyticsFilters) -> bool:
    return filters.start <= moment.astimezone(UTC).date() <= filters.end


KEYS = {
    "supplier": lambda order, product: order.supplier,
    "carrier": lambda order, product: order.carrier,
    "region": lambda order, product: order.region,
    "product": lambda order, product: product.id,
    "category": lambda order, product: product.category,
}


async def test_rates_match_python() -> None:
    from app.trade.tables import Carrier

    data = await generate()
    carrier = await Carrier.select(Carrier.id).where(Carrier.code == "C1").first()
    narrowings: list[dict[str, Any]] = [
        {},
        {"region": "East"},
        {"problem_type": "quality_defect"},
        {"category": "tools"},
        {"carrier_id": carrier["id"]},
        {"supplier_id": data["suppliers"][2].id},
    ]
    for narrow in narrowings:
        filters = AnalyticsFilters(start=START, end=END, **narrow)
        for dimension, key in KEYS.items():
            got = {row["key"]: row for row in await figures.rates_by(filters, dimension)}
            expected = expected_rates(data, filters, key)
            assert set(got) == set(expected), (narrow, dimension)
            for k, (hit, units, cases) in expected.items():
                row = got[k]
                assert (row["affected"], row["units"], row["cases"]) == (hit, units, cases), (narrow, dimension, k)
                interval = wilson(hit, units)
                assert row["low"] == pytest.approx(interval.low) and row["high"] == pytest.approx(interval.high)
        overall = await figures.overall_rate(filters)
        totals = expected_rates(data, filters, lambda order, product: "all").get("all", (0, 0, 0))
        assert (overall["affected"], overall["units"]) == totals[:2]


async def test_case_figures_match_python() -> None:
    data = await generate(seed=11)
    filters = AnalyticsFilters(start=START, end=END)
    reported = [case for case in data["cases"] if in_period(case.created_at, filters)]
    assert reported, "the generated data must put cases in the period"

    pareto = await figures.cases_by_problem_type(filters)
    counts: dict[str, int] = defaultdict(int)
    for case in reported:
        counts[case.problem_type] += 1
    assert {row["problem_type"]: row["cases"] for row in pareto} == counts
    assert [row["cases"] for row in pareto] == sorted(counts.values(), reverse=True)
    assert pareto[-1]["cumulative"] == pytest.approx(1.0)
    assert pareto[0]["cumulative"] == pytest.approx(pareto[0]["cases"] / len(reported))

    totals = await figures.case_totals(filters)
    assert totals["cases"] == len(reported)
    assert totals["open"] == sum(1 for case in reported if case.node not in {"closed", "cancelled"})
    assert totals["disputed"] == sum(1 for case in reported if case.node == "disputed")

    trend = {row["month"]: row for row in await figures.monthly_trend(filters)}
    assert list(trend) == ["2026-03", "2026-04", "2026-05"]
    for month, row in trend.items():
        assert row["cases"] == sum(1 for case in reported if case.created_at.strftime("%Y-%m") == month)
        first, last = month_bounds(month)
        expected = expected_rates(data, AnalyticsFilters(start=first, end=last), lambda order, product: "all")
        assert (row["affected"], row["units"]) == expected.get("all", (0, 0, 0))[:2]


async def test_process_figures_match_python() -> None:
    from app.cases.tables import Case, CaseEvent
    from app.collaboration.tables import Dispute
    from app.tracking.tables import StageDeadline

    await generate(seed=5)
    filters = AnalyticsFilters(start=START, end=END)
    cases = {case.id: case for case in await Case.objects()}
    events = await CaseEvent.objects().order_by(CaseEvent.id).output(load_json=True)

    durations: dict[str, list[float]] = defaultdict(list)
    last_at: dict[int, datetime] = {}
    hints: dict[str, int] = defaultdict(int)
    for event in events:
        if event.kind == "node_changed":
            since = last_at.get(event.case, cases[event.case].created_at)
            if in_period(event.at, filters):
                durations[event.data["from"]].append((event.at - since).total_seconds() / 86400)
            last_at[event.case] = event.at
        elif event.kind.startswith("responsibility_") and in_period(event.at, filters):
            hints[event.kind] += 1
    cycle = {row["node"]: row for row in await figures.cycle_times(filters)}
    assert set(cycle) == set(durations)
    for node, values in durations.items():
        assert cycle[node]["moves"] == len(values)
        assert cycle[node]["avg_days"] == pytest.approx(sum(values) / len(values), rel=1e-6)
        assert cycle[node]["max_days"] == pytest.approx(max(values), rel=1e-6)

    decisions = await figures.hint_decisions(filters)
    assert decisions["confirmed"] == hints["responsibility_confirmed"]
    assert decisions["overridden"] == hints["responsibility_overridden"]

    sla: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for deadline in await StageDeadline.objects():
        if deadline.finished_at is not None and in_period(deadline.finished_at, filters):
            cell = sla[(deadline.node, deadline.owner_party)]
            cell[0] += 1
            cell[1] += deadline.finished_at <= deadline.due_at + timedelta(seconds=deadline.paused_seconds)
    got = {(row["node"], row["party"]): [row["finished"], row["met"]] for row in await figures.sla_compliance(filters)}
    assert got == dict(sla)

    disputed = {d.case for d in await Dispute.objects() if d.opened_by == "supplier"}
    acceptance: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for case in cases.values():
        if case.confirmed_party == "supplier" and in_period(case.created_at, filters):
            acceptance[case.supplier][0] += 1
            acceptance[case.supplier][1] += case.id not in disputed
    got_acceptance = await figures.supplier_acceptance(filters)
    assert {k: [v["assigned"], v["accepted"]] for k, v in got_acceptance.items()} == dict(acceptance)


async def pushes_and_answers(seed: int) -> None:
    """Cases pushed to the supplier (some to the carrier, some twice) and answers from either side."""
    from app.cases.tables import Case

    rng = random.Random(seed)
    for case in await Case.objects().order_by(Case.id):
        if rng.random() < 0.3:
            continue
        if rng.random() < 0.2:  # an answer before any push is not an answer to it
            await event(case=case.id, at=case.created_at, kind="message", actor_kind="supplier", data={}).save()
        pushed = case.created_at + timedelta(hours=rng.randint(1, 48))
        party = rng.choice(["supplier", "supplier", "carrier"])
        await event(case=case.id, at=pushed, kind="case_pushed", data={"party": party}).save()
        if rng.random() < 0.3:
            again = pushed + timedelta(days=3)
            await event(case=case.id, at=again, kind="case_pushed", data={"party": "supplier"}).save()
        for _ in range(rng.randint(0, 2)):
            await event(
                case=case.id,
                at=pushed + timedelta(hours=rng.uniform(0.5, 300)),
                kind=rng.choice(["party_response", "message", "plan_proposed"]),
                actor_kind=rng.choice(["supplier", "supplier", "user", "carrier"]),
                data={},
            ).save()


async def test_supplier_answer_times_match_python() -> None:
    from app.cases.tables import Case, CaseEvent

    data = await generate(seed=13)
    await pushes_and_answers(seed=13)
    filters = AnalyticsFilters(start=START, end=END)
    cases = {case.id: case for case in await Case.objects()}
    timeline: dict[int, list[Any]] = defaultdict(list)
    for event in await CaseEvent.objects().output(load_json=True):
        timeline[event.case].append(event)
    pushed: dict[int, int] = defaultdict(int)
    answers: dict[int, list[float]] = defaultdict(list)
    for case_id, events in timeline.items():
        pushes = [e.at for e in events if e.kind == "case_pushed" and e.data.get("party") == "supplier"]
        if not pushes or not in_period(min(pushes), filters):
            continue
        first, supplier = min(pushes), cases[case_id].supplier
        pushed[supplier] += 1
        replies = [
            e.at
            for e in events
            if e.actor_kind == "supplier" and e.kind in ("party_response", "message") and e.at >= first
        ]
        if replies:
            answers[supplier].append((min(replies) - first).total_seconds() / 86400)
    assert sum(pushed.values()) > 20 and sum(len(v) for v in answers.values()) > 10
    got = await figures.supplier_answer_times(filters)
    assert {k: (v["pushed"], v["answered"]) for k, v in got.items()} == {
        k: (n, len(answers[k])) for k, n in pushed.items()
    }
    for supplier, values in answers.items():
        assert got[supplier]["answer_days"] == pytest.approx(sum(values) / len(values), rel=1e-6)
        assert got[supplier]["answer_max_days"] == pytest.approx(max(values), rel=1e-6)
    ranking = {row["key"]: row for row in (await figures.summary(filters))["suppliers"]}
    for supplier in data["suppliers"]:
        row = ranking[supplier.id]
        assert (row["pushed"], row["answered"]) == (pushed.get(supplier.id, 0), len(answers.get(supplier.id, [])))
        expected = answers.get(supplier.id)
        assert row["answer_days"] == (pytest.approx(sum(expected) / len(expected)) if expected else None)


async def test_supplier_flag_needs_the_whole_interval_above() -> None:
    from app.cases.tables import Case
    from app.trade.tables import Carrier, OrderLine, Product, PurchaseOrder, Supplier

    day = date(2026, 4, 10)
    carrier = Carrier(code="C", name="C")
    await carrier.save()
    plan = [("BAD", 10_000, 400), ("FEW", 40, 2), ("OK1", 10_000, 50), ("OK2", 10_000, 60)]
    for code, units, affected in plan:
        supplier = Supplier(code=code, name=code)
        await supplier.save()
        product = Product(sku=code, name=code, supplier=supplier.id)
        await product.save()
        order = PurchaseOrder(number=code, supplier=supplier.id, carrier=carrier.id, delivered_on=day)
        await order.save()
        line = OrderLine(
            line_key=code, purchase_order=order.id, line_no=1, product=product.id, quantity_delivered=units
        )
        await line.save()
        await Case(
            number=code,
            purchase_order=order.id,
            order_line=line.id,
            product=product.id,
            supplier=supplier.id,
            quantity_affected=affected,
            problem_type="quality_defect",
        ).save()
    ranking = await figures.supplier_ranking(AnalyticsFilters(start=date(2026, 4, 1), end=date(2026, 4, 30)))
    flags = {row["name"]: row["significantly_above"] for row in ranking}
    # FEW has the highest point rate (5%) but 40 units: its interval reaches below the overall rate.
    assert ranking[0]["name"] == "FEW"
    assert flags == {"BAD": True, "FEW": False, "OK1": False, "OK2": False}
