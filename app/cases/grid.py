"""The case grid: its columns, filters, sort orders and keyset pages, shared by the page and the exports."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.cases.search import search_clause
from app.cases.tables import Case
from app.db import current_engine, is_sqlite
from app.errors import ValidationFailed
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l

PAGE_SIZE = 50
CENTS = Decimal("0.01")
EXPORT_LIMIT = 200_000


@dataclass(frozen=True)
class GridColumn:
    name: str
    label: Any
    sql: str  # an expression over the aliases below; never NULL, so keyset comparisons hold
    kind: str = "text"  # text, int, decimal, datetime
    default: bool = True


def _due_sql() -> str:
    far = "'9999-12-31T00:00:00+00:00'" if is_sqlite(current_engine()) else "TIMESTAMPTZ '9999-12-31'"
    return (
        f'COALESCE((SELECT MIN(d.due_at) FROM stage_deadline d WHERE d."case" = c.id AND d.finished_at IS NULL), {far})'  # noqa: S608 - constant text
    )


COLUMNS: tuple[GridColumn, ...] = (
    GridColumn("number", _l("Case"), "c.number"),
    GridColumn("order_number", _l("Order"), "c.order_number"),
    GridColumn("node", _l("Node"), "c.node"),
    GridColumn("supplier", _l("Supplier"), "COALESCE(s.name, '')"),
    GridColumn("carrier", _l("Carrier"), "COALESCE(r.name, '')"),
    GridColumn("product", _l("Product"), "COALESCE(p.name, '')"),
    GridColumn("category", _l("Category"), "COALESCE(p.category, '')"),
    GridColumn("problem_type", _l("Problem type"), "c.problem_type"),
    GridColumn("region", _l("Region"), "c.region"),
    GridColumn("responsible", _l("Responsible party"), "COALESCE(NULLIF(c.confirmed_party, ''), c.suggested_party)"),
    GridColumn("urgency", _l("Urgency"), "c.urgency", default=False),
    GridColumn("assignee", _l("Assignee"), "COALESCE(u.name, '')", default=False),
    GridColumn("due", _l("Due"), "", kind="datetime"),
    GridColumn("amount", _l("Amount"), "COALESCE(c.claim_amount, 0)", kind="decimal"),
    GridColumn("currency", _l("Currency"), "c.currency", default=False),
    GridColumn("quantity", _l("Quantity"), "c.quantity_affected", kind="int", default=False),
    GridColumn("created_at", _l("Reported"), "c.created_at", kind="datetime", default=False),
)
BY_NAME = {column.name: column for column in COLUMNS}
DEFAULT_COLUMNS = tuple(column.name for column in COLUMNS if column.default)
# Exact-match filters the grid offers, by column name.
FILTERS = ("node", "supplier", "carrier", "product", "category", "problem_type", "region", "responsible")
# Money and our hint: shown, sorted and filtered on only for readers of claim figures.
FIGURE_COLUMNS = frozenset({"amount", "responsible"})


def columns_for(*, figures: bool) -> tuple[GridColumn, ...]:
    """The columns a reader may choose: all of them, or those without money and the hint."""
    return COLUMNS if figures else tuple(column for column in COLUMNS if column.name not in FIGURE_COLUMNS)

JOINS = """
LEFT JOIN supplier s ON s.id = c.supplier
LEFT JOIN carrier r ON r.id = c.carrier
LEFT JOIN product p ON p.id = c.product
LEFT JOIN app_user u ON u.id = c.assignee
"""
FROM = "FROM after_sales_case c" + JOINS


@dataclass(frozen=True)
class GridView:
    """What the user is looking at: columns, filters, sort and where the page starts."""

    columns: tuple[str, ...] = DEFAULT_COLUMNS
    filters: dict[str, str] = field(default_factory=dict)
    sort: str = "number"
    descending: bool = True
    after: str = ""  # keyset cursor of the last row of the previous page
    query: str = ""

    @classmethod
    def parse(cls, params: Any, *, figures: bool = True) -> GridView:
        """From query parameters (cols=a,b&sort=-due&f_supplier=X&q=text&after=cursor); unknown names are dropped.

        Without ``figures`` the columns, sort and filter on money and the hint are dropped as unknown.
        """
        allowed = {column.name for column in columns_for(figures=figures)}
        # The column chooser posts one "col" per ticked box; links carry them as one "cols" list.
        picked = list(params.getall("col")) if hasattr(params, "getall") and "col" in params else []
        picked = picked or str(params.get("cols") or "").split(",")
        columns = tuple(n for n in picked if n in allowed) or tuple(n for n in DEFAULT_COLUMNS if n in allowed)
        sort = str(params.get("sort") or "-number")
        descending = sort.startswith("-")
        sort = sort.lstrip("-")
        if sort not in allowed:
            sort, descending = "number", True
        filters = {n: str(params.get(f"f_{n}"))[:200] for n in FILTERS if n in allowed and params.get(f"f_{n}")}
        return cls(
            columns=columns,
            filters=filters,
            sort=sort,
            descending=descending,
            after=str(params.get("after") or "")[:500],
            query=str(params.get("q") or "")[:200].strip(),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this view (with ``changes``), to build links that keep it."""
        view = {
            "cols": ",".join(self.columns),
            "sort": ("-" if self.descending else "") + self.sort,
            **{f"f_{k}": v for k, v in self.filters.items()},
            **({"q": self.query} if self.query else {}),
        }
        view.update({k: v for k, v in changes.items() if v is not None})
        return {k: v for k, v in view.items() if v != ""}


