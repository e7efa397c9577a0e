"""Checking every row of a sheet against its mapping: clean records and each row's errors, nothing written."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from app.imports import values
from app.imports.columns import COLUMNS, Column, suggested_column
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


@dataclass(frozen=True)
class RowNote:
    """Why a row was not created (skipped, unchanged, updated) or what to look at before importing it."""

    row: int
    message: Message
    outcome: str = "skipped"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "outcome": self.outcome, "reason": str(self.message)}

    def as_state(self) -> dict[str, Any]:
        return {"row": self.row, "outcome": self.outcome, **self.message.as_state()}


@dataclass
class Preview:
    """Every row of the file ends in exactly one place: ``records``, ``skipped`` or the error rows."""

    kind: str
    rows: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_rows: int = 0
    skipped: list[RowNote] = field(default_factory=list)
    # Rows identical to an earlier row: imported as separate cases unless the user skips them.
    repeats: list[RowNote] = field(default_factory=list)
    mapping_problems: list[Message] = field(default_factory=list)
    # The file's columns no field reads from: their data does not arrive, so the page says so.
    unmapped: list[Message] = field(default_factory=list)
    # Cells of coded fields no word maps yet: field → value as written → rows holding it.
    unknown_values: dict[str, Counter[str]] = field(default_factory=dict)
    # How 03/04/2025-style dates are read: "dmy" or "mdy"; asked on the page when the file has such dates.
    date_order: str = "dmy"
    date_order_found: str | None = None
    day_month_dates: bool = False

    @property
    def valid(self) -> int:
        return len(self.records)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "skipped": len(self.skipped),
            "error_rows": self.error_rows,
            "errors": [error.as_dict() for error in self.errors],
            "skipped_rows": [note.as_dict() for note in self.skipped],
            "repeats": [note.as_dict() for note in self.repeats],
            **({"mapping": self.mapping_problems} if self.mapping_problems else {}),
            "unmapped": list(self.unmapped),
            "unknown_values": {
                name: [{"value": v, "rows": n, "suggested": values.suggest_code(name, v)} for v, n in counts.items()]
                for name, counts in self.unknown_values.items()
            },
            **({"date_order": self.date_order} if self.day_month_dates else {}),
        }

    def refuse(self, error: RowError) -> None:
        self.error_rows += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)


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


def unmapped_columns(kind: str, headers: list[str], mapping: dict[str, int | None]) -> list[Message]:
    used = set(mapping.values())
    found = []
    for index, header in enumerate(headers):
        if not header or index in used:
            continue
        column = suggested_column(kind, header, mapping)
        if column is not None:
            said = N_("%(column)s: not imported — map it to “%(field)s” if that is what it holds.")
            found.append(Message(said, column=header, field=label_message(column.label)))
        else:
            found.append(
                Message(N_("%(column)s: not imported — map it to a field above if it should be."), column=header)
            )
    return found


def check(
    kind: str,
    sheet: Sheet,
    mapping: dict[str, int | None],
    *,
    date_order: str | None = None,
    value_map: dict[str, dict[str, str]] | None = None,
) -> Preview:
    """Parse every row; a row with any error is left out of ``records`` and reported cell by cell.

    ``value_map`` holds the company's own words for coded fields ({"problem_type": {"少件": "short_shipment"}});
    cells it does not know and the parser cannot read are counted in ``unknown_values``, to be mapped.

    Dates such as 03/04/2025 are read in ``date_order`` when given, else in the order the file's own
    dates show (a first number over 12 is a day), else day first.
    """
    preview = Preview(kind=kind, rows=len(sheet.rows) + len(sheet.blank_rows))
    preview.skipped = [RowNote(number, _BLANK) for number in sheet.blank_rows]
    preview.mapping_problems = mapping_problems(kind, mapping)
    preview.unmapped = unmapped_columns(kind, sheet.headers, mapping)
    if preview.mapping_problems:
        return preview
    plan: list[tuple[Column, int]] = [(c, i) for c in COLUMNS[kind] if (i := mapping.get(c.name)) is not None]
    date_columns = [i for c, i in plan if c.parse is values.parse_date]
    found, preview.day_month_dates = values.date_order_of(
        cells[i] for _, cells in sheet.rows for i in date_columns if i < len(cells)
    )
    preview.date_order_found = found
    preview.date_order = date_order if date_order in values.DATE_ORDERS else found or "dmy"
    if preview.date_order != "dmy":
        order = preview.date_order
        plan = [(replace(c, parse=_in_order(order)) if c.parse is values.parse_date else c, i) for c, i in plan]
    if value_map:
        plan = [(replace(c, parse=_mapped(c, value_map[c.name])) if value_map.get(c.name) else c, i) for c, i in plan]
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
                if column.name in values.CODED:
                    preview.unknown_values.setdefault(column.name, Counter())[values.value_key(raw)] += 1
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
    if kind == "orders":
        _settle_order_lines(preview, headers, mapping)
    else:
        _settle_case_keys(preview, headers, mapping)
    preview.skipped.sort(key=lambda note: note.row)
    return preview


_BLANK = Message(N_("An empty row."))


# What the check adds to a record: not part of what the row says.
_BOOKKEEPING = frozenset({"row", "client_key", "repeat_of"})


def _same(first: dict[str, Any], record: dict[str, Any]) -> bool:
    return {k: v for k, v in first.items() if k not in _BOOKKEEPING} == {
        k: v for k, v in record.items() if k not in _BOOKKEEPING
    }


def _settle_order_lines(preview: Preview, headers: list[str], mapping: dict[str, int | None]) -> None:
    """Number lines a file leaves unnumbered; a line twice is skipped when alike and an error when not."""
    seen: dict[str, dict[str, Any]] = {}
    next_line: dict[str, int] = {}
    kept: list[dict[str, Any]] = []
    for record in preview.records:
        number = record["order_number"]
        line_no = record.get("line_no") or next_line.get(number, 1)
        next_line[number] = line_no + 1
        record["line_no"] = line_no
        key = f"{number}#{line_no}"
        first = seen.get(key)
        if first is None:
            seen[key] = record
            kept.append(record)
        elif _same(first, record):
            repeated = Message(N_("Repeats row %(row)s (the same order line); imported once."), row=first["row"])
            preview.skipped.append(RowNote(record["row"], repeated))
        else:
            clash = Message(
                N_("Order %(order)s line %(line)s is also in row %(row)s, with other values."),
                order=number, line=line_no, row=first["row"],
            )  # fmt: skip
            preview.refuse(RowError(record["row"], _header(headers, mapping.get("order_number")), clash))
    preview.records = kept


def row_digest(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "row"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def _settle_case_keys(preview: Preview, headers: list[str], mapping: dict[str, int | None]) -> None:
    """Each case's idempotency key: its old number, or its content and how often that content came before.

    Rows alike in one ledger are separate cases ("4 units defective" twice on one order is common), so
    the second gets the key of the first with ``~2``: importing the same ledger again (or a corrected
    copy of it) finds every key and changes nothing, and no row is merged into another.
    """
    numbered: dict[str, dict[str, Any]] = {}
    occurrences: dict[str, tuple[int, int]] = {}
    kept: list[dict[str, Any]] = []
    for record in preview.records:
        legacy = record.get("legacy_number")
        if legacy and len(f"ledger:{legacy}") <= 64:
            key = f"ledger:{legacy}"
            first = numbered.get(key)
            if first is None:
                numbered[key] = record
            elif _same(first, record):
                repeated = Message(N_("Repeats row %(row)s (the same case number); imported once."), row=first["row"])
                preview.skipped.append(RowNote(record["row"], repeated))
                continue
            else:
                clash = Message(
                    N_("Case number %(number)s is also in row %(row)s, with other values."),
                    number=legacy, row=first["row"],
                )  # fmt: skip
                header = _header(headers, mapping.get("legacy_number"))
                preview.refuse(RowError(record["row"], header, clash))
                continue
        else:
            digest = row_digest(record)[:48]
            first_row, count = occurrences.get(digest, (record["row"], 0))
            occurrences[digest] = (first_row, count + 1)
            key = f"ledger:#{digest}" if count == 0 else f"ledger:#{digest}~{count + 1}"
            if count:
                record["repeat_of"] = first_row
                alike = Message(
                    N_("Same values as row %(row)s: a separate case unless you skip repeats."), row=first_row
                )
                preview.repeats.append(RowNote(record["row"], alike, outcome="repeat"))
        record["client_key"] = key
        kept.append(record)
    preview.records = kept


def _mapped(column: Column, words: dict[str, str]) -> Any:
    def parse(value: Any) -> Any:
        if not values.is_blank(value):
            code = words.get(values.value_key(value))
            if code:
                return code
        return column.parse(value)

    return parse


def _in_order(order: str) -> Any:
    return lambda value: values.parse_date(value, order=order)


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
    minimum, written = record.get("supplier_minimum_claim") or (None, None)
    record["supplier_minimum_claim"], record["supplier_minimum_currency"] = minimum, written or ""
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
    for name in ("claim_amount", "recovered_amount"):
        if name == "recovered_amount" and name not in record:
            continue  # kept out of the record (and so of its key) when the file has no such column
        _split_amount(record, name)
        amount = record.get(name)
        if amount is not None and (amount < 0 or amount >= 10**12):
            out_of_range = Message(N_("The amount is out of range."))
            return [RowError(record["row"], _header(headers, mapping.get(name)), out_of_range)]
    claimed, recovered = record.get("claim_amount"), record.get("recovered_amount")
    if claimed is not None and recovered is not None and recovered > claimed:
        too_much = Message(N_("The amount recovered is more than the amount claimed."))
        return [RowError(record["row"], _header(headers, mapping.get("recovered_amount")), too_much)]
    closed, reported = record.get("closed_on"), record.get("reported_on")
    if closed and reported and closed < reported:
        too_early = Message(N_("Closed before it was reported."))
        return [RowError(record["row"], _header(headers, mapping.get("closed_on")), too_early)]
    return []
