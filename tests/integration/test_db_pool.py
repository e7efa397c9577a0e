"""The PostgreSQL pool: as large as the settings say, and each connection keeps its prepared statements.

PostgreSQL only (the SQLite engine's own pool is tested in tests/integration/test_sqlite_engine.py): on
SQLite this module has nothing to run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from piccolo.querystring import QueryString

from app import db
from tests.conftest import ENGINE

pytestmark = pytest.mark.skipif(
    ENGINE != "postgres", reason="a PostgreSQL engine's pool (run with TEST_ENGINE=postgres)"
)


async def _connections(engine: Any) -> int:
    """The pool's connections to the database, counted from a connection of its own."""
    sql = (
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = {} AND pid <> pg_backend_pid()"
    )
    rows = await engine.run_querystring(QueryString(sql, "pool-test"), in_pool=False)
    return int(rows[0]["n"])


@pytest.mark.parametrize("size", [1, 3])
async def test_the_pool_opens_no_more_connections_than_its_size(database_url: str, size: int) -> None:
    engine = db.make_engine(f"{database_url}?application_name=pool-test", pool_size=size)
    await db.start(engine)
    try:
        busy = [engine.run_querystring(QueryString("SELECT pg_sleep(0.2)")) for _ in range(8)]
        await asyncio.gather(*busy)
        assert engine.pool.get_size() == size
        assert await _connections(engine) == size
    finally:
        await db.stop(engine)


@pytest.mark.parametrize(("cache", "kept"), [(500, True), (0, False)])
async def test_a_connection_keeps_the_statements_it_ran_unless_told_not_to(
    database_url: str, cache: int, kept: bool
) -> None:
    """asyncpg prepares each query; with a cache the statement stays on the connection (parsed and planned
    once), with 0 (behind PgBouncer) nothing is kept."""
    engine = db.make_engine(database_url, pool_size=1, statement_cache=cache)
    await db.start(engine)
    try:
        for number in range(3):
            await engine.run_querystring(QueryString("SELECT {} + 1 AS n FROM after_sales_case LIMIT 1", number))
        rows = await engine.run_querystring(
            QueryString(
                "SELECT COUNT(*) AS n FROM pg_prepared_statements WHERE statement LIKE {}", "%after_sales_case%"
            )
        )
        assert (int(rows[0]["n"]) == 1) is kept, rows
    finally:
        await db.stop(engine)
