"""The planners' statistics follow the rows: refreshed where many rows moved, on both engines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app.accounts.tables import User
from app.db import current_engine, is_sqlite, refresh_statistics
from tests.integration.test_query_budget import add_cases


async def moved_enough(table: str) -> bool:
    rows = await current_engine().run_ddl(
        "SELECT n_mod_since_analyze > 50 + 0.1 * n_live_tup AS moved FROM pg_stat_user_tables "
        f"WHERE relname = '{table}'"
    )
    return bool(rows and rows[0]["moved"])


async def test_tables_whose_rows_moved_get_fresh_statistics_and_the_others_are_left(login: object) -> None:
    engine = current_engine()
    user: User = await login("handler")  # type: ignore[operator]
    await add_cases(5, assignee=user.id)
    if is_sqlite(engine):
        assert await refresh_statistics() == ["*"]  # a small database measured once
        await add_cases(70, assignee=user.id)
        assert await refresh_statistics() == ["*"]  # and measured again once it grew
        rows = await engine.run_ddl("SELECT stat FROM sqlite_stat1 WHERE tbl = 'after_sales_case'")
        assert rows and all(int(row["stat"].split()[0]) >= 75 for row in rows)
        return
    await add_cases(70, assignee=user.id)
    for _ in range(100):  # each connection reports its counts to the server's statistics when it ends
        if await moved_enough("after_sales_case"):
            break
        await asyncio.sleep(0.1)  # bounded wait for the server's activity counters
    assert "after_sales_case" in await refresh_statistics()
    rows = await engine.run_ddl(
        "SELECT last_analyze IS NOT NULL AS measured FROM pg_stat_user_tables WHERE relname = 'after_sales_case'"
    )
    assert rows[0]["measured"]
    assert "after_sales_case" not in await refresh_statistics()


async def test_an_import_refreshes_the_statistics_of_what_it_wrote(tmp_path: Path, monkeypatch: Any) -> None:
    """A ledger of many rows arrives at once: the pages' queries are planned for the new sizes straight away,
    not at the worker's next hour."""
    from app.cases.events import Actor
    from app.imports import jobs
    from tests.integration.test_import_accounting import CASE_HEADERS, write

    engine = current_engine()
    refreshed: list[list[str]] = []

    async def refresh_and_note(*, every_table: bool = False) -> list[str]:
        refreshed.append(await refresh_statistics(every_table=every_table))
        return refreshed[-1]

    monkeypatch.setattr(jobs, "refresh_statistics", refresh_and_note)
    monkeypatch.setattr(jobs, "STATISTICS_ROWS", 50)  # "thousands of rows", scaled down
    if is_sqlite(engine):
        await engine.run_ddl("DROP TABLE IF EXISTS sqlite_stat1")

    async def imported(rows: int, first: int) -> int:
        ledger = [
            [f"SH-{i}", "2025-11-03", f"PO-{i}", "宁波五金", "HOOK-3", "质量问题", "x", 1]
            for i in range(first, first + rows)
        ]
        _, preview = jobs.preview_file(write(tmp_path, f"ledger{first}.csv", CASE_HEADERS, ledger), "cases")
        return (await jobs.commit(preview=preview, actor=Actor(kind="system", label="Tester"))).created

    assert await imported(20, 0) == 20 and refreshed == []  # a few rows: left to the worker's hour
    assert await imported(80, 100) == 80
    assert refreshed == [["*"]]  # every table: the server's counters do not have the import's rows yet
    if is_sqlite(engine):
        stats = await engine.run_ddl("SELECT stat FROM sqlite_stat1 WHERE tbl = 'after_sales_case'")
        assert stats and int(stats[0]["stat"].split()[0]) >= 100

    async def failing(*, every_table: bool = False) -> list[str]:
        raise RuntimeError("the statistics could not be written")

    monkeypatch.setattr(jobs, "refresh_statistics", failing)
    assert await imported(80, 200) == 80  # the import stands; the failure is logged


def test_the_worker_refreshes_the_statistics_every_hour() -> None:
    from datetime import datetime

    from app.queue import huey
    from app.tasks.upkeep import planner_statistics

    assert "app.tasks.upkeep.planner_statistics" in huey._registry._registry
    task = planner_statistics.task_class()
    assert task.validate_datetime(datetime(2026, 12, 8, 5, 17))
    assert not task.validate_datetime(datetime(2026, 12, 8, 5, 18))
