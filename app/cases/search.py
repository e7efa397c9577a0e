"""Full-text search over cases — number, order number, description, messages, supplier — on either engine."""

# ruff: noqa: S608 - SQL here is built from constant fragments; every user value is a bound parameter

from __future__ import annotations

from typing import Any

from app.cases.tables import Case
from app.db import current_engine, is_sqlite

# Trigram indexes answer terms of three characters or more; shorter ones are checked by scanning.
TRIGRAM = 3
MAX_TERMS = 8


def terms(text: str) -> list[str]:
    return [t for t in text.split() if t][:MAX_TERMS]


def search_clause(text: str) -> tuple[str, list[Any]]:
    """SQL (with {} placeholders) for "ids of cases matching every term", and its values."""
    words = terms(text)
    if not words:
        return "SELECT id FROM after_sales_case", []
    if is_sqlite(current_engine()):
        long_terms = [w for w in words if len(w) >= TRIGRAM]
        short_terms = [w for w in words if len(w) < TRIGRAM]
        where: list[str] = []
        values: list[Any] = []
        if long_terms:
            where.append("case_search MATCH {}")
            values.append(" ".join('"' + w.replace('"', '""') + '"' for w in long_terms))
        for word in short_terms:
            where.append("instr(lower(document), {}) > 0")
            values.append(word.lower())
        return f"SELECT rowid FROM case_search WHERE {' AND '.join(where)}", values
    where = ["document ILIKE {} ESCAPE '\\'" for _ in words]
    values = ["%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words]
    return f"SELECT case_id FROM case_search WHERE {' AND '.join(where)}", values


async def search_cases(text: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest cases matching every word of ``text``."""
    clause, values = search_clause(text)
    # Newest first inside the index query: a common short term stops scanning once the page is full.
    rows = await Case.raw(
        "SELECT c.id, c.number, c.order_number, c.problem_type, c.node, c.description, c.created_at"
        f" FROM after_sales_case c WHERE c.id IN ({clause} ORDER BY 1 DESC LIMIT {int(limit)})"
        " ORDER BY c.id DESC",
        *values,
    )
    return list(rows)


# Weights of what two cases share; text similarity (0..1) is weighed against them.
SAME_PRODUCT, SAME_SUPPLIER, SAME_PROBLEM, TEXT, RESOLVED = 3.0, 2.0, 1.5, 4.0, 0.5
CANDIDATES = 300


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.lower().split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def text_similarity(first: str, second: str) -> float:
    """Jaccard overlap of character pairs: works for Chinese, which has no spaces between words."""
    a, b = _bigrams(first), _bigrams(second)
    return len(a & b) / len(a | b) if a and b else 0.0


def _moment(value: Any) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def similar_cases(case_id: int, *, limit: int = 5) -> list[dict[str, Any]]:
    """The closest other cases — same product, supplier or problem type, alike in words — best first,
    with how each ended: remedy, days to close, who was responsible and the amount."""
    target = (
        await Case.select(Case.id, Case.supplier, Case.product, Case.problem_type, Case.description)
        .where(Case.id == case_id)
        .first()
    )
    if target is None:
        return []
    rows = await Case.raw(
        "SELECT c.id, c.number, c.problem_type, c.node, c.description, c.remedy, c.confirmed_party,"
        " c.suggested_party, c.claim_amount, c.currency, c.created_at, c.closed_at, c.supplier, c.product,"
        " s.name AS supplier_name, p.name AS product_name"
        " FROM after_sales_case c LEFT JOIN supplier s ON s.id = c.supplier LEFT JOIN product p ON p.id = c.product"
        " WHERE c.id <> {} AND (c.supplier = {} OR c.product = {} OR c.problem_type = {})"
        f" ORDER BY c.id DESC LIMIT {CANDIDATES}",
        target["id"],
        target["supplier"],
        target["product"],
        target["problem_type"],
    )
    scored = []
    for row in rows:
        similarity = text_similarity(target["description"], row["description"] or "")
        row["similarity"] = round(similarity, 2)
        row["score"] = (
            SAME_PRODUCT * (target["product"] is not None and row["product"] == target["product"])
            + SAME_SUPPLIER * (target["supplier"] is not None and row["supplier"] == target["supplier"])
            + SAME_PROBLEM * (row["problem_type"] == target["problem_type"])
            + TEXT * similarity
            + RESOLVED * (row["closed_at"] is not None)
        )
        created, closed = _moment(row["created_at"]), _moment(row["closed_at"])
        row["days"] = (closed - created).days if closed and created else None
        row["paid_by"] = row["confirmed_party"] or ""
        scored.append(row)
    scored.sort(key=lambda r: (-r["score"], -r["id"]))
    return scored[:limit]
