"""Daily sums behind the dashboard: what each fact counts, recomputing dirty days, and reading a period.

`analytics_day` holds one row per day (grain 'd') and per month (grain 'm', the sum of its days) and per
combination of keys; triggers (migration 2026-11-26T07:15) put every day whose source rows changed into
`analytics_dirty` in the writing transaction, and `refresh()` recomputes exactly those days before a read.
A period is read as its whole months plus the loose days at either end.

Each fact is one SQL source of per-row figures (`source`); the same source serves the recomputation and,
when a filter is finer than the sums keep (a product or category on case facts), the direct read.
"""

# ruff: noqa: S608 - the SQL is assembled from constant fragments; every value travels as a bound parameter

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app import db
from app.cases.tables import Case

# Columns of analytics_day besides fact, grain and day.
KEYS = ("supplier", "carrier", "region", "product", "problem_type", "label", "party")
VALUES = ("n", "affected", "units", "open_n", "disputed", "assigned", "accepted", "met", "days", "max_days")
RESPONSE_KINDS = ("party_response", "message")
HINT_KINDS = ("responsibility_confirmed", "responsibility_overridden")


@dataclass(frozen=True)
class Fact:
    """One kind of row in analytics_day: its group of dirty days, its keys and how its values add up."""

    name: str
    group: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    maxima: tuple[str, ...] = ()
    # Whether the sums keep the product (else a product or category filter reads the source directly).
    by_product: bool = False


ORDER_KEYS = ("supplier", "carrier", "region")
CASE_KEYS = (*ORDER_KEYS, "problem_type")
FACTS = {
    fact.name: fact
    for fact in (
        Fact("cohort", "cohort", (*ORDER_KEYS, "product"), ("units", "affected", "n"), by_product=True),
        Fact("cohort_pt", "cohort", (*CASE_KEYS, "product"), ("affected", "n"), by_product=True),
        Fact(
            "created",
            "created",
            (*CASE_KEYS, "label"),
            ("n", "affected", "open_n", "disputed", "assigned", "accepted"),
        ),
        Fact("move", "event", (*CASE_KEYS, "label"), ("n", "days"), ("max_days",)),
        Fact("hint", "event", (*CASE_KEYS, "label"), ("n",)),
        Fact("answer", "event", CASE_KEYS, ("n", "met", "days"), ("max_days",)),
        Fact("deadline", "deadline", (*CASE_KEYS, "label", "party"), ("n", "met")),
    )
}
GROUPS = {fact.group for fact in FACTS.values()}


class Dialect:
    """The expressions that differ between SQLite (UTC text timestamps) and PostgreSQL."""

    def __init__(self) -> None:
        self.sqlite = db.is_sqlite(db.current_engine())

    def day_of(self, column: str) -> str:
        return f"substr({column}, 1, 10)" if self.sqlite else f"(({column}) AT TIME ZONE 'UTC')::date"

    def month_first(self, column: str) -> str:
        return f"(substr({column}, 1, 7) || '-01')" if self.sqlite else f"date_trunc('month', {column})::date"

    def month_of_date(self, column: str) -> str:
        return f"substr({column}, 1, 7)" if self.sqlite else f"to_char({column}, 'YYYY-MM')"

    def days_between(self, later: str, earlier: str) -> str:
        if self.sqlite:
            return f"(julianday({later}) - julianday({earlier}))"
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')" if self.sqlite else f"({column}::jsonb ->> '{key}')"

    def within_due(self) -> str:
        if self.sqlite:
            return "julianday(sd.finished_at) <= julianday(sd.due_at) + sd.paused_seconds / 86400.0"
        return "sd.finished_at <= sd.due_at + sd.paused_seconds * interval '1 second'"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def _window(column: str, first: date, last: date, *, timestamp: bool) -> tuple[str, list[Any]]:
    if timestamp:
        following = last + timedelta(days=1)
        if Dialect().sqlite:
            # UTC text: the bare day sorts before every time on it, so a stored plain date is counted too.
            return f"{column} >= {{}} AND {column} < {{}}", [first.isoformat(), following.isoformat()]
        return f"{column} >= {{}} AND {column} < {{}}", [day_start(first), day_start(following)]
    return f"{column} >= {{}} AND {column} <= {{}}", [first, last]


