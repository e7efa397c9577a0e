"""The SQLite engine keeps its connections while its pool runs, and writers from two processes still all land.

These tests build their own SQLite database in a temporary folder, whichever engine the suite runs on.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app import db


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Any]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    await db.prepare_sqlite(engine)
    await engine.run_ddl("CREATE TABLE note (id INTEGER PRIMARY KEY, source TEXT NOT NULL, n INTEGER NOT NULL)")
    await db.start(engine)
    yield engine
    await db.stop(engine)


async def test_queries_reuse_open_connections_opened_with_the_pragmas(engine: Any) -> None:
    # A temporary table lives only on the connection that made it: the next queries find it.
    await engine.run_ddl("CREATE TEMP TABLE mine (x INTEGER)")
    await engine.run_ddl("INSERT INTO mine VALUES (1)")
    assert await engine.run_ddl("SELECT x FROM mine") == [{"x": 1}]
    assert await engine.run_ddl("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
    assert await engine.run_ddl("PRAGMA synchronous") == [{"synchronous": 1}]  # NORMAL


async def test_a_failed_transaction_rolls_back_and_the_next_one_writes(engine: Any) -> None:
    with pytest.raises(RuntimeError):
        async with db_atomic(engine):
            await engine.run_ddl("INSERT INTO note (source, n) VALUES ('here', 1)")
            raise RuntimeError("stop")
    async with db_atomic(engine):
        await engine.run_ddl("INSERT INTO note (source, n) VALUES ('here', 2)")
    assert await engine.run_ddl("SELECT n FROM note") == [{"n": 2}]


async def test_concurrent_writers_here_and_in_another_process_all_land_and_connections_stay_few(
    engine: Any, tmp_path: Path
) -> None:
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(tmp_path / 'own.sqlite3')!r}, timeout=30, isolation_level=None)\n"
            "for n in range(200):\n"
            "    c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO note (source, n) VALUES ('other', ?)\", (n,))\n"
            "    c.execute('COMMIT')\n",
        ]
    )

    async def write(n: int) -> None:
        async with db_atomic(engine):
            await engine.run_ddl(f"INSERT INTO note (source, n) VALUES ('here', {n})")
            await asyncio.sleep(0)

    async def read() -> None:
        await engine.run_ddl("SELECT COUNT(*) AS c FROM note")

    await asyncio.gather(*(write(n) for n in range(200)), *(read() for _ in range(200)))
    assert await asyncio.to_thread(other.wait, 60) == 0
    counts = await engine.run_ddl("SELECT source, COUNT(*) AS c FROM note GROUP BY source ORDER BY source")
    assert counts == [{"source": "here", "c": 200}, {"source": "other", "c": 200}]
    # Four readers and one writer at most, each a thread of its own, all ended when the pool closes.
    assert 1 < connection_threads() <= db.SQLITE_READERS + 1
    await db.stop(engine)
    for _ in range(100):  # a closed connection's thread ends just after it answers
        if connection_threads() == 0:
            break
        await asyncio.sleep(0.02)
    assert connection_threads() == 0


def connection_threads() -> int:
    return sum("_connection_worker_thread" in thread.name for thread in threading.enumerate())


def db_atomic(engine: Any) -> Any:
    from piccolo.engine.sqlite import TransactionType

    return engine.transaction(transaction_type=TransactionType.immediate)


def test_a_process_that_ends_without_closing_the_pool_still_exits(tmp_path: Path) -> None:
    script = (
        "import asyncio\n"
        "from app import db\n"
        f"engine = db.make_engine('sqlite:///{tmp_path / 'left.sqlite3'}')\n"
        "async def main():\n"
        "    await db.start(engine)\n"
        "    await engine.run_ddl('SELECT 1')\n"
        "asyncio.run(main())\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
