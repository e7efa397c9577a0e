"""Search over cases on both engines (kept by triggers), and similar cases with how they ended."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup

from app.cases.events import Actor
from app.cases.search import search_cases, similar_cases, text_similarity
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, Message
from app.trade.tables import Product, Supplier

ACTOR = Actor(kind="system", label="Tester")


async def found(text: str) -> list[str]:
    return [row["number"] for row in await search_cases(text)]


async def test_search_finds_numbers_orders_text_messages_and_suppliers() -> None:
    ceramics = Supplier(code="SZ01", name="深圳陶瓷厂")
    await ceramics.save()
    cracked = (
        await case_create(
            actor=ACTOR,
            draft=CaseDraft(
                problem_type="quality_defect", description="釉面开裂，客户要求退款", order_number="PO-7781"
            ),
        )
    ).case
    crushed = (
        await case_create(
            actor=ACTOR,
            draft=CaseDraft(
                problem_type="transit_damage", description="Carton crushed at the dock", supplier_id=ceramics.id
            ),
        )
    ).case
    assert await found(cracked.number) == [cracked.number]
    assert await found("po-7781") == [cracked.number]
    assert await found("釉面开裂") == [cracked.number]
    assert await found("开裂") == [cracked.number]  # two characters: below the trigram length, still found
    assert await found("CRUSHED dock") == [crushed.number]
    assert await found("陶瓷厂") == [crushed.number]
    assert await found("nothing-like-this") == []
    assert await found('quote " and 100%_') == []

    await Message(case=cracked.id, party="supplier", body="We will send a replacement by DHL").save()
    assert await found("replacement DHL") == [cracked.number]
    await Supplier.update({Supplier.name: "Foshan Ceramics"}).where(Supplier.id == ceramics.id)
    assert await found("陶瓷厂") == [] and await found("foshan") == [crushed.number]
    await Case.update({Case.description: "Glaze flaking"}).where(Case.id == cracked.id)
    assert await found("釉面") == [] and await found("flaking") == [cracked.number]


async def test_grid_search_box_uses_the_index(client: Any, login: Any) -> None:
    for text in ("门把手松动", "包装破损严重", "颜色不符"):
        await case_create(actor=ACTOR, draft=CaseDraft(problem_type="other", description=text))
    await login("handler")
    page = await client.get("/grid", params={"q": "破损"})
    rows = BeautifulSoup(page.text, "html.parser").select("#grid-rows tr[data-case]")
    assert len(rows) == 1


def test_text_similarity_for_chinese_and_english() -> None:
    assert text_similarity("外箱破损严重", "外箱破损") > 0.5
    assert text_similarity("cracked glaze", "glaze cracked") > 0.4
    assert text_similarity("", "anything") == 0.0


async def test_similar_cases_rank_by_what_they_share_and_say_how_they_ended(client: Any, login: Any) -> None:
    ceramics = Supplier(code="SZ01", name="深圳陶瓷厂")
    other = Supplier(code="NB02", name="Ningbo Tools")
    await ceramics.save()
    await other.save()
    mug = Product(sku="MUG-1", name="Mug", supplier=ceramics.id)
    await mug.save()

    async def make(supplier: Any, product: Any, problem: str, text: str) -> Case:
        draft = CaseDraft(problem_type=problem, description=text, supplier_id=supplier, product_id=product)
        return (await case_create(actor=ACTOR, draft=draft)).case

    same_all = await make(ceramics.id, mug.id, "quality_defect", "釉面开裂")
    same_supplier = await make(ceramics.id, None, "transit_damage", "箱子压坏")
    unrelated = await make(other.id, None, "late_delivery", "晚到三天")
    current = await make(ceramics.id, mug.id, "quality_defect", "杯子釉面开裂")
    opened = same_all.created_at
    await Case.update(
        {
            Case.node: "closed",
            Case.closed_at: opened + timedelta(days=12),
            Case.remedy: "refund",
            Case.confirmed_party: "supplier",
            Case.claim_amount: Decimal("88.00"),
        }
    ).where(Case.id == same_all.id)
    similar = await similar_cases(current.id)
    assert [row["number"] for row in similar] == [same_all.number, same_supplier.number]
    best = similar[0]
    assert best["days"] == 12 and best["paid_by"] == "supplier" and best["remedy"] == "refund"
    assert unrelated.number not in [row["number"] for row in similar]

    await login("handler")
    detail = await client.get(f"/cases/{current.number}")
    assert f'hx-get="/grid/similar/{current.number}"' in detail.text
    panel = await client.get(f"/grid/similar/{current.number}", headers={"HX-Request": "true"})
    soup = BeautifulSoup(panel.text, "html.parser")
    first = soup.select("#similar-cases tbody tr")[0]
    cells = [td.text.strip() for td in first.select("td")]
    assert cells[0].startswith(same_all.number) and cells[3] == "Refund" and cells[4] == "12"
    assert cells[5] == "Supplier" and cells[6] == "CN¥88.00"  # Babel's money format for English
    assert datetime.now(UTC) > opened