def _case_keys() -> str:
    return "c.supplier AS supplier, c.carrier AS carrier, c.region AS region, c.problem_type AS problem_type, "


def source(fact: str, first: date, last: date, sql: Dialect) -> tuple[str, list[Any]]:
    """Per-row figures of `fact` for the days first..last: columns day, the fact's keys and values."""
    if fact in ("cohort", "cohort_pt"):
        window, args = _window("po.delivered_on", first, last, timestamp=False)
        cases = (
            "SELECT po.delivered_on AS day, po.supplier AS supplier, po.carrier AS carrier, po.region AS region, "
            "c.product AS product, c.problem_type AS problem_type, 0 AS units, c.quantity_affected AS affected, "
            "1 AS n FROM after_sales_case c JOIN purchase_order po ON po.id = c.purchase_order "
            f"WHERE c.node <> 'cancelled' AND {window}"
        )
        if fact == "cohort_pt":
            return cases, args
        lines = (
            "SELECT po.delivered_on AS day, po.supplier AS supplier, po.carrier AS carrier, po.region AS region, "
            "ol.product AS product, '' AS problem_type, ol.quantity_delivered AS units, 0 AS affected, 0 AS n "
            f"FROM order_line ol JOIN purchase_order po ON po.id = ol.purchase_order WHERE {window}"
        )
        return f"{lines} UNION ALL {cases}", [*args, *args]
    if fact == "created":
        window, args = _window("c.created_at", first, last, timestamp=True)
        return (
            f"SELECT {sql.day_of('c.created_at')} AS day, {_case_keys()}c.product AS product, "
            "c.root_cause AS label, 1 AS n, c.quantity_affected AS affected, "
            "CASE WHEN c.node NOT IN ('closed', 'cancelled') THEN 1 ELSE 0 END AS open_n, "
            "CASE WHEN c.node = 'disputed' THEN 1 ELSE 0 END AS disputed, "
            "CASE WHEN c.confirmed_party = 'supplier' THEN 1 ELSE 0 END AS assigned, "
            "CASE WHEN c.confirmed_party = 'supplier' AND NOT EXISTS (SELECT 1 FROM dispute d "
            "WHERE d.\"case\" = c.id AND d.opened_by = 'supplier') THEN 1 ELSE 0 END AS accepted "
            f"FROM after_sales_case c WHERE {window}",
            args,
        )
    if fact == "move":
        window, args = _window("e.at", first, last, timestamp=True)
        # The time in a node runs from the case's previous move (or its report) to this move.
        previous = (
            'COALESCE((SELECT p.at FROM case_event p WHERE p."case" = e."case" AND p.kind = \'node_changed\' '
            "AND p.id < e.id ORDER BY p.id DESC LIMIT 1), c.created_at)"
        )
        days = sql.days_between("e.at", previous)
        return (
            f"SELECT {sql.day_of('e.at')} AS day, {_case_keys()}c.product AS product, "
            f"{sql.json_text('e.data', 'from')} AS label, 1 AS n, {days} AS days, {days} AS max_days "
            f'FROM case_event e JOIN after_sales_case c ON c.id = e."case" '
            f"WHERE e.kind = 'node_changed' AND {window}",
            args,
        )
    if fact == "hint":
        window, args = _window("e.at", first, last, timestamp=True)
        return (
            f"SELECT {sql.day_of('e.at')} AS day, {_case_keys()}c.product AS product, e.kind AS label, 1 AS n "
            'FROM case_event e JOIN after_sales_case c ON c.id = e."case" '
            f"WHERE e.kind IN ('{HINT_KINDS[0]}', '{HINT_KINDS[1]}') AND {window}",
            args,
        )
    if fact == "answer":
        # From the first push to the supplier to the supplier's first answer after it (accept, dispute, message).
        window, args = _window("x.at", first, last, timestamp=True)
        pushed_window, pushed_args = _window("p.pushed_at", first, last, timestamp=True)
        answered = (
            "SELECT MIN(r.at) FROM case_event r WHERE r.\"case\" = p.case_id AND r.actor_kind = 'supplier' "
            f"AND r.kind IN ('{RESPONSE_KINDS[0]}', '{RESPONSE_KINDS[1]}') AND r.at >= p.pushed_at"
        )
        pushes = (
            'SELECT e."case" AS case_id, MIN(e.at) AS pushed_at FROM case_event e '
            f"WHERE e.kind = 'case_pushed' AND {sql.json_text('e.data', 'party')} = 'supplier' "
            f'AND e."case" IN (SELECT x."case" FROM case_event x WHERE x.kind = \'case_pushed\' AND {window}) '
            'GROUP BY e."case"'
        )
        days = sql.days_between("a.answered_at", "a.pushed_at")
        return (
            f"SELECT {sql.day_of('a.pushed_at')} AS day, a.supplier AS supplier, a.carrier AS carrier, "
            "a.region AS region, a.problem_type AS problem_type, a.product AS product, 1 AS n, "
            f"CASE WHEN a.answered_at IS NULL THEN 0 ELSE 1 END AS met, {days} AS days, {days} AS max_days FROM ("
            f"SELECT p.pushed_at AS pushed_at, ({answered}) AS answered_at, {_case_keys()}c.product AS product "
            f"FROM ({pushes}) p JOIN after_sales_case c ON c.id = p.case_id WHERE {pushed_window}) a",
            [*args, *pushed_args],
        )
    if fact == "deadline":
        window, args = _window("sd.finished_at", first, last, timestamp=True)
        return (
            f"SELECT {sql.day_of('sd.finished_at')} AS day, {_case_keys()}c.product AS product, "
            "sd.node AS label, sd.owner_party AS party, 1 AS n, "
            f"CASE WHEN {sql.within_due()} THEN 1 ELSE 0 END AS met "
            'FROM stage_deadline sd JOIN after_sales_case c ON c.id = sd."case" '
            f"WHERE {window}",
            args,
        )
    raise ValueError(f"unknown analytics fact {fact!r}")


