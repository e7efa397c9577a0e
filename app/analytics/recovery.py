"""Money claimed from suppliers and carriers and recovered: per supplier, and the ledger with its ageing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.analytics.filters import AnalyticsFilters
from app.analytics.sums import Where, case_filters, product_join, raw


async def recovered_money(filters: AnalyticsFilters, party: str = "supplier") -> dict[Any, dict[str, dict[str, str]]]:
    """Claimed and recovered per supplier and currency, for claims raised in the period."""
    where = Where()
    where.add("r.claimed_on >= {} AND r.claimed_on <= {}", filters.start, filters.end)
    where.add("r.party = {}", party)
    case_filters(where, filters, cohort=False)
    rows = await raw(
        "SELECT c.supplier AS k, r.currency AS currency, SUM(r.claimed_amount) AS claimed, "
        'SUM(r.recovered_amount) AS recovered FROM recovery r JOIN after_sales_case c ON c.id = r."case" '
        f"{product_join(filters)}WHERE {where.sql()} GROUP BY c.supplier, r.currency",
        where.args,
    )
    money: dict[Any, dict[str, dict[str, str]]] = {}
    for row in rows:
        money.setdefault(row["k"], {})[row["currency"]] = {
            "claimed": _money(row["claimed"]),
            "recovered": _money(row["recovered"]),
        }
    return money


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


AGEING_BUCKETS = ((0, 30, "0–30"), (31, 60, "31–60"), (61, 90, "61–90"), (91, 10**6, "90+"))


async def recovery_ledger(*, today: date, limit: int = 200) -> dict[str, Any]:
    """Claims per case and party: claimed vs recovered per currency, and the age of what is still open.

    The totals and the ageing cover every claim; the list shows the `limit` claims with the latest claim
    dates (ties: the last recorded first), so a claim recorded today with an earlier claim date may fall
    off a full list.
    """
    rows = await raw(
        "SELECT r.id AS id, c.number AS number, r.party AS party, r.kind AS kind, r.currency AS currency, "
        "r.claimed_amount AS claimed, r.recovered_amount AS recovered, r.claimed_on AS claimed_on, "
        'r.recovered_on AS recovered_on FROM recovery r JOIN after_sales_case c ON c.id = r."case" '
        f"ORDER BY r.claimed_on DESC, r.id DESC LIMIT {int(limit)}",
        [],
    )
    for row in rows:
        claimed = Decimal(str(row["claimed"] or 0))
        recovered = Decimal(str(row["recovered"] or 0))
        open_amount = max(Decimal(0), claimed - recovered)
        claimed_on = row["claimed_on"]
        if isinstance(claimed_on, str):
            claimed_on = date.fromisoformat(claimed_on)
        row["open"] = _money(open_amount)
        row["claimed"], row["recovered"] = _money(claimed), _money(recovered)
        row["age_days"] = (today - claimed_on).days if claimed_on else None
        if open_amount and row["age_days"] is not None:
            row["bucket"] = _bucket_of(row["age_days"])
    bucket, args = _bucket_sql(today)
    sums = await raw(
        "SELECT a.currency AS currency, a.bucket AS bucket, SUM(a.claimed) AS claimed, "
        "SUM(a.recovered) AS recovered, SUM(CASE WHEN a.claimed > a.recovered "
        "THEN a.claimed - a.recovered ELSE 0 END) AS open FROM ("
        f"SELECT r.currency AS currency, {bucket} AS bucket, r.claimed_amount AS claimed, "
        "r.recovered_amount AS recovered FROM recovery r) a GROUP BY a.currency, a.bucket",
        args,
    )
    totals: dict[str, dict[str, Decimal]] = {}
    ageing: dict[str, dict[str, Decimal]] = {}
    for cell in sums:
        total = totals.setdefault(cell["currency"], {name: Decimal(0) for name in ("claimed", "recovered", "open")})
        for name in total:
            total[name] += Decimal(str(cell[name] or 0))
        open_amount = Decimal(str(cell["open"] or 0))
        if open_amount and cell["bucket"] is not None:
            cells = ageing.setdefault(cell["currency"], {label: Decimal(0) for *_, label in AGEING_BUCKETS})
            cells[cell["bucket"]] += open_amount
    return {
        "rows": rows,
        "totals": {cur: {k: _money(v) for k, v in t.items()} for cur, t in sorted(totals.items())},
        "ageing": {cur: {k: _money(v) for k, v in cells.items()} for cur, cells in ageing.items()},
        "buckets": [label for *_, label in AGEING_BUCKETS],
    }


def _bucket_of(age_days: int) -> str | None:
    return next((label for low, high, label in AGEING_BUCKETS if low <= age_days <= high), None)


def _bucket_sql(today: date) -> tuple[str, list[Any]]:
    """The ageing bucket of a claim's date as SQL (a claim dated in the future has none)."""
    whens, args = [], []
    for low, high, label in AGEING_BUCKETS:
        if high >= AGEING_BUCKETS[-1][1]:
            whens.append(f"WHEN r.claimed_on <= {{}} THEN '{label}'")
            args.append(today - timedelta(days=low))
        else:
            whens.append(f"WHEN r.claimed_on <= {{}} AND r.claimed_on >= {{}} THEN '{label}'")
            args += [today - timedelta(days=low), today - timedelta(days=high)]
    return f"(CASE {' '.join(whens)} END)", args
