"""A Piccolo SQLite engine that keeps a few connections open for queries outside transactions.

Piccolo's SQLiteEngine opens a new connection, with its own thread, for every such query; on a page
that runs three queries that start-up dominated the response time. Transactions keep Piccolo's own
path (a fresh connection holding the write lock for the transaction's length).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, dict_factory


class _LoopPool:
    """Idle connections of one event loop; at most ``size`` exist, the rest of the callers wait."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.idle: list[aiosqlite.Connection] = []
        self.opened = 0
        self.available = asyncio.Condition()


class ReusingSQLiteEngine(SQLiteEngine):
    def __init__(self, *, path: str, pool_size: int = 4, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.pool_size = pool_size
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}

    def _pool(self) -> _LoopPool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            # Loops that have closed (tests make one per test) leave their pools behind: drop them.
            for old in [other for other in self._pools if other.is_closed()]:
                del self._pools[old]
            pool = self._pools[loop] = _LoopPool(self.pool_size)
        return pool

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's worker thread is not a daemon: an unclosed idle connection would hold up exit.
        thread = getattr(connection, "_thread", None)
        if thread is not None:
            thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def _acquire(self) -> aiosqlite.Connection:
        pool = self._pool()
        async with pool.available:
            while not pool.idle and pool.opened >= pool.size:
                await pool.available.wait()
            if pool.idle:
                return pool.idle.pop()
            pool.opened += 1
        try:
            return await self._open()
        except BaseException:
            async with pool.available:
                pool.opened -= 1
                pool.available.notify()
            raise

    async def _release(self, connection: aiosqlite.Connection, *, broken: bool) -> None:
        pool = self._pool()
        async with pool.available:
            if broken:
                pool.opened -= 1
            else:
                pool.idle.append(connection)
            pool.available.notify()
        if broken:
            await connection.close()

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        connection = await self._acquire()
        broken = False
        try:
            async with connection.execute(query, args or []) as cursor:
                return await cursor.fetchall()
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError, ValueError):
            broken = True  # a closed or unusable connection: do not hand it out again
            raise
        finally:
            await self._release(connection, broken=broken)

    async def close_pools(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            for connection in pool.idle:
                await connection.close()