def _aggregates(fact: Fact) -> str:
    # Rows add up to a day and days to a month the same way: sums of sums, the largest of the maxima.
    parts = [f"SUM(s.{name})" for name in fact.sums]
    parts += [f"MAX(s.{name})" for name in fact.maxima]
    return ", ".join(parts)


def _columns(fact: Fact) -> str:
    return ", ".join((*fact.keys, *fact.sums, *fact.maxima))


async def _run(sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    return list(await Case.raw(sql, *args))


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def _recompute(fact: Fact, first: date, last: date, sql: Dialect) -> None:
    keys = ", ".join(f"s.{key}" for key in fact.keys)
    await _run(
        "DELETE FROM analytics_day WHERE fact = {} AND grain = 'd' AND day >= {} AND day <= {}",
        [fact.name, first, last],
    )
    text, args = source(fact.name, first, last, sql)
    await _run(
        f"INSERT INTO analytics_day (fact, grain, day, {_columns(fact)}) "
        f"SELECT '{fact.name}', 'd', s.day, {keys}, {_aggregates(fact)} FROM ({text}) s "
        f"GROUP BY s.day, {keys}",
        args,
    )
    # The months around those days are summed again from their days.
    month_first, month_last = first.replace(day=1), _month_end(last)
    await _run(
        "DELETE FROM analytics_day WHERE fact = {} AND grain = 'm' AND day >= {} AND day <= {}",
        [fact.name, month_first, month_last],
    )
    await _run(
        f"INSERT INTO analytics_day (fact, grain, day, {_columns(fact)}) "
        f"SELECT '{fact.name}', 'm', {sql.month_first('s.day')}, {keys}, {_aggregates(fact)} "
        "FROM analytics_day s WHERE s.fact = {} AND s.grain = 'd' AND s.day >= {} AND s.day <= {} "
        f"GROUP BY {sql.month_first('s.day')}, {keys}",
        [fact.name, month_first, month_last],
    )


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


async def pending() -> bool:
    return bool(await _run("SELECT 1 AS dirty FROM analytics_dirty LIMIT 1", []))


# On PostgreSQL a refresh locks the dirty marks in SHARE ROW EXCLUSIVE mode first. Every write that
# changes the sums has inserted a mark (its trigger's INSERT holds ROW EXCLUSIVE until it commits, even
# when the mark already existed), so the refresh waits for writes in flight and sums their days with
# them; writes that come later wait for the refresh and leave their own mark. The mode also excludes a
# second refresh, which would write the months of the same days twice. SQLite's writers take turns anyway.
async def _take_turn(sql: Dialect) -> None:
    if not sql.sqlite:
        await _run("LOCK TABLE analytics_dirty IN SHARE ROW EXCLUSIVE MODE", [])


async def refresh() -> int:
    """Recompute every dirty day (and its month) in one transaction; returns how many days were recomputed."""
    sql = Dialect()
    done = 0
    async with db.atomic():
        await _take_turn(sql)
        taken = await _run("DELETE FROM analytics_dirty RETURNING fact_group, day", [])
        days: dict[str, list[date]] = {}
        for row in taken:
            days.setdefault(row["fact_group"], []).append(_as_date(row["day"]))
        for group, group_days in days.items():
            for first, last in _runs(group_days):
                for fact in FACTS.values():
                    if fact.group == group:
                        await _recompute(fact, first, last, sql)
            done += len(group_days)
    return done


async def rebuild() -> int:
    """Mark every day that has source rows dirty and recompute them all: the repair for any doubt."""
    sql = Dialect()
    async with db.atomic():
        await _take_turn(sql)
        await _run("DELETE FROM analytics_day", [])
        for statement in (
            f"SELECT DISTINCT 'created', {sql.day_of('created_at')} FROM after_sales_case WHERE created_at IS NOT NULL",
            "SELECT DISTINCT 'cohort', delivered_on FROM purchase_order WHERE delivered_on IS NOT NULL",
            f"SELECT DISTINCT 'event', {sql.day_of('at')} FROM case_event WHERE kind IN "
            f"('node_changed', '{HINT_KINDS[0]}', '{HINT_KINDS[1]}', 'case_pushed')",
            f"SELECT DISTINCT 'deadline', {sql.day_of('finished_at')} FROM stage_deadline "
            "WHERE finished_at IS NOT NULL",
        ):
            await _run(f"INSERT INTO analytics_dirty (fact_group, day) {statement} ON CONFLICT DO NOTHING", [])
    return await refresh()


def split_period(start: date, end: date) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The whole months inside start..end, and the loose days before and after them."""
    first_full = start if start.day == 1 else _month_end(start) + timedelta(days=1)
    last_full_end = end if end == _month_end(end) else end.replace(day=1) - timedelta(days=1)
    if first_full > last_full_end:
        return None, [(start, end)]
    loose = []
    if start < first_full:
        loose.append((start, first_full - timedelta(days=1)))
    if last_full_end < end:
        loose.append((last_full_end + timedelta(days=1), end))
    return (first_full, last_full_end.replace(day=1)), loose


def stored(
    fact: str, start: date, end: date, *, columns: str = "*", extra: str = "", args: Sequence[Any] = ()
) -> tuple[str, list[Any]]:
    """A relation of analytics_day rows of `fact` that together cover start..end exactly once."""
    months, loose = split_period(start, end)
    parts: list[str] = []
    params: list[Any] = []
    if months is not None:
        parts.append(
            f"SELECT {columns} FROM analytics_day WHERE fact = {{}} AND grain = 'm' AND day >= {{}} AND day <= {{}}"
            f"{extra}"
        )
        params += [fact, *months, *args]
    for first, last in loose:
        parts.append(
            f"SELECT {columns} FROM analytics_day WHERE fact = {{}} AND grain = 'd' AND day >= {{}} AND day <= {{}}"
            f"{extra}"
        )
        params += [fact, first, last, *args]
    return " UNION ALL ".join(parts), params
