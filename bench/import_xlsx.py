"""P6: importing 100,000 purchase order lines from XLSX, against openpyxl's bare read-only parse of the file.

Builds the workbook (Chinese headers, dates, prices), times openpyxl reading every cell of it in
read-only mode (the ceiling the target names; the import itself reads with calamine, whose bare parse
is reported too), then times the whole import
on a fresh SQLite database: reading, header matching, checking and normalising every row, and writing
suppliers, products, orders and lines in one transaction. Prints one JSON line (`rows` for
bench/__main__.py). `--quick` uses 10,000 rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUICK = "--quick" in sys.argv or os.environ.get("BENCH_QUICK") == "1"
ROWS = 10_000 if QUICK else 100_000
TARGET_RATE = 5_000
TARGET_RATIO = 0.5
HEADERS = ["订单号", "行号", "供应商代码", "供应商", "承运商", "贸易条款", "运输方式", "下单日期", "到货日期",
           "货号", "品名", "品类", "数量", "单价", "币种", "地区", "柜号"]  # fmt: skip


def build(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("订单")
    sheet.append(HEADERS)
    start = date(2025, 1, 1)
    for i in range(rows):
        order = i // 10
        sheet.append([
            f"PO-{order:06d}", i % 10 + 1, f"S{order % 300:03d}", f"供应商{order % 300}", "COSCO", "FOB", "海运",
            start + timedelta(days=order % 365), f"{2025}/{order % 12 + 1}/{order % 28 + 1}",
            f"SKU-{i % 5000:05d}", f"产品{i % 5000}", "餐具", 100 + i % 50, f"{(i % 900) / 10 + 1:.2f}", "CNY",
            "华东", f"CSQU{order % 999999:07d}",
        ])  # fmt: skip
    workbook.save(path)


def bare_parse(path: Path) -> float:
    from openpyxl import load_workbook

    started = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    assert count == ROWS + 1
    return time.perf_counter() - started


def calamine_parse(path: Path) -> float:
    """The reader the import uses, bare: how much of the import is left for matching, checking and writing."""
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    count = sum(1 for _ in CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows())
    assert count == ROWS + 1
    return time.perf_counter() - started


async def full_import(path: Path, folder: Path) -> tuple[float, int]:
    from app import db
    from app.cases.events import Actor
    from app.imports.jobs import commit, preview_file
    from app.migrate import migrate
    from app.piccolo_app import TABLES
    from app.settings import Settings

    settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'bench.sqlite3'}").resolved()
    await migrate(settings)
    engine = db.make_engine(settings.database_url)
    db.bind_tables(engine, TABLES)
    await db.start(engine)
    started = time.perf_counter()
    _, preview = await asyncio.to_thread(preview_file, path, "orders")
    result = await commit(preview=preview, actor=Actor.system())
    seconds = time.perf_counter() - started
    assert not preview.errors, preview.errors[:3]
    return seconds, result.created


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        path = folder / "orders.xlsx"
        build(path, ROWS)
        ceiling_s = min(bare_parse(path) for _ in range(2))
        reader_s = min(calamine_parse(path) for _ in range(2))
        import_s, created = asyncio.run(full_import(path, folder))
    rate = ROWS / import_s
    ceiling = ROWS / ceiling_s
    ratio = rate / ceiling
    row = {
        "id": "P6",
        "what": f"XLSX import of {ROWS:,} order lines (read, match, check, write) in rows/s",
        "figure": round(rate),
        "ceiling": round(ceiling),
        "ratio": round(ratio, 2),
        "target": f">= {TARGET_RATE} rows/s and >= {TARGET_RATIO} of the bare openpyxl read-only parse",
        "met": rate >= TARGET_RATE and ratio >= TARGET_RATIO,
        "note": (
            f"{created:,} lines created; import {import_s:.1f} s, bare openpyxl parse {ceiling_s:.1f} s; "
            f"the import reads with calamine, whose bare parse takes {reader_s:.1f} s"
        ),
    }
    print(json.dumps({"rows": [row]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
