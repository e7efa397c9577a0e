"""How each supplier and carrier works with us, from the collaboration events on the cases pushed to them.

Scope: the cases first pushed to the party in the period. Per party:
- time to first answer: from that push to the party's first answer after it (median, in days);
- accepted / partial / disputed: the party's last answer on responsibility, as shares of the cases it answered;
- plan agreed: from the push to the first plan agreed after it (median, in days);
- recovered in full: claims raised on the party in the period whose whole amount came back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from app.analytics.daily import _window
from app.analytics.filters import AnalyticsFilters
from app.analytics.sums import Where, case_filters, display_names, product_join, raw
from app.cases.responsibility import json_object
from app.trade.tables import Carrier, Supplier

PARTIES = ("supplier", "carrier")
# The first of these by the party after a push stops its answer clock (as on the party's own overview).
ANSWER_EVENTS = ("party_response", "plan_proposed", "plan_agreed", "message", "progress_update")
RESPONSES = ("accept", "accept_part", "dispute")


@dataclass
class _Case:
    pushed_at: datetime
    answered_at: datetime | None = None
    response: str = ""
    agreed_at: datetime | None = None


@dataclass
class _Party:
    cases: list[_Case] = field(default_factory=list)
    claims: int = 0
    recovered_in_full: int = 0


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 86400


def _aware(value: Any) -> datetime:
    # SQLite hands timestamps back as text, PostgreSQL as datetimes.
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(party: _Party) -> dict[str, Any]:
    answered = [case for case in party.cases if case.answered_at is not None]
    responded = [case for case in party.cases if case.response]
    agreed = [case for case in party.cases if case.agreed_at is not None]

    def share(response: str) -> float | None:
        return sum(case.response == response for case in responded) / len(responded) if responded else None

    return {
        "pushed": len(party.cases),
        "answered": len(answered),
        "answer_days": _median([_days(c.answered_at, c.pushed_at) for c in answered if c.answered_at]),
        "responded": len(responded),
        "accepted": share("accept"),
        "partial": share("accept_part"),
        "disputed": share("dispute"),
        "agreed": len(agreed),
        "plan_days": _median([_days(c.agreed_at, c.pushed_at) for c in agreed if c.agreed_at]),
        "claims": party.claims,
        "recovered_in_full": party.recovered_in_full,
        "recovery": party.recovered_in_full / party.claims if party.claims else None,
    }


async def party_scorecard(filters: AnalyticsFilters, party: str) -> dict[Any, dict[str, Any]]:
    """Per supplier (or carrier) id: the figures above, for cases first pushed to it in the period."""
    if party not in PARTIES:
        raise ValueError(f"unknown party {party!r}")
    start = datetime.combine(filters.start, time(), tzinfo=UTC)
    end = datetime.combine(filters.end + timedelta(days=1), time(), tzinfo=UTC)
    where = Where()
    where.add(f"e.kind IN ('case_pushed', {', '.join(repr(kind) for kind in ANSWER_EVENTS)})")
    # The same UTC days as the other figures (SQLite compares the stored text, PostgreSQL the moments).
    window, bounds = _window("x.at", filters.start, filters.end, timestamp=True)
    where.add(f'e."case" IN (SELECT x."case" FROM case_event x WHERE x.kind = \'case_pushed\' AND {window})', *bounds)
    case_filters(where, filters, cohort=False)
    events = await raw(
        f'SELECT e."case" AS case_id, e.at AS at, e.actor_kind AS actor_kind, e.kind AS kind, e.data AS data, '
        f'c.{party} AS party_id FROM case_event e JOIN after_sales_case c ON c.id = e."case" '
        f"{product_join(filters)}WHERE {where.sql()} ORDER BY e.id",
        where.args,
    )
    cases: dict[int, tuple[Any, _Case]] = {}
    for event in events:
        at, data, case_id = _aware(event["at"]), json_object(event["data"]), event["case_id"]
        if event["kind"] == "case_pushed":
            if data.get("party") == party and case_id not in cases:
                cases[case_id] = (event["party_id"], _Case(pushed_at=at))
            continue
        if case_id not in cases:
            continue
        case = cases[case_id][1]
        if at < case.pushed_at:
            continue
        if event["actor_kind"] == party and case.answered_at is None:
            case.answered_at = at
        if event["kind"] == "party_response" and data.get("party") == party and data.get("response") in RESPONSES:
            case.response = str(data["response"])  # the last answer counts
        if event["kind"] == "plan_agreed" and case.agreed_at is None:
            case.agreed_at = at
    parties: dict[Any, _Party] = {}
    for party_id, case in cases.values():
        if start <= case.pushed_at < end and party_id is not None:
            parties.setdefault(party_id, _Party()).cases.append(case)
    for row in await _claims(filters, party):
        found = parties.setdefault(row["k"], _Party())
        found.claims += int(row["claims"] or 0)
        found.recovered_in_full += int(row["in_full"] or 0)
    return {party_id: _row(found) for party_id, found in parties.items() if party_id is not None}


async def _claims(filters: AnalyticsFilters, party: str) -> list[dict[str, Any]]:
    where = Where()
    where.add("r.claimed_on >= {} AND r.claimed_on <= {}", filters.start, filters.end)
    where.add("r.party = {}", party)
    case_filters(where, filters, cohort=False)
    return await raw(
        f"SELECT c.{party} AS k, COUNT(*) AS claims, "
        "SUM(CASE WHEN r.recovered_amount >= r.claimed_amount AND r.claimed_amount > 0 THEN 1 ELSE 0 END) AS in_full "
        f'FROM recovery r JOIN after_sales_case c ON c.id = r."case" {product_join(filters)}'
        f"WHERE {where.sql()} GROUP BY c.{party}",
        where.args,
    )


async def scorecards(filters: AnalyticsFilters) -> dict[str, list[dict[str, Any]]]:
    """Both parties' scorecards as named rows, by name; the dashboard and the monthly report show these."""
    result: dict[str, list[dict[str, Any]]] = {}
    for party, table in (("supplier", Supplier), ("carrier", Carrier)):
        figures = await party_scorecard(filters, party)
        names = await display_names(table, list(figures))
        rows = [{"key": key, "name": names.get(key, str(key)), **row} for key, row in figures.items()]
        result[party] = sorted(rows, key=lambda row: str(row["name"]))
    return result
