"""Taking a grid view out as CSV or XLSX, with the view's columns and filters and real cell types."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.cases.grid import BY_NAME, EXPORT_LIMIT, GridView, grid_rows

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; the grid shows UTC times too
    return value


async def export_rows(view: GridView, case_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Every row of the view (not one page), or only the ``case_ids`` of it, in the view's order."""
    return await grid_rows(GridView(columns=view.columns, filters=view.filters, sort=view.sort,
                                    descending=view.descending, query=view.query),
                           limit=EXPORT_LIMIT, case_ids=case_ids)  # fmt: skip


def to_csv(view: GridView, rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(BY_NAME[n].label) for n in view.columns])
    for row in rows:
        writer.writerow(["" if row[n] is None else (row[n].isoformat() if isinstance(row[n], datetime) else row[n])
                         for n in view.columns])  # fmt: skip
    # With a BOM, Excel opens UTF-8 Chinese text correctly instead of guessing GBK.
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(view: GridView, rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Cases")
    sheet.freeze_panes = "A2"
    last_column = _column_letter(len(view.columns))
    sheet.auto_filter.ref = f"A1:{last_column}{len(rows) + 1}"
    sheet.append([str(BY_NAME[n].label) for n in view.columns])
    formats = {n: BY_NAME[n].kind for n in view.columns}
    for row in rows:
        cells = []
        for name in view.columns:
            value = _cell(row[name])
            if formats[name] == "decimal" and isinstance(value, Decimal):
                value = float(value)  # XLSX numbers are doubles; cents survive at these magnitudes
            cells.append(value)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(max(index, 1)))


async def export_view(view: GridView, fmt: str, case_ids: list[int] | None = None) -> bytes:
    rows = await export_rows(view, case_ids)
    return to_xlsx(view, rows) if fmt == "xlsx" else to_csv(view, rows)
