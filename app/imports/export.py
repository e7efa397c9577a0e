"""Taking a grid view out as CSV or XLSX, with the view's columns and filters and real cell types."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.cases.grid import BY_NAME, EXPORT_LIMIT, GridView, grid_rows
from app.i18n import label, zone_or_default

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# Columns holding a code: the file says them in the reader's words, as the grid does.
_WORDS = {"node": "node", "problem_type": "problem_type", "responsible": "party", "urgency": "urgency"}


def _cell(name: str, value: Any, zone: str | None) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: the reader's wall clock, as the grid shows it.
        return value.astimezone(zone_or_default(zone)).replace(tzinfo=None)
    if name in _WORDS and value:
        return label(value, _WORDS[name])
    return value


async def export_rows(view: GridView, case_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Every row of the view (not one page), or only the ``case_ids`` of it, in the view's order."""
    return await grid_rows(GridView(columns=view.columns, filters=view.filters, sort=view.sort,
                                    descending=view.descending, query=view.query),
                           limit=EXPORT_LIMIT, case_ids=case_ids)  # fmt: skip


def to_csv(view: GridView, rows: list[dict[str, Any]], zone: str | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(BY_NAME[n].label) for n in view.columns])
    for row in rows:
        cells = (_cell(n, row[n], zone) for n in view.columns)
        writer.writerow(["" if c is None else (f"{c:%Y-%m-%d %H:%M}" if isinstance(c, datetime) else c) for c in cells])
    # With a BOM, Excel opens UTF-8 Chinese text correctly instead of guessing GBK.
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(view: GridView, rows: list[dict[str, Any]], zone: str | None = None) -> bytes:
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
            value = _cell(name, row[name], zone)
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


async def export_view(view: GridView, fmt: str, case_ids: list[int] | None = None, *, zone: str | None = None) -> bytes:
    """The view as a file: codes in the reader's words, times on ``zone``'s clock (the company's by default)."""
    rows = await export_rows(view, case_ids)
    return to_xlsx(view, rows, zone) if fmt == "xlsx" else to_csv(view, rows, zone)