def _expression(name: str) -> str:
    column = BY_NAME[name]
    return _due_sql() if name == "due" else column.sql


def _cursor_value(kind: str, raw: Any) -> Any:
    if kind == "datetime":
        return datetime.fromisoformat(raw)
    if kind == "decimal":
        return Decimal(raw)
    if kind == "int":
        return int(raw)
    return str(raw)


def encode_cursor(value: Any, row_id: int) -> str:
    body = json.dumps([value.isoformat() if isinstance(value, datetime) else str(value), row_id])
    return base64.urlsafe_b64encode(body.encode()).decode()


def decode_cursor(view: GridView) -> tuple[Any, int] | None:
    """Where the page starts: the sort value and id of the previous page's last row, or None for the top.

    A cursor is minted for one sort; one that does not decode, or holds a value of another kind (text
    where the sort is an amount), is refused by name rather than compared in the database.
    """
    if not view.after:
        return None
    try:
        raw, row_id = json.loads(base64.urlsafe_b64decode(view.after.encode()))
        value, row = _cursor_value(BY_NAME[view.sort].kind, raw), int(row_id)
    except (ValueError, TypeError, KeyError, ArithmeticError):
        value = row = None
    if row is None or not 0 < row < 2**63 or (isinstance(value, Decimal) and not value.is_finite()):
        raise ValidationFailed(
            _("This page's position (after=) is not valid for this sort; start again from the first page."),
            fields=[("after", _("Use the “Load more” link the grid gives."))],
        )
    return value, row


def page_query(view: GridView, *, limit: int, case_ids: list[int] | None = None) -> tuple[str, list[Any]]:
    """The ids of one page of the view, in order: the SQL (``{}`` marks values) and its values.

    It touches only what the filters and the sort need (both engines drop the unused LEFT JOINs); a
    filter on node, problem type or region sorted by number or report time walks one index in order.
    """
    where: list[str] = []
    values: list[Any] = []
    for name, value in view.filters.items():
        where.append(f"{_expression(name)} = {{}}")
        values.append(value)
    if view.query:
        clause, found = search_clause(view.query)
        where.append(f"c.id IN ({clause})")
        values.extend(found)
    if case_ids is not None:
        where.append(f"c.id IN ({', '.join('{}' for _ in case_ids) or 'NULL'})")
        values.extend(case_ids)
    sort = _expression(view.sort)
    cursor = decode_cursor(view)
    if cursor is not None:
        op = "<" if view.descending else ">"
        # A row-value comparison, so both engines start the index walk at the cursor.
        where.append(f"({sort}, c.id) {op} ({{}}, {{}})")
        values.extend([cursor[0], cursor[1]])
    sql = f"SELECT c.id AS page_id {FROM}" + (f" WHERE {' AND '.join(where)}" if where else "") + _order(view)
    return f"{sql} LIMIT {int(limit)}", values


def _order(view: GridView) -> str:
    direction = "DESC" if view.descending else "ASC"
    return f" ORDER BY {_expression(view.sort)} {direction}, c.id {direction}"


