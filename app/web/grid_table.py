"""The case grid's table rows, written in Python: a page holds hundreds of cells, and a template loop with a
branch per cell spent most of the page's time in Jinja's machinery (a context call and an escape per value).

Every value is escaped here with markupsafe, as the template's autoescape did; labels are resolved once
per page by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from app.i18n import format_moment, format_money


def edit_button(row: Mapping[str, Any], name: str, urgencies: Mapping[str, Any], title: str) -> Markup:
    """A cell a desk user may change from the grid: the value as a button that opens its editor."""
    value = row[name]
    shown = (urgencies.get(value, value) if name == "urgency" else value) or "—"
    return Markup(
        '<button type="button" class="cell-edit" hx-get="/grid/{id}/edit/{name}" hx-target="this" '
        'hx-swap="outerHTML"\n        title="{title}">{shown}</button>'
    ).format(id=row["id"], name=name, title=title, shown=shown)


def table_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Any],
    *,
    column_labels: Mapping[str, str],
    editable: Mapping[str, Any],
    labels: Mapping[str, Mapping[str, str]],
    urgencies: Mapping[str, Any],
    zone: str,
    choose_label: str,
    edit_title: str,
) -> Markup:
    """The ``<tr>`` of each row, with one ``<td>`` per shown column (``data-label`` for phones)."""
    moments: dict[datetime, str] = {}

    def moment(value: datetime) -> str:
        # A page sorted by time repeats moments; each is formatted (Babel, the slow part) once.
        if value not in moments:
            moments[value] = format_moment(value, zone)
        return moments[value]

    Row = Mapping[str, Any]

    def cell_of(column: Any) -> Callable[[Row], Any]:
        name: str = column.name
        if name == "number":
            return lambda row: Markup('<a href="/cases/{0}">{0}</a>').format(row["number"])
        if name in editable:
            return lambda row: edit_button(row, name, urgencies, edit_title)
        if name == "amount":
            return lambda row: "" if row["amount"] == 0 else format_money(row["amount"], row["currency"])
        if column.kind == "datetime":
            return lambda row: moment(row[name]) if row[name] else ""
        if name in labels:
            found = labels[name]
            return lambda row: found.get(row[name], row[name])
        return lambda row: row[name]

    cells = [
        (f'<td data-label="{escape(column_labels[column.name])}" data-column="{escape(column.name)}">', cell_of(column))
        for column in columns
    ]
    out: list[str] = []
    choose = escape(choose_label)
    for row in rows:
        number = escape(row["number"])
        out.append(
            f'<tr data-case="{number}">\n<td data-label="{choose}"><input type="checkbox" name="case" '
            f'value="{escape(row["id"])}" aria-label="{number}"></td>'
        )
        for opening, cell in cells:
            out.append(opening)
            out.append(escape(cell(row)))
            out.append("</td>")
        out.append("</tr>\n")
    return Markup("".join(out))  # noqa: S704 - every value above went through escape()
