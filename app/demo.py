"""Demo data that tells a story: six months of orders, two weak suppliers, one rough carrier."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from app.accounts.roles import Role
from app.accounts.services import user_add
from app.accounts.tables import User
from app.cases import services as cases
from app.cases.events import Actor
from app.cases.responsibility import hint_refresh
from app.cases.states import MAIN_LINE, Node
from app.cases.tables import Case
from app.reminders.demo import reminder_history
from app.trade.tables import Carrier, Customer, OrderLine, Product, PurchaseOrder, Supplier

DEMO_PASSWORD = "crossclaim-demo"  # noqa: S105 - printed by `make run` on purpose
DEMO_USERS = [
    ("admin@crossclaim.demo", Role.ADMIN, "Admin Ada", "en"),
    ("manager@crossclaim.demo", Role.MANAGER, "Manager Mei", "zh"),
    ("handler@crossclaim.demo", Role.HANDLER, "Handler Hao", "zh"),
    ("handler2@crossclaim.demo", Role.HANDLER, "Handler Lena", "en"),
    ("warehouse@crossclaim.demo", Role.WAREHOUSE, "Warehouse Wu", "zh"),
]

# (code, name, country, language, time zone, defect propensity): two are clearly worse.
SUPPLIERS = [
    ("SUP-BRW", "Shenzhen Brightway Electronics", "CN", "zh", "Asia/Shanghai", 0.030),
    ("SUP-NBH", "Ningbo Harbour Homeware", "CN", "zh", "Asia/Shanghai", 0.026),
    ("SUP-GZT", "Guangzhou Tianhe Textiles", "CN", "zh", "Asia/Shanghai", 0.007),
    ("SUP-YWK", "Yiwu Kangda Kitchenware", "CN", "zh", "Asia/Shanghai", 0.006),
    ("SUP-DGE", "Dongguan Everlight Components", "CN", "zh", "Asia/Shanghai", 0.008),
    ("SUP-HCM", "Saigon Fine Garments", "VN", "en", "Asia/Ho_Chi_Minh", 0.006),
    ("SUP-STU", "Stuttgart Präzision GmbH", "DE", "en", "Europe/Berlin", 0.004),
    ("SUP-OSK", "Osaka Craft Housewares", "JP", "en", "Asia/Tokyo", 0.005),
]
# (code, name, mode, time zone, transit damage propensity): EuroRoad breaks things.
CARRIERS = [
    ("CAR-BLW", "BlueWave Ocean Lines", "sea", "Asia/Shanghai", 0.004),
    ("CAR-SKY", "SkyBridge Air Cargo", "air", "Asia/Hong_Kong", 0.003),
    ("CAR-EUR", "EuroRoad Freight", "road", "Europe/Berlin", 0.020),
    ("CAR-SWP", "SwiftParcel Express", "courier", "Asia/Shanghai", 0.005),
]
CATEGORIES = {
    "electronics": ["Bluetooth speaker", "USB-C charger", "LED desk lamp", "Smart plug", "Power bank"],
    "home_kitchen": ["Ceramic mug set", "Chef knife", "Glass storage jar", "Cast iron pan", "Bamboo board"],
    "textiles": ["Cotton bed sheet", "Linen tablecloth", "Wool scarf", "Bath towel set", "Cushion cover"],
}
SUPPLIER_CATEGORIES = {
    "SUP-BRW": "electronics",
    "SUP-DGE": "electronics",
    "SUP-STU": "electronics",
    "SUP-NBH": "home_kitchen",
    "SUP-YWK": "home_kitchen",
    "SUP-OSK": "home_kitchen",
    "SUP-GZT": "textiles",
    "SUP-HCM": "textiles",
}
REGIONS = ["East China", "South China", "North China", "Central China", "Southwest", "Northeast"]
# The story's corrective actions started this many days ago and are judged after ACTION_CHECK_DAYS:
# Ningbo's new packaging spec worked (its defects drop), Brightway's stricter inspection did not.
ACTION_DAYS_AGO = 75
ACTION_CHECK_DAYS = 60
INCOTERMS = ["FOB", "FOB", "CIF", "CFR", "EXW", "FCA", "DAP", "DDP"]
QUALITY_PROBLEMS = ["quality_defect", "quality_defect", "not_as_described", "missing_parts", "wrong_item"]
TRANSIT_PROBLEMS = ["transit_damage", "transit_damage", "short_shipment", "lost_in_transit", "late_delivery"]
CUSTOMER_NAMES = [
    "王芳", "李强", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄婷", "周杰", "吴霞",
    "Hangzhou Home Retail", "Beijing Gadget Mart", "Chengdu Living Store", "Wuhan Kitchen Co.",
]
DESCRIPTIONS = {
    "quality_defect": ["Units do not power on after charging.", "Glaze cracked on several pieces.",
                       "Stitching comes apart after first wash.", "Button sticks, casing misaligned."],
    "not_as_described": ["Colour differs from the approved sample.", "Material feels thinner than specified."],
    "missing_parts": ["Power adapters missing from the cartons.", "Lids missing for half the jars."],
    "wrong_item": ["Received the 20 W model instead of 65 W.", "Wrong size delivered: queen instead of king."],
    "transit_damage": ["Outer cartons crushed, units inside broken.", "Pallet collapsed, corner cartons wet."],
    "short_shipment": ["Two cartons fewer than the packing list.", "Units missing from sealed cartons."],
    "lost_in_transit": ["Consignment not delivered; tracking stopped at hub."],
    "late_delivery": ["Arrived three weeks after the agreed date; promotion missed."],
    "customs_issue": ["Held for inspection; cartons opened and re-packed poorly."],
}


async def seed_demo(*, force: bool = False, seed: int = 2026, today: date | None = None) -> dict[str, Any]:
    """Fill an empty database; returns what was made (or why nothing was)."""
    if not force and await Case.count() > 0:
        return {"skipped": "the database already has cases"}
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=182)

    users = await _users()
    handlers = [u for u in users if u.role == Role.HANDLER]
    suppliers = await _rows(Supplier, [
        {"code": c, "name": n, "country": cc, "language": lang, "time_zone": tz,
         "email": f"aftersales@{c.lower()}.example"}
        for c, n, cc, lang, tz, _ in SUPPLIERS
    ], key="code")
    carriers = await _rows(Carrier, [
        {"code": c, "name": n, "transport_mode": m, "time_zone": tz, "email": f"claims@{c.lower()}.example"}
        for c, n, m, tz, _ in CARRIERS
    ], key="code")
    products: dict[str, list[Product]] = {}
    for code, category in SUPPLIER_CATEGORIES.items():
        rows = [
            {"sku": f"{code[4:]}-{i + 1:03d}", "name": name, "category": category, "supplier": suppliers[code].id}
            for i, name in enumerate(CATEGORIES[category])
        ]
        products[code] = list((await _rows(Product, rows, key="sku")).values())
    customers = [
        Customer(name=name, email=f"customer{i}@example.com", phone=f"+86 138 0000 {i:04d}",
                 language="zh" if ord(name[0]) > 127 else "en", region=rng.choice(REGIONS))
        for i, name in enumerate(CUSTOMER_NAMES * 3)
    ]
    await Customer.insert(*customers)

    lines = await _orders(rng, start, today, suppliers, carriers, products)
    made = await _cases(rng, today, lines, suppliers, carriers, customers, handlers, users)
    reminders = await reminder_history(today=today)  # overdue nodes with the reminders they caused
    actions = await _corrective_actions(today, suppliers, carriers, users)
    return {
        "users": len(users),
        "suppliers": len(suppliers),
        "carriers": len(carriers),
        "order_lines": len(lines),
        "cases": made,
        "reminders": reminders,
        "corrective_actions": actions,
        "login": {"email": "handler@crossclaim.demo", "password": DEMO_PASSWORD},
    }


async def _users() -> list[User]:
    users = []
    for email, role, name, language in DEMO_USERS:
        existing = await User.objects().where(User.email == email).first()
        users.append(existing or await user_add(
            email=email, role=role, password=DEMO_PASSWORD, name=name, language=language
        ))
    return users


async def _rows(table: Any, rows: list[dict[str, Any]], *, key: str) -> dict[str, Any]:
    made = {}
    for row in rows:
        existing = await table.objects().where(getattr(table, key) == row[key]).first()
        if existing is None:
            existing = table(**row)
            await existing.save()
        made[row[key]] = existing
    return made


async def _orders(
    rng: random.Random,
    start: date,
    today: date,
    suppliers: dict[str, Supplier],
    carriers: dict[str, Carrier],
    products: dict[str, list[Product]],
) -> list[dict[str, Any]]:
    """About 300 purchase orders of five lines each: the units delivered behind every rate."""
    carrier_list = list(carriers.values())
    lines: list[dict[str, Any]] = []
    number = 0
    day = start
    while day < today - timedelta(days=3):
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            number += 1
            code = rng.choice(list(suppliers))
            carrier = rng.choice(carrier_list)
            shipped = day - timedelta(days=rng.randint(10, 35))
            delivered = day
            order = PurchaseOrder(
                number=f"PO-{day:%Y%m}-{number:04d}",
                supplier=suppliers[code].id,
                carrier=carrier.id,
                incoterm=rng.choice(INCOTERMS),
                transport_mode=carrier.transport_mode,
                region=rng.choice(REGIONS),
                ordered_on=shipped - timedelta(days=30),
                ship_by=shipped - timedelta(days=rng.choice([-3, 0, 2, 5])),
                shipped_on=shipped,
                delivered_on=delivered,
                container_no=f"MSCU{rng.randint(1000000, 9999999)}" if carrier.transport_mode == "sea" else "",
                seal_no=f"SL{rng.randint(100000, 999999)}",
                tracking_no=f"TRK{rng.randint(10**9, 10**10 - 1)}",
                currency="USD",
            )
            await order.save()
            rows = []
            for line_no, product in enumerate(rng.sample(products[code], k=min(5, len(products[code]))), start=1):
                quantity = rng.randint(100, 2000)
                rows.append(OrderLine(
                    line_key=f"{order.number}#{line_no}",
                    purchase_order=order.id,
                    line_no=line_no,
                    product=product.id,
                    quantity_ordered=quantity,
                    quantity_delivered=quantity - rng.choice([0, 0, 0, rng.randint(1, 20)]),
                    unit_price=Decimal(rng.randint(200, 5000)) / 100,
                ))
            await OrderLine.insert(*rows)
            for row in rows:
                lines.append(
                    {"line": row, "order": order, "supplier": code, "carrier": carrier, "product": row.product}
                )
        day += timedelta(days=1)
    return lines


async def _cases(
    rng: random.Random,
    today: date,
    lines: list[dict[str, Any]],
    suppliers: dict[str, Supplier],
    carriers: dict[str, Carrier],
    customers: list[Customer],
    handlers: list[User],
    users: list[User],
) -> dict[str, int]:
    """About 150 cases, drawn by each supplier's and carrier's propensity, spread over every node."""
    supplier_risk = {code: risk for code, *_, risk in SUPPLIERS}
    carrier_risk = {code: risk for code, *_, risk in CARRIERS}
    carrier_codes = {carrier.id: code for code, carrier in carriers.items()}
    reporter = next(u for u in users if u.role == Role.WAREHOUSE)
    counts: dict[str, int] = {}
    for entry in lines:
        quality = rng.random() < _quality_risk(entry, supplier_risk, today) * 5
        transit = rng.random() < carrier_risk[carrier_codes[entry["carrier"].id]] * 5
        if not (quality or transit):
            continue
        order: PurchaseOrder = entry["order"]
        problem = rng.choice(QUALITY_PROBLEMS if quality else TRANSIT_PROBLEMS)
        delivered = order.delivered_on
        reported_at = datetime.combine(delivered + timedelta(days=rng.randint(0, 6)), time(9), UTC) + timedelta(
            minutes=rng.randint(0, 480)
        )
        if reported_at.date() >= today:
            continue
        line: OrderLine = entry["line"]
        affected = max(1, int(line.quantity_delivered * rng.uniform(0.005, 0.08)))
        draft = cases.CaseDraft(
            problem_type=problem,
            description=rng.choice(DESCRIPTIONS.get(problem, ["See photos."])),
            order_number=order.number,
            quantity_affected=affected,
            region=order.region,
            urgency=rng.choice(["low", "normal", "normal", "high", "critical"]),
            purchase_order_id=order.id,
            order_line_id=line.id,
            product_id=entry["product"],
            supplier_id=suppliers[entry["supplier"]].id,
            carrier_id=entry["carrier"].id,
            customer_id=rng.choice(customers).id,
            assignee_id=rng.choice(handlers).id,
            claim_amount=(line.unit_price * affected).quantize(Decimal("0.01")),
            currency="USD",
            facts=_facts(rng, problem, order),
        )
        actor = Actor(kind="user", id=str(reporter.id), label=reporter.name)
        created = await cases.case_create(actor=actor, draft=draft, now=reported_at)
        # The hint as it was worked out when the case came in; the page counts its deadlines from today.
        hinted_at = reported_at + timedelta(seconds=1)
        await hint_refresh(case_id=created.case.id, actor=Actor.system(), today=hinted_at.date(), now=hinted_at)
        final = await _walk(rng, created.case.number, reported_at, today, handlers)
        await _recovery(rng, created.case.id, draft, final, reported_at, today)
        await _decision(rng, created.case.number, draft, final, reported_at, handlers)
        counts[final] = counts.get(final, 0) + 1
    return counts


def _facts(rng: random.Random, problem: str, order: PurchaseOrder) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "problem_type": problem,
        "incoterm": order.incoterm,
        "transport_mode": order.transport_mode,
        "delivered_on": order.delivered_on.isoformat() if order.delivered_on else None,
    }
    if problem == "transit_damage":
        facts.update(
            damage_noted_on_receipt=rng.random() < 0.6,
            outer_packaging=rng.choice(["damaged", "damaged", "intact"]),
            packaging_adequate=rng.random() < 0.8,
        )
    elif problem == "short_shipment":
        facts.update(seal=rng.choice(["intact", "broken"]), cartons_short_on_receipt=rng.random() < 0.5)
    elif problem in {"quality_defect", "not_as_described"}:
        facts.update(outer_packaging="intact", psi=rng.choice(["passed", "none", "failed_shipped"]))
    return facts


async def _walk(rng: random.Random, number: str, start: datetime, today: date, handlers: list[User]) -> str:
    """Move a case along the main line as far as its age allows; some get disputed or cancelled."""
    handler = rng.choice(handlers)
    actor = Actor(kind="user", id=str(handler.id), label=handler.name)
    age_days = (datetime.combine(today, time(9), UTC) - start).days
    steps = min(len(MAIN_LINE) - 1, rng.randint(0, max(0, age_days // 9)))
    at = start
    node = Node.REPORTED
    for target in MAIN_LINE[1 : steps + 1]:
        at += timedelta(days=rng.uniform(0.5, 6))
        if at.date() >= today:
            break
        if node in {Node.RESPONSIBILITY, Node.PLAN} and rng.random() < 0.08:
            await cases.case_move(actor=actor, number=number, target="disputed",
                                  reason="Supplier disputes responsibility", now=at)
            return Node.DISPUTED.value
        await cases.case_move(actor=actor, number=number, target=target.value, now=at)
        node = target
    if node is Node.REPORTED and rng.random() < 0.05:
        await cases.case_move(actor=actor, number=number, target="cancelled", reason="Reported twice", now=at)
        return Node.CANCELLED.value
    return node.value


def _quality_risk(entry: dict[str, Any], supplier_risk: dict[str, float], today: date) -> float:
    delivered = entry["order"].delivered_on
    if delivered >= today - timedelta(days=ACTION_DAYS_AGO):
        if entry["supplier"] == "SUP-NBH":
            return 0.005  # the new packaging spec took effect
        if entry["supplier"] == "SUP-BRW":
            return 0.045  # stricter inspection did not reach the cause: defects went on, even rose
    return supplier_risk[entry["supplier"]]


async def _recovery(
    rng: random.Random, case_id: int, draft: cases.CaseDraft, final: str, reported_at: datetime, today: date
) -> None:
    """Money claimed back from the responsible party once a plan exists; some of it already recovered."""
    from app.analytics.tables import Recovery

    if final in {"reported", "responsibility", "cancelled"} or draft.claim_amount is None or rng.random() < 0.3:
        return
    party = "carrier" if draft.problem_type in TRANSIT_PROBLEMS else "supplier"
    claimed_on = min(today, (reported_at + timedelta(days=rng.randint(3, 12))).date())
    share = {"closed": 1.0, "feedback": 1.0, "completed": rng.choice([0.5, 1.0])}.get(final, 0.0)
    recovered = (draft.claim_amount * Decimal(str(share))).quantize(Decimal("0.01"))
    await Recovery(
        case=case_id,
        party=party,
        kind="insurer" if party == "carrier" and rng.random() < 0.5 else rng.choice(["refund", "credit_note"]),
        claimed_amount=draft.claim_amount,
        recovered_amount=recovered,
        currency=draft.currency,
        claimed_on=claimed_on,
        recovered_on=min(today, claimed_on + timedelta(days=rng.randint(5, 40))) if recovered else None,
    ).save()


async def _decision(
    rng: random.Random, number: str, draft: cases.CaseDraft, final: str, reported_at: datetime, handlers: list[User]
) -> None:
    """Past the responsibility node someone settled the party: mostly as hinted, sometimes overriding it."""
    from app.cases.responsibility import SETTLED_PARTIES, party_confirm
    from app.cases.tables import Case as CaseRow

    if final in {"reported", "responsibility", "cancelled"}:
        return
    case = await CaseRow.objects().where(CaseRow.number == number).output(load_json=True).first()
    hint: dict[str, Any] = case.hint if case is not None and isinstance(case.hint, dict) else {}
    hinted = str(hint.get("party") or "")
    handler = rng.choice(handlers)
    actor = Actor(kind="user", id=str(handler.id), label=handler.name)
    at = reported_at + timedelta(days=1)
    if hinted in SETTLED_PARTIES and rng.random() < 0.8:
        await party_confirm(actor=actor, number=number, party=hinted, now=at)
        return
    party = "carrier" if draft.problem_type in TRANSIT_PROBLEMS else "supplier"
    if party == hinted:
        party = "purchaser"
    await party_confirm(actor=actor, number=number, party=party, reason="Inspection report points elsewhere", now=at)


async def _corrective_actions(
    today: date, suppliers: dict[str, Supplier], carriers: dict[str, Carrier], users: list[User]
) -> dict[str, str]:
    """Two actions whose check period is over (one worked, one did not) and one still running."""
    from app.analytics import services as analytics

    manager = next(u for u in users if u.role == Role.MANAGER)
    started = today - timedelta(days=ACTION_DAYS_AGO)
    plans = [
        ("SUP-NBH", None, "packaging", "New packaging spec: double-wall cartons, foam corners", started),
        ("SUP-BRW", None, "production", "Stricter inspection: AQL 1.0 pre-shipment inspection", started),
        (None, "CAR-EUR", "handling_in_transit", "Change of carrier on the road lanes", today - timedelta(days=20)),
    ]
    for supplier, carrier, cause, action, on in plans:
        await analytics.corrective_action_create(
            root_cause=cause,
            action=action,
            supplier_id=suppliers[supplier].id if supplier else None,
            carrier_id=carriers[carrier].id if carrier else None,
            owner_id=manager.id,
            due_on=on + timedelta(days=14),
            started_on=on,
            check_after_days=ACTION_CHECK_DAYS,
            today=today,
        )
    verdicts = await analytics.effect_check_due(today=today)
    return {key: str(value) for key, value in verdicts.items()}
