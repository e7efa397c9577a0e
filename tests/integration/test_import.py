"""Imports end to end: Chinese headers, GBK CSV, XLSX made here, mapping corrections, idempotent re-imports, CLI."""

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from openpyxl import Workbook

from app.cases.events import Actor
from app.cases.tables import Case, CaseEvent
from app.imports.jobs import commit, preview_file
from app.trade.tables import OrderLine, Product, PurchaseOrder, Supplier
from tests.conftest import ROOT, csrf_token

ACTOR = Actor(kind="system", label="Tester")
ORDER_HEADERS = ["订单号", "行号", "供应商代码", "供应商", "承运商", "贸易条款", "运输方式", "下单日期", "到货日期",
                 "货号", "品名", "品类", "数量", "单价", "币种", "地区", "柜号"]  # fmt: skip


def order_rows() -> list[list[Any]]:
    return [
        ["PO-1001", 1, "SZ01", "深圳陶瓷厂", "COSCO", "FOB", "海运", "2026/1/5", "2026年3月5日",
         "MUG-1", "陶瓷杯", "餐具", 1200, "¥12.50", "人民币", "华东", "CSQU3054383"],
        ["PO-1001", 2, "SZ01", "深圳陶瓷厂", "COSCO", "FOB", "海运", "2026/1/5", "2026年3月5日",
         "BOWL-2", "陶瓷碗", "餐具", "1,000", "8", "CNY", "华东", "CSQU3054383"],
        ["PO-1002", 1, "NB02", "宁波五金", "", "EXW", "空运", "2026-02-01", "2026-02-20",
         "HOOK-3", "挂钩", "五金", 500, 1.2, "USD", "华南", ""],
    ]  # fmt: skip


