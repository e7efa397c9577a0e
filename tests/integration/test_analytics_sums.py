"""The daily sums behind the dashboard stay exact: after every kind of write, summing only the dirty days
gives the same table as summing everything again, and the dashboard's figures do not move."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.analytics import daily, figures
from app.analytics.filters import AnalyticsFilters
from app.cases.events import Actor, record_event
from app.cases.tables import Case
from tests.integration.test_analytics_figures import generate
from tests.integration.test_import import ORDER_HEADERS, csv_bytes, import_bytes, order_rows

TODAY = date(2026, 6, 15)
# Every day of the generated rows, with loose days at both ends and whole months between.
PERIOD = AnalyticsFilters(start=date(2026, 1, 20), end=TODAY)
ACTOR = Actor(kind="system", label="Tester")
POSTGRES = os.environ.get("TEST_ENGINE") == "postgres"
COLUMNS = ("fact", "grain", "day", *daily.KEYS, *daily.VALUES)


async def table() -> list[tuple[Any, ...]]:
    rows = await Case.raw(f"SELECT {', '.join(COLUMNS)} FROM analytics_day")
    return sorted(
        (
            tuple(
                round(float(row[name]), 6)
                if name in ("days", "max_days") and row[name] is not None
                else str(row[name])[:10]
                if name == "day"
                else row[name]
                for name in COLUMNS
            )
            for row in rows
        ),
        key=repr,
    )


async def assert_exact(period: AnalyticsFilters) -> dict[str, Any]:
    """Sum the dirty days, compare with a full rebuild, and return the summary (which must not change)."""
    summary = await figures.summary(period)
    assert not await daily.pending()
    incremental = await table()
    await daily.rebuild()
    assert await table() == incremental
    assert rounded(await figures.summary(period)) == rounded(summary)
    return summary


def rounded(value: Any) -> Any:
    """Sums of day fractions added in another order differ in the last bits only."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


async def test_sums_stay_exact_through_creates_moves_edits_imports_and_deletes(tmp_path: Path) -> None:
    from app.cases.grid import inline_update
    from app.cases.services import CaseDraft, case_create, case_move
    from app.trade.tables import OrderLine, PurchaseOrder

    await generate(seed=3)
    figures = await assert_exact(PERIOD)
    assert figures["totals"]["cases"] > 0 and figures["rate"]["units"] > 0 and figures["cycle_times"]

    # A new case on an order delivered in the period, then moves along the nodes.
    order = await PurchaseOrder.objects().where(PurchaseOrder.delivered_on >= date(2026, 3, 1)).first()
    line = await OrderLine.objects().where(OrderLine.purchase_order == order.id).first()
    now = datetime.combine(TODAY - timedelta(days=3), datetime.min.time(), UTC)
    draft = CaseDraft(
        order_number=order.number,
        purchase_order_id=order.id,
        order_line_id=line.id,
        product_id=line.product,
        supplier_id=order.supplier,
        carrier_id=order.carrier,
        quantity_affected=7,
        problem_type="quality_defect",
        description="Glaze cracked",
        region=order.region,
    )
    created = (await case_create(actor=ACTOR, draft=draft, now=now)).case
    before = await assert_exact(PERIOD)
    assert before["totals"]["cases"] == figures["totals"]["cases"] + 1
    await case_move(actor=ACTOR, number=created.number, target="responsibility", now=now + timedelta(hours=5))
    await case_move(actor=ACTOR, number=created.number, target="plan", now=now + timedelta(days=1))
    await record_event(
        case_id=created.id, actor=Actor(kind="supplier", label="supplier"), kind="message", data={"party": "supplier"}
    )
    await assert_exact(PERIOD)

    # Edits: the region from the grid, the order's delivery day and lines straight in the tables.
    await inline_update(actor=ACTOR, case_id=created.id, field_name="region", value="Elsewhere")
    await PurchaseOrder.update({PurchaseOrder.delivered_on: TODAY - timedelta(days=1)}).where(
        PurchaseOrder.id == order.id
    )
    await OrderLine.update({OrderLine.quantity_delivered: OrderLine.quantity_delivered + 5}).where(
        OrderLine.id == line.id
    )
    edited = await assert_exact(PERIOD)
    assert edited["rate"]["units"] == before["rate"]["units"] + 5
    await case_move(actor=ACTOR, number=created.number, target="cancelled", reason="entered twice")
    await assert_exact(PERIOD)

    # Imports: new orders and lines, then a legacy ledger of cases on them.
    orders = [[*row[:8], "2026年6月5日", *row[9:]] for row in order_rows()]
    await import_bytes(tmp_path, "orders.csv", csv_bytes(ORDER_HEADERS, orders, "utf-8"))
    headers = ["售后单号", "登记日期", "订单号", "供应商", "货号", "问题类型", "问题描述", "数量", "责任方"]
    ledger = [["SH-1", "2026-06-08", "PO-1001", "深圳陶瓷厂", "MUG-1", "破损", "外箱压坏", 12, "承运商"]]
    await import_bytes(tmp_path, "ledger.csv", csv_bytes(headers, ledger, "utf-8"), kind="cases")
    imported = await assert_exact(PERIOD)
    assert imported["rate"]["units"] > edited["rate"]["units"]

    # Deleting every row, as a clean-up of demo data does (maintenance lifts the append-only guard) empties the sums.
    await delete_everything()
    emptied = await assert_exact(PERIOD)
    assert emptied["totals"]["cases"] == 0 and emptied["rate"]["units"] == 0
    assert await table() == []