async def grid_rows(
    view: GridView, *, limit: int = PAGE_SIZE, case_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """One page of the view (``limit`` + 1 rows tell whether there is a next page)."""
    selects = ", ".join(f"{_expression(n)} AS {n}" for n in BY_NAME)
    # The page's ids first; then every column, the due-date subquery included, for those rows alone.
    page, values = page_query(view, limit=limit, case_ids=case_ids)
    order = _order(view)
    rows_of_page = f"FROM ({page}) page JOIN after_sales_case c ON c.id = page.page_id {JOINS}"
    sql = f"SELECT c.id AS id, {selects} {rows_of_page}{order}"
    rows = await Case.raw(sql, *values)
    for row in rows:
        if row["due"] is not None and str(row["due"]).startswith("9999"):
            row["due"] = None
        elif isinstance(row["due"], str):
            row["due"] = datetime.fromisoformat(row["due"])
        if isinstance(row["created_at"], str):
            row["created_at"] = datetime.fromisoformat(row["created_at"])
        # SQLite hands NUMERIC back as a float; amounts are money with two places on both engines.
        row["amount"] = Decimal(str(row["amount"] or 0)).quantize(CENTS)
    return list(rows)


def next_cursor(view: GridView, rows: list[dict[str, Any]], limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    value = last[view.sort]
    if view.sort == "due" and value is None:
        value = "9999-12-31T00:00:00+00:00"
    return encode_cursor(value, last["id"])


# Where each filter's choices come from: the small partner tables, not the cases themselves (a
# DISTINCT over a join of every case costs a full scan per filter per page load at 100,000 cases).
# The regions in use are found by hopping along the region index, one seek per region (neither
# engine skips through an index for DISTINCT by itself). One statement: on SQLite each query opens
# its own connection.
_REGIONS = (
    "WITH RECURSIVE regions(v) AS (SELECT MIN(region) FROM after_sales_case UNION ALL "
    "SELECT (SELECT MIN(region) FROM after_sales_case WHERE region > regions.v) "
    "FROM regions WHERE regions.v IS NOT NULL) "
)
_CHOICES_SQL = _REGIONS + " UNION ".join(
    [
        f"SELECT * FROM (SELECT DISTINCT '{name}' AS k, {column} AS v FROM {table} ORDER BY 2 LIMIT 500) {name}_v"  # noqa: S608
        for name, column, table in (
            ("supplier", "name", "supplier"),
            ("carrier", "name", "carrier"),
            ("product", "name", "product"),
            ("category", "category", "product"),
        )
    ]
    + ["SELECT * FROM (SELECT 'region' AS k, v FROM regions WHERE v IS NOT NULL LIMIT 500) region_v"]
)


async def filter_choices() -> dict[str, list[str]]:
    """The values each filter offers: the fixed lists, the partners on record and the regions in use."""
    from app.cases.states import Node
    from app.cases.taxonomy import PARTIES, PROBLEM_TYPES

    choices: dict[str, list[str]] = {
        "node": [node.value for node in Node],
        "problem_type": list(PROBLEM_TYPES),
        "responsible": list(PARTIES),
        **{name: [] for name in ("supplier", "carrier", "product", "category", "region")},
    }
    for row in await Case.raw(f"{_CHOICES_SQL} ORDER BY 1, 2"):
        if row["v"]:
            choices[row["k"]].append(str(row["v"]))
    return choices


# Fields a handler may change straight from the grid: nothing that moves money, nodes or responsibility.
INLINE_FIELDS: dict[str, Any] = {"region": _l("Region"), "urgency": _l("Urgency")}


async def inline_update(*, actor: Any, case_id: int, field_name: str, value: str) -> dict[str, Any]:
    """Change one safe field of one case from the grid; returns the case's fresh grid row."""
    from app.cases.events import record_event
    from app.cases.taxonomy import URGENCIES
    from app.db import atomic
    from app.errors import NotFound, ValidationFailed

    value = value.strip()
    if field_name not in INLINE_FIELDS:
        raise ValidationFailed(_("This field cannot be changed here."), fields=[(field_name, _("Open the case."))])
    if field_name == "urgency" and value not in URGENCIES:
        raise ValidationFailed(_("Choose an urgency."), fields=[("urgency", ", ".join(URGENCIES))])
    if len(value) > 60:
        raise ValidationFailed(_("Too long."), fields=[(field_name, _("Keep it under 60 characters."))])
    column = getattr(Case, field_name)
    async with atomic():
        row = await Case.select(Case.id, column).where(Case.id == case_id).first()
        if row is None:
            raise NotFound(_("There is no such case."))
        if row[field_name] != value:
            await Case.update({column: value, Case.updated_at: datetime.now(UTC)}).where(Case.id == case_id)
            await record_event(
                case_id=case_id,
                actor=actor,
                kind="case_edited",
                data={"field": field_name, "from": row[field_name], "to": value},
            )
    rows = await grid_rows(GridView(), limit=1, case_ids=[case_id])
    return rows[0]


async def saved_views(user_id: int) -> list[dict[str, Any]]:
    from app.cases.tables import SavedView

    return list(
        await SavedView.select(SavedView.id, SavedView.name, SavedView.params)
        .where(SavedView.user == user_id)
        .order_by(SavedView.name)
    )


async def view_save(*, user_id: int, name: str, view: GridView) -> None:
    """Keep the view under ``name`` for this user; the same name again replaces it."""
    from urllib.parse import urlencode

    from app.cases.tables import SavedView
    from app.db import atomic
    from app.errors import ValidationFailed

    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise ValidationFailed(_("Name the view."), fields=[("name", _("1 to 80 characters."))])
    params = urlencode(view.params(after=""))
    async with atomic():
        await SavedView.delete().where((SavedView.user == user_id) & (SavedView.name == name))
        await SavedView(user=user_id, name=name, params=params).save()


async def view_delete(*, user_id: int, view_id: int) -> None:
    from app.cases.tables import SavedView
    from app.db import atomic

    async with atomic():
        await SavedView.delete().where((SavedView.user == user_id) & (SavedView.id == view_id))
