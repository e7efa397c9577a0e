"""Property tests for the importers: any cell value or CSV bytes give a valid row, a row error or a refusal."""

import os
import tempfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.imports.columns import COLUMNS, auto_mapping, known_headers
from app.imports.preview import check
from app.imports.reader import FileRefused, Sheet, read_sheet

CELLS = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "0", "-1", "1e309", "NaN", "2026-02-30", "¥1,234.50", "USD 12", "=SUM(A1)", "是", "x\r\ny"]
    ),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _headers(kind: str) -> list[str]:
    return [column.keys and sorted(column.keys)[0] for column in COLUMNS[kind]]


@pytest.mark.parametrize("kind", ["orders", "cases"])
@FUZZ
@given(rows=st.lists(st.lists(CELLS, max_size=30), min_size=1, max_size=8))
def test_any_cell_values_give_a_valid_row_or_a_row_error(kind: str, rows: list[list[object]]) -> None:
    headers = _headers(kind)
    sheet = Sheet(headers=headers, header_row=1, rows=[(n + 2, tuple(cells)) for n, cells in enumerate(rows)])
    preview = check(kind, sheet, auto_mapping(kind, headers))
    assert preview.mapping_problems == []
    assert preview.valid + preview.error_rows == len(rows)
    valid_rows = {record["row"] for record in preview.records}
    error_rows = {error.row for error in preview.errors}
    assert valid_rows.isdisjoint(error_rows) and valid_rows | error_rows == {n + 2 for n in range(len(rows))}
    for record in preview.records:
        for value in record.values():
            assert value is None or isinstance(value, str | int | Decimal | date | datetime | time | bool | float)
    assert all(error.message for error in preview.errors)


def _csv_texts() -> st.SearchStrategy[bytes]:
    header_row = st.just(",".join(_headers("orders")))
    line = st.lists(st.one_of(st.text(max_size=12), CELLS.map(str)), max_size=12).map(
        lambda cells: ",".join('"' + c.replace('"', '""') + '"' if "," in c or "\n" in c else c for c in cells)
    )
    text = st.builds(lambda h, lines: "\n".join([h, *lines]), header_row, st.lists(line, max_size=6))
    encoded = st.builds(lambda t, enc: t.encode(enc, errors="replace"), text, st.sampled_from(["utf-8", "gb18030"]))
    return st.one_of(st.binary(max_size=600), encoded)


@FUZZ
@given(data=_csv_texts())
def test_any_csv_bytes_are_refused_with_a_reason_or_checked_row_by_row(data: bytes) -> None:
    handle, name = tempfile.mkstemp(suffix=".csv")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        try:
            sheet = read_sheet(path, known_headers=known_headers("orders"))
        except FileRefused as refused:
            assert str(refused)
            return
        preview = check("orders", sheet, auto_mapping("orders", sheet.headers))
        if not preview.mapping_problems:
            assert preview.valid + preview.error_rows == len(sheet.rows)
    finally:
        path.unlink()
