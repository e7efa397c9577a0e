"""Database engines for SQLite and PostgreSQL, table binding and write transactions."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeGuard
from urllib.parse import urlparse

import aiosqlite
from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.table import Table

# Seconds a SQLite writer waits for the lock before "database is locked"; writers queue instead.
SQLITE_BUSY_SECONDS = 30
# Connections kept open for reads on SQLite: more would not run faster on a small server, as each
# query holds a core while it runs.
SQLITE_READERS = 4
# Set on every SQLite connection when it opens. NORMAL is safe in WAL mode: a power cut may lose the
# last commits but never corrupts the file.
SQLITE_PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL")


class _SQLitePool:
    """Open connections for one event loop: readers for single queries, one writer for transactions."""

    def __init__(self, engine: ReusingSQLiteEngine) -> None:
        self.engine = engine
        self.loop = asyncio.get_running_loop()
        self.idle: list[aiosqlite.Connection] = []
        self.readers = asyncio.Semaphore(SQLITE_READERS)
        self.writer: aiosqlite.Connection | None = None
        self.write_lock = asyncio.Lock()
        self.closed = False

    async def take_reader(self) -> aiosqlite.Connection:
        await self.readers.acquire()
        try:
            return self.idle.pop() if self.idle else await self.engine.get_connection()
        except BaseException:
            self.readers.release()
            raise

    async def give_back_reader(self, connection: aiosqlite.Connection, *, healthy: bool) -> None:
        self.readers.release()
        if healthy and not self.closed:
            self.idle.append(connection)
        else:
            await connection.close()

    async def take_writer(self) -> aiosqlite.Connection:
        """The writer, once the transaction before has ended; waits as long as SQLite's own busy timeout."""
        try:
            async with asyncio.timeout(SQLITE_BUSY_SECONDS):
                await self.write_lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        try:
            if self.writer is None:
                self.writer = await self.engine.get_connection()
            return self.writer
        except BaseException:
            self.write_lock.release()
            raise

    async def give_back_writer(self, *, healthy: bool) -> None:
        try:
            if (not healthy or self.closed) and self.writer is not None:
                writer, self.writer = self.writer, None
                await writer.close()
        finally:
            self.write_lock.release()

    async def close(self) -> None:
        self.closed = True
        idle, self.idle = self.idle, []
        for connection in idle:
            await connection.close()
        if self.writer is not None and not self.write_lock.locked():
            writer, self.writer = self.writer, None
            await writer.close()


class _PooledTransaction(SQLiteTransaction):
    """A transaction on the pool's writer (IMMEDIATE, EXCLUSIVE) or on a reader (DEFERRED, read-only use)."""

    def __init__(self, engine: ReusingSQLiteEngine, pool: _SQLitePool, transaction_type: TransactionType) -> None:
        super().__init__(engine=engine, transaction_type=transaction_type)
        self.pool = pool
        self.writes = transaction_type is not TransactionType.deferred

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await (self.pool.take_writer() if self.writes else self.pool.take_reader())
        try:
            await self.connection.execute(f"BEGIN {self.transaction_type.value}")
        except BaseException:
            await self._give_back(healthy=False)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent is not None:
            return exception is None
        healthy = False
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.connection.execute("ROLLBACK")
            elif not self._committed and not self._rolled_back:
                await self.connection.execute("COMMIT")
            healthy = True
        finally:
            self.engine.current_transaction.reset(self.context)
            await self._give_back(healthy=healthy)
        return exception is None

    async def _give_back(self, *, healthy: bool) -> None:
        if self.writes:
            await self.pool.give_back_writer(healthy=healthy)
        else:
            await self.pool.give_back_reader(self.connection, healthy=healthy)


class ReusingSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, keeping its connections open while its pool is started.

    Piccolo opens a connection (a thread, and a parse of the whole schema) for every query outside a
    transaction. Between start_connection_pool() and close_connection_pool() this engine keeps a few
    reader connections and one writer for write transactions, each opened once with SQLITE_PRAGMAS;
    writers in this process queue for the writer, and other processes (the task worker) meet them at
    SQLite's lock with the busy timeout, as before. Queries from another event loop than the pool's
    (a worker thread's) open their own connection as Piccolo does.
    """

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._pool: _SQLitePool | None = None

    async def start_connection_pool(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool = _SQLitePool(self)

    async def close_connection_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _pool_here(self) -> _SQLitePool | None:
        pool = self._pool
        if pool is None or pool.loop is not asyncio.get_running_loop():
            return None
        return pool

    async def get_connection(self) -> aiosqlite.Connection:
        connecting = aiosqlite.connect(**self.connection_kwargs)
        # A kept connection's thread must not hold the process open when it ends without closing the
        # pool (a crash, a script stopped early); SQLite's journal keeps an unfinished write safe.
        thread = getattr(connecting, "_thread", None)
        if isinstance(thread, threading.Thread):
            thread.daemon = True
        connection = await connecting
        connection.row_factory = dict_factory  # type: ignore[assignment]
        for pragma in SQLITE_PRAGMAS:
            await connection.execute(pragma)
        return connection

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        pool = self._pool_here()
        if pool is None or not allow_nested:
            return super().transaction(transaction_type=transaction_type, allow_nested=allow_nested)
        return _PooledTransaction(self, pool, transaction_type)

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        pool = self._pool_here()
        if pool is None:
            connection = await self.get_connection()
            try:
                return await connection.execute_fetchall(query, args or [])
            finally:
                await connection.close()
        connection = await pool.take_reader()
        healthy = False
        try:
            rows = await connection.execute_fetchall(query, args or [])
            healthy = True
            return rows
        finally:
            await pool.give_back_reader(connection, healthy=healthy)

    async def _run_in_existing_connection(
        self,
        connection: aiosqlite.Connection,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        # Every connection got its PRAGMAs when it opened; Piccolo repeats foreign_keys before each query.
        return await connection.execute_fetchall(query, args or [])


def make_engine(database_url: str) -> Engine[Any]:
    """An engine for ``sqlite:///path`` or ``postgresql://...``."""
    parsed = urlparse(database_url)
    if parsed.scheme == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        if not path.startswith("/"):
            path = os.path.abspath(path)
        return ReusingSQLiteEngine(path=path, timeout=SQLITE_BUSY_SECONDS)
    if parsed.scheme in {"postgres", "postgresql"}:
        return PostgresEngine(config={"dsn": database_url}, log_queries=False)
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgresql://, not {database_url!r}")


def is_sqlite(engine: Engine[Any]) -> TypeGuard[SQLiteEngine]:
    return isinstance(engine, SQLiteEngine)


# The engine bind_tables pointed the tables at: services ask it whether they run on SQLite or PostgreSQL.
_bound: dict[str, Engine[Any]] = {}


def bind_tables(engine: Engine[Any], tables: Iterable[type[Table]]) -> None:
    """Point every table at ``engine``; the entry point passes the tables (``app.piccolo_app.TABLES``)."""
    for table in tables:
        table._meta.db = engine
    _bound["engine"] = engine


def current_engine() -> Engine[Any]:
    return _bound["engine"]


@asynccontextmanager
async def atomic() -> AsyncIterator[Any]:
    """A write transaction: IMMEDIATE on SQLite so writers queue on the busy timeout, not fail."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate) as transaction:
            yield transaction
    else:
        async with engine.transaction() as transaction:
            yield transaction


async def prepare_sqlite(engine: Engine[Any]) -> None:
    """WAL lets readers work while one writer writes; the setting is kept in the database file."""
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def start(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10)
    elif isinstance(engine, ReusingSQLiteEngine):
        await prepare_sqlite(engine)
        await engine.start_connection_pool()


async def stop(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine | ReusingSQLiteEngine):
        await engine.close_connection_pool()


async def insert_many(
    table: Any, rows: Sequence[dict[str, Any]], *, key: Column, update: Sequence[Column] = ()
) -> None:
    """Insert rows by natural ``key`` in one prepared statement run for every row (the driver's executemany).

    For bulk imports, where building a Piccolo object and a query per row costs more than the database
    work. Existing rows get the ``update`` columns from the new values, or are left alone. Must run inside
    ``atomic()``: it uses that transaction's connection. Missing keys take the column's default.
    """
    if not rows:
        return
    engine = table._meta.db
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("insert_many runs inside atomic()")
    names = list(dict.fromkeys(name for row in rows for name in row))
    defaults = {column._meta.name: column for column in table._meta.columns}
    fill = {name: defaults[name].get_default_value() for name in names}
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" if is_sqlite(engine) else f"${n}" for n in range(1, len(names) + 1))
    action = "DO NOTHING"
    if update:
        action = "DO UPDATE SET " + ", ".join(f'"{c._meta.name}" = EXCLUDED."{c._meta.name}"' for c in update)
    # Only the table's own column names reach the text (an unknown key fails the lookup above); values are bound.
    sql = (
        f'INSERT INTO "{table._meta.tablename}" ({columns}) VALUES ({marks}) '  # noqa: S608
        f'ON CONFLICT ("{key._meta.name}") {action}'
    )
    values = [tuple(row.get(name, fill[name]) for name in names) for row in rows]
    await transaction.connection.executemany(sql, values)
