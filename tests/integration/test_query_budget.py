"""Each signed-in page runs a fixed, small number of queries, however many rows it shows (no N+1)."""

from __future__ import annotations

from typing import Any

import pytest

from app.accounts.tables import User
from app.cases.events import Actor
from app.cases.selectors import forget_node_counts
from app.cases.services import CaseDraft, case_create
from app.trade.tables import Carrier, Product, Supplier
from app.web.render_cache import forget_rendered

ACTOR = Actor(kind="system", label="Tester")

# The most queries each page may run (both engines keep the session in the process for a few seconds);
# raise one only with a reason.
BUDGETS = {
    "/grid?f_problem_type=quality_defect&sort=-created_at": 4,
    "/cases?problem_type=quality_defect": 2,
    "/board": 2,
    "case page": 3,  # the case, its timeline, and the people it can be given to (the assignee control)
}


async def add_cases(count: int, *, assignee: int) -> list[str]:
    supplier = Supplier(code=f"S{count}", name=f"Supplier {count}")
    carrier = Carrier(code=f"C{count}", name=f"Carrier {count}")
    await supplier.save()
    await carrier.save()
    product = Product(sku=f"P-{count}", name=f"Product {count}", category="tableware", supplier=supplier.id)
    await product.save()
    numbers = []
    for i in range(count):
        draft = CaseDraft(
            problem_type="quality_defect",
            description=f"case {i}",
            order_number=f"PO-{count}-{i}",
            region="East China",
            supplier_id=supplier.id,
            carrier_id=carrier.id,
            product_id=product.id,
            assignee_id=assignee,
        )
        numbers.append((await case_create(actor=ACTOR, draft=draft)).case.number)
    return numbers


async def count_queries(client: Any, queries: list[str], path: str) -> int:
    forget_node_counts()  # the case list's node counts, kept a few seconds, are counted in its budget
    forget_rendered()  # and so is the work of a page whose rendered results are kept
    queries.clear()
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return len(queries)


@pytest.mark.parametrize("page", list(BUDGETS))
async def test_a_page_runs_its_budget_of_queries_whatever_the_number_of_rows(
    client: Any, login: Any, queries: list[str], page: str
) -> None:
    user: User = await login("handler")
    first = await add_cases(2, assignee=user.id)
    path = f"/cases/{first[0]}" if page == "case page" else page
    await client.get(path)  # the session's last-seen time is touched at most once a minute
    few = await count_queries(client, queries, path)
    more = await add_cases(12, assignee=user.id)
    if page == "case page":
        # A busier case: more events on its timeline.
        for number in more[:3]:
            await client.get(f"/cases/{number}")
        path = f"/cases/{more[0]}"
    many = await count_queries(client, queries, path)
    assert many == few, queries
    assert many <= BUDGETS[page], queries


async def test_the_case_list_counts_cases_by_node_for_the_whole_page_only(
    client: Any, login: Any, queries: list[str]
) -> None:
    user: User = await login("handler")
    await add_cases(2, assignee=user.id)
    await client.get("/cases")
    forget_node_counts()
    queries.clear()
    fragment = await client.get("/cases?problem_type=quality_defect", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert not [sql for sql in queries if "COUNT(" in sql.upper()], queries
    page = await client.get("/cases")
    assert "(2)" in page.text  # the node menu: both cases are reported
    assert [sql for sql in queries if "COUNT(" in sql.upper()]


@pytest.mark.parametrize(
    "path", ["/grid?f_problem_type=quality_defect&sort=-created_at", "/cases?problem_type=quality_defect"]
)
async def test_a_list_shown_again_unchanged_runs_no_query(
    client: Any, login: Any, queries: list[str], path: str
) -> None:
    """Its results (on the grid: filter choices and the person's saved views too) are kept until the data changes."""
    user: User = await login("handler")
    await add_cases(2, assignee=user.id)
    await count_queries(client, queries, path)
    queries.clear()
    again = await client.get(path)
    assert again.status_code == 200
    assert queries == [], queries
    await add_cases(1, assignee=user.id)
    queries.clear()
    await client.get(path)
    assert len(queries) >= BUDGETS[path] - 1, queries


async def test_node_counts_run_once_for_many_readers_and_late_ones_get_the_last_numbers(
    client: Any, login: Any, queries: list[str]
) -> None:
    """Sixteen pages asking at once, with no numbers kept, run one count; once the numbers are old, readers
    get them at once while one count refreshes them for the next reader."""
    import asyncio
    import time

    from app.cases import selectors

    user: User = await login("handler")
    await add_cases(2, assignee=user.id)
    forget_node_counts()
    queries.clear()
    answers = await asyncio.gather(*(selectors.node_counts() for _ in range(16)))
    assert len([sql for sql in queries if "COUNT(" in sql.upper()]) == 1, queries
    assert all(answer["reported"] == 2 for answer in answers)
    await add_cases(1, assignee=user.id)
    selectors._node_counts[:] = [(time.monotonic() - 1, selectors._node_counts[0][1])]  # they grow old
    queries.clear()
    stale = await asyncio.gather(*(selectors.node_counts() for _ in range(8)))
    assert all(answer["reported"] == 2 for answer in stale)  # the last numbers, without waiting
    await asyncio.wait_for(asyncio.shield(selectors._counting[0]), timeout=10)
    assert len([sql for sql in queries if "COUNT(" in sql.upper()]) == 1, queries
    assert (await selectors.node_counts())["reported"] == 3
    # After a quiet spell the last numbers are too old to show: the reader waits for the count.
    await add_cases(3, assignee=user.id)
    selectors._node_counts[:] = [(time.monotonic() - 60, selectors._node_counts[0][1])]
    assert (await selectors.node_counts())["reported"] == 6
