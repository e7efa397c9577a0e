"""Checking every row of a sheet against its mapping: clean records and each row's errors, nothing written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.imports.columns import COLUMNS, Column
from app.imports.messages import Message, label_message
from app.imports.reader import Sheet
from app.imports.values import ValueProblem
from app.rules.facts import N_

# The preview lists every error, but a file that is wrong throughout need not list a million.
MAX_ERRORS = 1000
_REQUIRED = Message(N_("This cell is required."))


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # the file's own header, shown as written
    message: Message

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": str(self.message)}


@dataclass
class Preview:
    kind: str
    rows: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_rows: int = 0
    mapping_problems: list[Message] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return len(self.records)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "errors": [error.as_dict() for error in self.errors],
            **({"mapping": self.mapping_problems} if self.mapping_problems else {}),
        }


def _choose_column(column: Column) -> Message:
    return Message(N_("Choose the file's column for “%(label)s”."), label=label_message(column.label))


def mapping_problems(kind: str, mapping: dict[str, int | None]) -> list[Message]:
    found = [_choose_column(column) for column in COLUMNS[kind] if column.required and mapping.get(column.name) is None]
    if mapping.get("supplier_code") is None and mapping.get("supplier_name") is None and kind == "orders":
        found.append(Message(N_("Choose the file's column for the supplier (code or name).")))
    for name in ("order_number", "sku") if kind == "orders" else ():
        if mapping.get(name) is None:
            found.append(_choose_column(next(c for c in COLUMNS[kind] if c.name == name)))
    used = [index for index in mapping.values() if index is not None]
    if len(used) != len(set(used)):
        found.append(Message(N_("One file column is chosen for two fields; choose each column once.")))
    return found


def check(kind: str, sheet: Sheet, mapping: dict[str, int | None]) -> Preview:
    """Parse every row; a row with any error is left out of ``records`` and reported cell by cell."""
    preview = Preview(kind=kind, rows=len(sheet.rows))
    preview.mapping_problems = mapping_problems(kind, mapping)
    if preview.mapping_problems:
        return preview
    plan: list[tuple[Column, int]] = [(c, i) for c in COLUMNS[kind] if (i := mapping.get(c.name)) is not None]
    headers = sheet.headers
    formulas = sheet.unsaved_formulas
    finish = _finish_order if kind == "orders" else _finish_case
    for number, cells in sheet.rows:
        record: dict[str, Any] = {"row": number}
        problems: list[RowError] = []
        width = len(cells)
        for column, index in plan:
            raw = cells[index] if index < width else None
            if formulas and (number, index) in formulas:
                problems.append(
                    RowError(
                        number,
                        _header(headers, index),
                        Message(N_("A formula without a saved value: open and save the file in Excel.")),
                    )
                )
                continue
            try:
                record[column.name] = column.parse(raw)
            except ValueProblem as problem:
                problems.append(RowError(number, _header(headers, index), problem.message))
                continue
            if column.required and record[column.name] in (None, ""):
                problems.append(RowError(number, _header(headers, index), _REQUIRED))
        if not problems:
            problems = finish(record, headers, mapping)
        if problems:
            preview.error_rows += 1
            room = MAX_ERRORS - len(preview.errors)
            preview.errors.extend(problems[: max(room, 0)])
        else:
            preview.records.append(record)
    return preview


def _header(headers: list[str], index: int | None) -> str:
    if index is None:
        return ""
    return headers[index] if index < len(headers) and headers[index] else f"#{index + 1}"


def _split_amount(record: dict[str, Any], name: str) -> None:
    amount, written = record.get(name) or (None, None)
    record[name] = amount
    if written and not record.get("currency"):
        record["currency"] = written


def _finish_order(record: dict[str, Any], headers: list[str], mapping: dict[str, int | None]) -> list[RowError]:
    row = record["row"]
    _split_amount(record, "unit_price")
    problems = []
    for name in ("order_number", "sku"):
        if not record.get(name):
            problems.append(RowError(row, _header(headers, mapping.get(name)), _REQUIRED))
    if not record.get("supplier_code") and not record.get("supplier_name"):
        index = (
            mapping.get("supplier_code") if mapping.get("supplier_code") is not None else mapping.get("supplier_name")
        )
        problems.append(RowError(row, _header(headers, index), Message(N_("Name the supplier (code or name)."))))
    if record.get("unit_price") is not None and record["unit_price"] < 0:
        problems.append(
            RowError(row, _header(headers, mapping.get("unit_price")), Message(N_("A price cannot be negative.")))
        )
    if len(f"{record.get('order_number', '')}#{record.get('line_no') or 0}") > 80:
        problems.append(
            RowError(row, _header(headers, mapping.get("order_number")), Message(N_("The order number is too long.")))
        )
    return problems


def _finish_case(record: dict[str, Any], headers: list[str], mapping: dict[str, int | None]) -> list[RowError]:
    _split_amount(record, "claim_amount")
    amount = record.get("claim_amount")
    if amount is not None and (amount < 0 or amount >= 10**12):
        out_of_range = Message(N_("The amount is out of range."))
        return [RowError(record["row"], _header(headers, mapping.get("claim_amount")), out_of_range)]
    closed, reported = record.get("closed_on"), record.get("reported_on")
    if closed and reported and closed < reported:
        too_early = Message(N_("Closed before it was reported."))
        return [RowError(record["row"], _header(headers, mapping.get("closed_on")), too_early)]
    return []