async def delete_everything() -> None:
    from app import db
    from app.piccolo_app import TABLES

    engine = db.current_engine()
    async with db.atomic():
        if POSTGRES:
            await engine.run_ddl("SET LOCAL crossclaim.maintenance = 'on'")
        else:
            await engine.run_ddl("INSERT OR IGNORE INTO audit_maintenance (id) VALUES (1)")
        for table in reversed(TABLES):
            await engine.run_ddl(f"DELETE FROM {table._meta.tablename}")
        if not POSTGRES:
            await engine.run_ddl("DELETE FROM audit_maintenance")


async def test_emptying_the_timeline_is_summed_again() -> None:
    from app import db

    await generate(seed=4)
    before = await assert_exact(PERIOD)
    engine = db.current_engine()
    # PostgreSQL's TRUNCATE skips row triggers; a statement trigger marks every summed day instead.
    if POSTGRES:
        await engine.run_ddl("TRUNCATE case_event")
    else:
        async with db.atomic():
            await engine.run_ddl("INSERT OR IGNORE INTO audit_maintenance (id) VALUES (1)")
            await engine.run_ddl("DELETE FROM case_event")
            await engine.run_ddl("DELETE FROM audit_maintenance")
    after = await assert_exact(PERIOD)
    assert before["cycle_times"] and after["cycle_times"] == []
    assert after["totals"]["cases"] == before["totals"]["cases"]


async def test_rebuild_command_prints_the_days_it_summed(settings: Any) -> None:
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    await generate(seed=6)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "CROSSCLAIM_DATA_DIR": str(settings.data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "analytics", "rebuild"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["days"] > 100
    assert not await daily.pending()
    assert (await figures.summary(PERIOD))["totals"]["cases"] > 0


async def test_a_refresh_beside_an_uncommitted_write_waits_for_it(settings: Any) -> None:
    """A write to an already dirty day, not yet committed, must not be summed without: the refresh waits.

    On PostgreSQL the write's mark locks the existing mark (without that lock the refresh went ahead, summed
    the day without the write and deleted the mark for good); on SQLite the refresh queues behind the writer.
    """
    import asyncio

    from app.cases.services import CaseDraft, case_create

    at = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    draft = CaseDraft(problem_type="quality_defect", description="Cracked", region="East", quantity_affected=2)
    case = (await case_create(actor=ACTOR, draft=draft, now=at)).case
    assert await daily.pending()  # the day of the new case is marked, not yet summed
    writer = await Writer.open(settings.database_url)
    try:
        await writer.begin_update_region(case.id, "West")
        refreshing = asyncio.ensure_future(daily.refresh())
        await asyncio.sleep(0.5)
        assert not refreshing.done(), "the refresh did not wait for the write holding the day's mark"
        await writer.commit()
        await asyncio.wait_for(refreshing, timeout=30)
    finally:
        await writer.close()
    regions = await Case.raw("SELECT DISTINCT region FROM analytics_day WHERE fact = 'created' AND grain = 'd'")
    assert [row["region"] for row in regions] == ["West"]


class Writer:
    """A second connection of the engine under test, writing outside the app's own."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str) -> Writer:
        if POSTGRES:
            import asyncpg

            return cls(await asyncpg.connect(url))
        import aiosqlite

        return cls(await aiosqlite.connect(url.removeprefix("sqlite:///"), isolation_level=None))

    async def begin_update_region(self, case_id: int, region: str) -> None:
        if POSTGRES:
            await self.connection.execute("BEGIN")
            await self.connection.execute("UPDATE after_sales_case SET region = $1 WHERE id = $2", region, case_id)
        else:
            await self.connection.execute("BEGIN IMMEDIATE")
            await self.connection.execute("UPDATE after_sales_case SET region = ? WHERE id = ?", (region, case_id))

    async def commit(self) -> None:
        await self.connection.execute("COMMIT")

    async def close(self) -> None:
        await self.connection.close()