def xlsx_bytes(headers: list[str], rows: list[list[Any]], *, title: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        sheet.append([])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(headers: list[str], rows: list[list[Any]], encoding: str = "gbk") -> bytes:
    lines = [",".join(str(c) if "," not in str(c) else f'"{c}"' for c in row) for row in [headers, *rows]]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


async def import_bytes(tmp_path: Path, name: str, data: bytes, kind: str = "orders", **options: Any) -> Any:
    path = tmp_path / name
    path.write_bytes(data)
    _, preview = preview_file(path, kind)
    return preview, await commit(preview=preview, actor=ACTOR, **options)


async def test_gbk_csv_with_chinese_headers_imports_orders_and_twice_makes_no_duplicates(tmp_path: Path) -> None:
    rows = [[str(c).replace("¥", "￥") for c in row] for row in order_rows()]  # ¥ (U+00A5) is not in GBK
    data = csv_bytes(ORDER_HEADERS, rows, "gbk")
    preview, result = await import_bytes(tmp_path, "orders.csv", data)
    assert preview.errors == [] and preview.valid == 3
    assert result.created == 3
    line = (
        await OrderLine.objects(OrderLine.purchase_order, OrderLine.product)
        .where(OrderLine.line_key == "PO-1001#2")
        .first()
    )
    assert line.quantity_ordered == 1000 and line.unit_price == Decimal("8")
    assert line.product.sku == "BOWL-2" and line.product.category == "餐具"
    order = (
        await PurchaseOrder.objects(PurchaseOrder.supplier, PurchaseOrder.carrier)
        .where(PurchaseOrder.number == "PO-1001")
        .first()
    )
    assert order.delivered_on == date(2026, 3, 5) and order.ordered_on == date(2026, 1, 5)
    assert order.supplier.name == "深圳陶瓷厂" and order.carrier.name == "COSCO"
    assert order.transport_mode == "sea" and order.currency == "CNY" and order.container_no == "CSQU3054383"
    _, again = await import_bytes(tmp_path, "orders-again.csv", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    rows[1][13] = "9"  # the bowl's price changed
    _, changed = await import_bytes(tmp_path, "orders-changed.csv", csv_bytes(ORDER_HEADERS, rows, "gbk"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert [n.as_dict() for n in changed.listed()][1] == {
        "row": 3,
        "outcome": "updated",
        "reason": "Order line PO-1001#2 was already there; its values were updated.",
    }
    assert await OrderLine.count() == 3 and await PurchaseOrder.count() == 2
    assert await Supplier.count() == 2 and await Product.count() == 3


async def test_xlsx_with_merged_title_blank_rows_serial_dates_and_formulas(tmp_path: Path) -> None:
    rows = order_rows()
    rows[0][8] = 46086  # Excel serial for 2026-03-05
    rows[1][8] = datetime(2026, 3, 5)
    rows.insert(1, [None] * len(ORDER_HEADERS))  # a blank row in the middle
    rows[2][13] = "=3+5"  # a formula never calculated: openpyxl saves no value for it
    data = xlsx_bytes(ORDER_HEADERS, rows, title="2026年采购订单")
    path = tmp_path / "orders.xlsx"
    path.write_bytes(data)
    sheet, preview = preview_file(path, "orders")
    assert sheet.header_row == 3  # title on row 1, blank row 2
    assert preview.rows == 4 and [n.as_dict() for n in preview.skipped] == [
        {"row": 5, "outcome": "skipped", "reason": "An empty row."}
    ]
    assert [e.as_dict() for e in preview.errors] == [
        {"row": 6, "column": "单价", "message": "A formula without a saved value: open and save the file in Excel."}
    ]
    assert preview.records[0]["delivered_on"] == date(2026, 3, 5)
    with pytest.raises(Exception, match=r"rows? ha(s|ve) errors"):
        await commit(preview=preview, actor=ACTOR)
    assert await OrderLine.count() == 0  # refused as a whole: nothing written
    result = await commit(preview=preview, actor=ACTOR, skip_invalid=True)
    assert result.created == 2 and await OrderLine.count() == 2
    assert (result.rows, result.skipped, result.errors) == (4, 1, 1)


async def test_a_table_starting_in_column_c_keeps_its_columns_and_finds_unsaved_formulas(tmp_path: Path) -> None:
    rows = order_rows()
    rows[1][13] = "=3+5"  # never calculated: no saved value
    workbook = Workbook()
    sheet = workbook.active
    for row_no, values in enumerate([ORDER_HEADERS, *rows], start=2):
        for column_no, value in enumerate(values, start=3):  # the table starts at C2
            sheet.cell(row=row_no, column=column_no, value=value)
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    sheet_read, preview = preview_file(path, "orders")
    assert sheet_read.header_row == 2
    assert [e.as_dict() for e in preview.errors] == [
        {"row": 4, "column": "单价", "message": "A formula without a saved value: open and save the file in Excel."}
    ]
    assert preview.valid == len(rows) - 1


async def test_invalid_values_are_listed_per_row_and_column(tmp_path: Path) -> None:
    rows = order_rows()
    rows[0][8] = "2026-02-30"
    rows[1][12] = "many"
    rows[2][13] = "12..5"
    rows[2][5] = "XYZ"
    data = csv_bytes(ORDER_HEADERS, rows, "utf-8")
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    _, preview = preview_file(path, "orders")
    found = {(e.row, e.column) for e in preview.errors}
    assert found == {(2, "到货日期"), (3, "数量"), (4, "单价"), (4, "贸易条款")}
    assert preview.valid == 0


async def test_legacy_ledger_with_chinese_problem_types_imports_cases_once(tmp_path: Path) -> None:
    headers = [
        "售后单号",
        "登记日期",
        "订单号",
        "供应商",
        "货号",
        "问题类型",
        "问题描述",
        "数量",
        "索赔金额",
        "币种",
        "责任方",
        "处理方式",
        "结案日期",
    ]
    rows = [
        [
            "SH-001",
            "2025/11/3",
            "PO-1001",
            "深圳陶瓷厂",
            "MUG-1",
            "破损",
            "外箱压坏",
            12,
            "￥150.00",
            "",
            "承运商",
            "补发",
            "2025/11/20",
        ],
        [
            "SH-002",
            45975,
            "PO-1001",
            "深圳陶瓷厂",
            "MUG-1",
            "质量问题",
            "釉面开裂",
            3,
            "90",
            "CNY",
            "供应商",
            "退款",
            "",
        ],
        ["", "2025-12-01", "", "宁波五金", "", "少发", "少了两箱", 2, "", "", "", "", ""],
    ]
    data = csv_bytes(headers, rows, "gb18030")
    preview, result = await import_bytes(tmp_path, "ledger.csv", data, kind="cases")
    assert preview.errors == [] and result.created == 3
    cases = {c.client_key: c for c in await Case.objects()}
    damaged = cases["ledger:SH-001"]
    assert damaged.problem_type == "transit_damage" and damaged.node == "closed"
    assert damaged.claim_amount == Decimal("150.00") and damaged.currency == "CNY"
    assert damaged.confirmed_party == "carrier" and damaged.remedy == "replacement"
    assert cases["ledger:SH-002"].problem_type == "quality_defect" and cases["ledger:SH-002"].node == "reported"
    assert await CaseEvent.count() == 3
    _, again = await import_bytes(tmp_path, "ledger-again.csv", data, kind="cases")
    assert again.created == 0 and again.unchanged == 3 and await Case.count() == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 50, "not a CSV or XLSX"),
        (b"PK\x03\x04 broken zip", "cannot be opened"),
        ("订单号,货号,数量\n".encode(), "no data rows"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, content: bytes, message: str) -> None:
    from app.imports.reader import FileRefused

    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(FileRefused, match=message):
        preview_file(path, "orders")


def run_cli(tmp_path: Path, settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "CROSSCLAIM_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


async def test_cli_dry_run_refusal_skip_invalid_and_idempotence(tmp_path: Path, settings: Any) -> None:
    rows = order_rows()
    rows[2][12] = "abc"
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes(ORDER_HEADERS, rows))
    dry = run_cli(tmp_path, settings, "import", "orders", str(path), "--dry-run")
    expected_errors = [{"row": 4, "column": "数量", "message": "'abc' is not a whole number."}]
    assert json.loads(dry.stdout) == {
        "rows": 3, "valid": 2, "skipped": 0, "error_rows": 1, "errors": expected_errors,
        "skipped_rows": [], "repeats": [], "unmapped": [], "unknown_values": {},
    }  # fmt: skip
    refused = run_cli(tmp_path, settings, "import", "orders", str(path))
    assert refused.returncode == 2 and json.loads(refused.stdout)["errors"] == expected_errors
    assert await OrderLine.count() == 0
    done = run_cli(tmp_path, settings, "import", "orders", str(path), "--skip-invalid")
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout)["imported"]
    assert imported["created"] == 2 and (imported["rows"], imported["errors"], imported["not_created"]) == (3, 1, [])
    again = run_cli(tmp_path, settings, "import", "orders", str(path), "--skip-invalid")
    imported = json.loads(again.stdout)["imported"]
    assert (imported["created"], imported["unchanged"], imported["errors"]) == (0, 2, 1)
    assert [row["row"] for row in imported["not_created"]] == [2, 3] and await OrderLine.count() == 2
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    nothing = run_cli(tmp_path, settings, "import", "cases", str(empty))
    assert nothing.returncode == 2 and "empty" in json.loads(nothing.stdout)["errors"][0]["message"]


async def upload(client: Any, name: str, data: bytes, kind: str = "orders") -> Any:
    token = await csrf_token(client)
    return await client.post(
        "/imports", data={"kind": kind, "_csrf_token": token}, files={"file": (name, data, "application/octet-stream")}
    )


async def test_web_import_mapping_correction_preview_and_confirm(client: Any, login: Any) -> None:
    await login("handler")
    headers = list(ORDER_HEADERS)
    headers[9] = "Artikel"  # not a known name for the SKU: the user maps it by hand
    response = await upload(client, "orders.xlsx", xlsx_bytes(headers, order_rows()))
    assert response.status_code == 303
    page_url = response.headers["location"]
    page = await client.get(page_url)
    soup = BeautifulSoup(page.text, "html.parser")
    assert "SKU" in soup.select_one("#import-form").text
    assert soup.select_one("#map_sku option[selected]") is None
    assert "Artikel: not imported — map it to a field above" in soup.select_one("#import-unmapped").text
    assert not soup.select("#import-confirm")
    token = await csrf_token(client)
    hx = {"HX-Request": "true", "x-csrftoken": token}
    remapped = await client.post(f"{page_url}/mapping", data={"map_sku": "9"}, headers=hx)
    soup = BeautifulSoup(remapped.text, "html.parser")
    assert soup.select_one("#import-summary").text.startswith("3 rows: 3 to import, 0 skipped")
    assert soup.select_one("#import-unmapped") is None
    assert await OrderLine.count() == 0  # nothing written before the confirmation
    confirmed = await client.post(f"{page_url}/confirm", data={"map_sku": "9"}, headers=hx)
    assert confirmed.status_code == 200, confirmed.text
    done = BeautifulSoup(confirmed.text, "html.parser").select_one("#import-done").text
    assert "3 new" in done and "(3 rows)" in done
    assert await OrderLine.count() == 3
    twice = await client.post(f"{page_url}/confirm", data={"map_sku": "9"}, headers=hx)
    assert twice.status_code == 200 and await OrderLine.count() == 3


async def test_web_import_errors_block_confirmation_and_bad_files_get_a_page(client: Any, login: Any) -> None:
    await login("manager")
    rows = order_rows()
    rows[0][12] = "-5"
    response = await upload(client, "orders.csv", csv_bytes(ORDER_HEADERS, rows, "utf-8"))
    page_url = response.headers["location"]
    soup = BeautifulSoup((await client.get(page_url)).text, "html.parser")
    cells = [td.text for td in soup.select("#import-errors tbody tr td")]
    assert cells == ["2", "数量", "Enter at least 0."]
    token = await csrf_token(client)
    refused = await client.post(f"{page_url}/confirm", data={}, headers={"HX-Request": "true", "x-csrftoken": token})
    assert refused.status_code == 422 and await OrderLine.count() == 0
    png = await upload(client, "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 50)
    refusal = await client.get(png.headers["location"])
    assert refusal.status_code == 200 and "not a CSV or XLSX" in refusal.text
    empty = await upload(client, "empty.csv", b"")
    assert empty.status_code == 422 and "empty" in empty.text


def run_as_worker(settings: Any, task: Any) -> None:
    """What `crossclaim worker` does with a task: its own engine (the test's pool belongs to the test's loop)."""
    from app import db
    from app.piccolo_app import TABLES
    from app.queue import huey

    original = db.current_engine()
    db.bind_tables(db.make_engine(settings.database_url), TABLES)
    try:
        huey.execute(task)
    finally:
        db.bind_tables(original, TABLES)


async def test_big_import_runs_as_a_task_with_progress(client: Any, login: Any, settings: Any) -> None:
    from app.imports import jobs
    from app.queue import huey

    await login("handler")
    rows = [["PO-9", i, "SZ01", "深圳陶瓷厂", "", "FOB", "sea", "", "", f"SKU-{i}", "x", "", 1, 1, "CNY", "", ""]
            for i in range(1, jobs.BACKGROUND_ROWS + 50)]  # fmt: skip
    response = await upload(client, "big.csv", csv_bytes(ORDER_HEADERS, rows, "utf-8"))
    page_url = response.headers["location"]
    token = await csrf_token(client)
    confirmed = await client.post(f"{page_url}/confirm", data={}, headers={"HX-Request": "true", "x-csrftoken": token})
    assert confirmed.status_code == 200
    # Queued, not written: the page polls a progress bar until a worker has run the task.
    soup = BeautifulSoup(confirmed.text, "html.parser")
    assert soup.select_one("#import-progress") is not None
    assert soup.select_one("[hx-trigger='every 1s']")["hx-get"] == f"{page_url}/progress"
    assert await OrderLine.count() == 0
    # A worker thread takes the task from the real queue and runs it, as `crossclaim worker` does.
    task = huey.dequeue()
    assert task is not None
    await asyncio.get_running_loop().run_in_executor(None, run_as_worker, settings, task)
    progress = await client.get(f"{page_url}/progress", headers={"HX-Request": "true"})
    assert "import-done" in progress.text
    assert await OrderLine.count() == jobs.BACKGROUND_ROWS + 49


async def test_someone_elses_import_is_not_found(client: Any, login: Any, make_user: Any) -> None:
    from tests.conftest import sign_in

    await login("handler")
    response = await upload(client, "orders.csv", csv_bytes(ORDER_HEADERS, order_rows(), "utf-8"))
    page_url = response.headers["location"]
    other = await make_user("handler")
    client.cookies.clear()
    await sign_in(client, other)
    assert (await client.get(page_url)).status_code == 404


# What the import flow says to each reader: the file's own headers and cell values stay as written.
IMPORT_WORDS = {
    "en": {
        "problems": ["Enter at least 0.", "'12..5' is not an amount.", "'XYZ' is not an Incoterm; use one of "],
        "mapping": "Choose the file's column for “Quantity ordered”.",
        "refused": "This is not a CSV or XLSX file.",
    },
    "zh": {
        "problems": [
            "请输入不小于 0 的数。",
            "'12..5' 不是金额。",
            "'XYZ' 不是国际贸易术语（Incoterms）；请使用以下之一：",
        ],
        "mapping": "请选择文件中对应“订购数量”的列。",
        "refused": "这不是 CSV 或 XLSX 文件。",
    },
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_import_messages_are_in_the_readers_language(
    client: Any, make_user: Any, settings: Any, language: str
) -> None:
    from app.imports import jobs
    from tests.conftest import sign_in

    words = IMPORT_WORDS[language]
    user = await make_user("handler", language=language)
    await sign_in(client, user)
    rows = order_rows()
    rows[0][12] = "-5"
    rows[1][13] = "12..5"
    rows[2][5] = "XYZ"
    response = await upload(client, "orders.csv", csv_bytes(ORDER_HEADERS, rows, "utf-8"))
    page_url = response.headers["location"]
    soup = BeautifulSoup((await client.get(page_url)).text, "html.parser")
    table = [[td.text for td in tr.select("td")] for tr in soup.select("#import-errors tbody tr")]
    assert [(row, column) for row, column, _ in table] == [("2", "数量"), ("3", "单价"), ("4", "贸易条款")]
    shown = [problem for _, _, problem in table]
    assert shown[:2] == words["problems"][:2] and shown[2].startswith(words["problems"][2]), shown
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
    unmapped = await client.post(f"{page_url}/mapping", data={"map_quantity_ordered": ""}, headers=hx)
    alerts = [p.text for p in BeautifulSoup(unmapped.text, "html.parser").select("#import-form p.error")]
    assert alerts == [words["mapping"]]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 50
    refused = await client.get((await upload(client, "photo.csv", png)).headers["location"])
    assert BeautifulSoup(refused.text, "html.parser").select_one("#import-refused").text == words["refused"]
    # A run that fails where no reader's language is set (as in the worker) keeps English in its state;
    # the page says it in the reader's language when it shows the state.
    job = jobs.job_create(data_dir=settings.data_dir, kind="orders", filename="photo.csv", data=png, owner=user.id)
    failed = await jobs.job_run(data_dir=settings.data_dir, token=job.token, actor=ACTOR)
    assert failed["status"] == "failed" and failed["message"] == "This is not a CSV or XLSX file."
    progress = await client.get(f"/imports/{job.token}/progress", headers={"HX-Request": "true"})
    assert BeautifulSoup(progress.text, "html.parser").select_one("#import-failed").text.startswith(words["refused"])


async def test_day_month_order_is_found_in_the_file_or_chosen_on_the_page(
    client: Any, login: Any, tmp_path: Path, settings: Any
) -> None:
    headers = ["登记日期", "问题类型", "供应商"]
    found = tmp_path / "found.csv"
    found.write_bytes(csv_bytes(headers, [["03/04/2025", "破损", "A"], ["03/22/2025", "破损", "A"]], "utf-8"))
    _, preview = preview_file(found, "cases")
    assert preview.date_order == "mdy" and [r["reported_on"] for r in preview.records] == [
        date(2025, 3, 4), date(2025, 3, 22)
    ]  # fmt: skip
    both_ways = csv_bytes(headers, [["03/04/2025", "破损", "A"], ["05/06/2025", "破损", "A"]], "utf-8")
    path = tmp_path / "both.csv"
    path.write_bytes(both_ways)
    chosen = run_cli(tmp_path, settings, "import", "cases", str(path), "--dry-run", "--date-order", "mdy")
    assert json.loads(chosen.stdout)["date_order"] == "mdy"
    await login("handler")
    page_url = (await upload(client, "both.csv", both_ways, kind="cases")).headers["location"]
    soup = BeautifulSoup((await client.get(page_url)).text, "html.parser")
    assert soup.select_one("#date_order option[selected]")["value"] == "dmy"
    assert "reads both ways" in soup.select_one("#date-order-ambiguous").text
    assert "2025-04-03" in soup.select_one("#import-sample").text
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
    remapped = await client.post(f"{page_url}/mapping", data={"date_order": "mdy"}, headers=hx)
    soup = BeautifulSoup(remapped.text, "html.parser")
    assert soup.select_one("#date_order option[selected]")["value"] == "mdy"
    assert "2025-03-04" in soup.select_one("#import-sample").text
    again = BeautifulSoup((await client.get(page_url)).text, "html.parser")  # the choice is kept
    assert again.select_one("#date_order option[selected]")["value"] == "mdy"
