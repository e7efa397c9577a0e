"""Reading an uploaded CSV or XLSX file into numbered rows, whatever Excel did to it."""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.imports.messages import MessageError
from app.imports.values import is_blank
from app.rules.facts import N_

# More than this is refused outright rather than read for minutes; split the file instead.
MAX_ROWS = 200_000
# Rows looked at to find the header (title rows and blank rows above it are skipped).
HEADER_SEARCH_ROWS = 20


class FileRefused(MessageError):
    """The file as a whole cannot be imported; the message says why and what to do."""


def _too_many_rows() -> FileRefused:
    return FileRefused(N_("The file has more than %(limit)s rows; split it into smaller files."), limit=f"{MAX_ROWS:,}")


@dataclass(frozen=True)
class Sheet:
    """The header row and the data rows below it, each with its row number as the user sees it."""

    headers: list[str]
    header_row: int
    rows: list[tuple[int, tuple[Any, ...]]]
    # Cells holding a formula whose value Excel never saved: (row, column index).
    unsaved_formulas: frozenset[tuple[int, int]] = frozenset()
    encoding: str = ""
    # Empty rows between the header and the last data row: skipped, but counted and listed.
    blank_rows: tuple[int, ...] = ()


def file_kind(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(N_("This is an old Excel .xls file; save it as .xlsx or CSV and try again."))
    if b"\x00" in head[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(N_("This is not a CSV or XLSX file."))
    return "csv"


def read_sheet(path: Path, *, known_headers: frozenset[str]) -> Sheet:
    """The rows of the file's first sheet; ``known_headers`` (normalised) tell the header row from titles."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.strip():
        raise FileRefused(N_("The file is empty."))
    kind = file_kind(head)
    _refuse_oversized(path, kind)
    formulas: frozenset[tuple[int, int]] = frozenset()
    if kind == "xlsx":
        extent = xlsx_extent(path)
        _refuse_sparse(extent)
        raw_rows, encoding = _xlsx_rows(path), "xlsx"
        if extent.formulas:
            raw_rows, formulas = _xlsx_rows_with_formulas(path)
    else:
        encoding = _csv_encoding(path)
        raw_rows = _csv_rows(path, encoding)
    return _assemble(raw_rows, known_headers, formulas, encoding)


def _refuse_oversized(path: Path, kind: str) -> None:
    """Count CSV rows cheaply before parsing: a million-row file is refused in a moment, not after minutes."""
    if kind != "csv":
        return
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    if lines > MAX_ROWS + HEADER_SEARCH_ROWS:
        raise _too_many_rows()


# The reader builds a grid as wide and as tall as the cells' addresses reach, whatever <dimension> claims:
# two cells at A1 and XFD1000000 ask it for 16 billion. The sheet is scanned for its real extent first.
MAX_COLUMNS = 1000
MAX_CELLS = 10_000_000  # rows × columns of the grid: about 320 MB in the reader
MAX_SHEET_BYTES = 2 << 30  # the first sheet's XML, unpacked
# In sheet XML only rows and cells have an ``r`` attribute: a row's is a number, a cell's a reference.
# Columns A-Z are taken as 26 wide without looking further; wider references are read exactly.
_ROW_NUMBER = re.compile(rb"""r=["'](\d{1,12})["']""")
_WIDE_COLUMN = re.compile(rb"""r=["']([A-Za-z]{2,4})\d""")
_NARROW_COLUMN = re.compile(rb"""r=["'][A-Za-z]\d""")
# Spaces around "=" or an escaped character in a reference would hide it from the patterns above.
# (The pattern starts with its literal "r" to run fast; the attribute's leading space is checked after.)
_HIDDEN_REFERENCE = re.compile(rb"""r(?:\s+=|=\s|=["'][A-Za-z]*&)""")


@dataclass(frozen=True)
class Extent:
    rows: int
    columns: int
    formulas: bool


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def first_sheet_member(archive: zipfile.ZipFile) -> str | None:
    """The archive member of the workbook's first sheet (as Excel orders them, not as the files are named)."""
    names = set(archive.namelist())
    try:
        workbook = archive.read("xl/workbook.xml")
        relations = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        workbook = relations = b""
    sheet = re.search(rb'<(?:\w+:)?sheet\b[^>]*?\br:id="([^"]+)"', workbook)
    if sheet:
        for relation in re.finditer(rb"<Relationship\b[^>]*>", relations):
            if re.search(rb'\bId="' + re.escape(sheet.group(1)) + rb'"', relation.group(0)):
                target = re.search(rb'\bTarget="([^"]+)"', relation.group(0))
                if target:
                    name = target.group(1).decode("utf-8", "replace").lstrip("/")
                    name = name if name.startswith("xl/") else f"xl/{name}"
                    if name in names:
                        return name
    sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet"))
    return sheets[0] if sheets else None


def xlsx_extent(path: Path) -> Extent:
    """How far the first sheet's cells really reach, read as a stream, and whether it holds formulas."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = first_sheet_member(archive)
            if member is None:
                return Extent(0, 0, formulas=False)
            rows = columns = 0
            formulas = False
            read = 0
            pending = b""
            with archive.open(member) as stream:
                while chunk := stream.read(1 << 22):
                    read += len(chunk)
                    if read > MAX_SHEET_BYTES:
                        raise FileRefused(N_("The sheet is too large to read; split it into smaller files."))
                    # A tag cut at the chunk's end is scanned whole with the next chunk.
                    pending += chunk
                    cut = pending.rfind(b"<")
                    cut = len(pending) if cut < 0 else cut
                    rows, columns, formulas = _scan(pending[:cut], rows, columns, formulas)
                    pending = pending[cut:]
                    if len(pending) > 1 << 20:
                        raise FileRefused(_CANNOT_OPEN, kind="XML")
            rows, columns, formulas = _scan(pending, rows, columns, formulas)
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, EOFError):
        return Extent(0, 0, formulas=False)  # the reader says what is wrong with the file
    return Extent(rows, columns, formulas)


def _scan(text: bytes, rows: int, columns: int, formulas: bool) -> tuple[int, int, bool]:
    for hidden in _HIDDEN_REFERENCE.finditer(text):
        if hidden.start() and text[hidden.start() - 1 : hidden.start()].isspace():
            raise FileRefused(_CANNOT_OPEN, kind="XML")
    found = _ROW_NUMBER.findall(text)
    if found:
        rows = max(rows, *(int(n) for n in found))
    wide = set(_WIDE_COLUMN.findall(text))
    if wide:
        columns = max(columns, *(_column_number(c) for c in wide))
    elif columns < 26 and _NARROW_COLUMN.search(text):
        columns = 26
    return rows, columns, formulas or any(tag in text for tag in (b"<f>", b"<f ", b":f>", b":f "))


def _refuse_sparse(extent: Extent) -> None:
    if extent.rows > MAX_ROWS + HEADER_SEARCH_ROWS:
        raise _too_many_rows()
    if extent.columns > MAX_COLUMNS:
        raise FileRefused(
            N_("The sheet has cells out to column %(column)s; keep the table within %(limit)s columns."),
            column=extent.columns,
            limit=MAX_COLUMNS,
        )
    if extent.rows * extent.columns > MAX_CELLS:
        raise FileRefused(
            N_("The sheet spans %(rows)s rows by %(columns)s columns, more than %(limit)s cells; split it."),
            rows=f"{extent.rows:,}",
            columns=extent.columns,
            limit=f"{MAX_CELLS:,}",
        )


def _assemble(
    raw_rows: Iterator[tuple[int, tuple[Any, ...]]],
    known_headers: frozenset[str],
    formulas: frozenset[tuple[int, int]],
    encoding: str,
) -> Sheet:
    filled: list[tuple[int, tuple[Any, ...]]] = []
    blank: list[int] = []
    for number, cells in raw_rows:
        if all(is_blank(cell) for cell in cells):
            blank.append(number)
            continue
        filled.append((number, cells))
        if len(filled) > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise _too_many_rows()
    if not filled:
        raise FileRefused(N_("The file has no rows with values."))
    top = filled[:HEADER_SEARCH_ROWS]
    # The header is the first row naming known columns; a merged title row above it has one cell.
    position = next((i for i, (_, cells) in enumerate(top) if _header_score(cells, known_headers) >= 2), None)
    if position is None:
        position = next((i for i, (_, cells) in enumerate(top) if sum(not is_blank(x) for x in cells) >= 2), None)
    if position is None:
        raise FileRefused(N_("No header row was found: the first row of the table must name its columns."))
    header_row, header_cells = filled[position]
    rows = filled[position + 1 :]
    if len(rows) > MAX_ROWS:
        raise _too_many_rows()
    headers = [str(cell).strip() if not is_blank(cell) else "" for cell in header_cells]
    while headers and not headers[-1]:
        headers.pop()
    if not rows:
        raise FileRefused(N_("The file has a header row but no data rows."))
    last_row = rows[-1][0]
    blank_rows = tuple(number for number in blank if header_row < number < last_row)
    return Sheet(
        headers=headers,
        header_row=header_row,
        rows=rows,
        unsaved_formulas=formulas,
        encoding=encoding,
        blank_rows=blank_rows,
    )


def normalise_header(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _header_score(cells: tuple[Any, ...], known: frozenset[str]) -> int:
    return sum(1 for cell in cells if not is_blank(cell) and normalise_header(cell) in known)


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when it decodes, else GB18030 — what Chinese Excel saves as 'CSV'."""
    with path.open("rb") as handle:
        data = handle.read()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise FileRefused(N_("The text encoding of this CSV is not UTF-8 or GBK/GB18030; save it as UTF-8 CSV."))


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    with path.open("r", encoding=encoding, newline="") as handle:
        sample = handle.read(16384)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(handle, dialect)
        try:
            for cells in reader:
                yield reader.line_num, tuple(cells)
        except csv.Error as error:
            raise FileRefused(
                N_("The CSV is malformed near line %(line)s: %(error)s."), line=reader.line_num, error=str(error)
            ) from None


_CANNOT_OPEN = N_("This XLSX file cannot be opened (%(kind)s); save it again from Excel.")


def _open_workbook(path: Path, *, data_only: bool) -> Any:
    from openpyxl import load_workbook

    # A file object, not a path: openpyxl judges paths by their extension and uploads are stored without one.
    handle = path.open("rb")
    try:
        workbook = load_workbook(handle, read_only=True, data_only=data_only)
    except Exception as error:  # openpyxl raises many kinds for a damaged archive; each means the same here
        handle.close()
        raise FileRefused(_CANNOT_OPEN, kind=type(error).__name__) from None
    # Closing the workbook closes its zip reader but not a file object it was given: keep it to close.
    workbook.crossclaim_handle = handle
    return workbook


def _close(workbook: Any) -> None:
    workbook.close()
    workbook.crossclaim_handle.close()


def _xlsx_rows(path: Path) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The saved values of the first sheet, row 1 first, empty cells as None.

    Read with calamine (Rust): openpyxl's read-only parse manages under 2,000 rows a second on a
    17-column sheet, below what a 100,000-line order list needs. openpyxl still writes the exports and
    finds formulas whose values Excel never saved (``_xlsx_rows_with_formulas``).
    """
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        sheet = workbook.get_sheet_by_index(0) if names else None
        rows = sheet.iter_rows() if sheet is not None else iter(())
        # calamine starts each row at the first used column; openpyxl (and cell addresses) at column A.
        lead = (None,) * (sheet.start[1] if sheet is not None and sheet.start else 0)
    except Exception as error:  # calamine raises several kinds for a damaged archive; each means the same here
        raise FileRefused(_CANNOT_OPEN, kind=type(error).__name__) from None
    if not names:
        raise FileRefused(N_("The workbook has no sheets."))
    for number, cells in enumerate(rows, start=1):
        yield number, lead + tuple(None if cell == "" else cell for cell in cells)


def _xlsx_rows_with_formulas(path: Path) -> tuple[Iterator[tuple[int, tuple[Any, ...]]], frozenset[tuple[int, int]]]:
    """Saved values, and where a formula has none (files written by scripts, never opened in Excel)."""
    values = list(_xlsx_rows(path))
    workbook = _open_workbook(path, data_only=False)
    unsaved: set[tuple[int, int]] = set()
    try:
        sheet = workbook.worksheets[0]
        for (number, saved), cells in zip(values, sheet.iter_rows(values_only=True), strict=False):
            for index, cell in enumerate(cells):
                if isinstance(cell, str) and cell.startswith("=") and index < len(saved) and saved[index] is None:
                    unsaved.add((number, index))
    finally:
        _close(workbook)
    return iter(values), frozenset(unsaved)
