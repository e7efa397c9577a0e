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


# A text cell starting with one of these is run as a formula by spreadsheet programs opening a CSV
# (OWASP "CSV injection"): such text is written with a leading apostrophe, which shows it as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


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
    writer.writerow([csv_text(str(BY_NAME[n].label)) for n in view.columns])
    for row in rows:
        writer.writerow([_csv_cell(_cell(n, row[n], zone)) for n in view.columns])
    # With a BOM, Excel opens UTF-8 Chinese text correctly instead of guessing GBK.
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, int | float | Decimal):
        return value  # a number, a negative one too, is not a formula
    return csv_text(str(value))


def to_xlsx(view: GridView, rows: list[dict[str, Any]], zone: str | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Cases")
    sheet.freeze_panes = "A2"
    last_column = _column_letter(len(view.columns))
    sheet.auto_filter.ref = f"A1:{last_column}{len(rows) + 1}"
    sheet.append([_xlsx_cell(sheet, str(BY_NAME[n].label)) for n in view.columns])
    formats = {n: BY_NAME[n].kind for n in view.columns}
    for row in rows:
        cells = []
        for name in view.columns:
            value = _cell(name, row[name], zone)
            if formats[name] == "decimal" and isinstance(value, Decimal):
                value = float(value)  # XLSX numbers are doubles; cents survive at these magnitudes
            cells.append(_xlsx_cell(sheet, value))
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """Text always as a string cell: openpyxl would store text starting with "=" as a live formula."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(max(index, 1)))


async def export_view(view: GridView, fmt: str, case_ids: list[int] | None = None, *, zone: str | None = None) -> bytes:
    """The view as a file: codes in the reader's words, times on ``zone``'s clock (the company's by default)."""
    rows = await export_rows(view, case_ids)
    return to_xlsx(view, rows, zone) if fmt == "xlsx" else to_csv(view, rows, zone)
