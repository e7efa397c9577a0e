"""Database engines for SQLite and PostgreSQL, table binding and write transactions."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlparse

import aiosqlite
from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString
from piccolo.table import Table

# Seconds a SQLite writer waits for the lock before "database is locked"; writers queue instead.
SQLITE_BUSY_SECONDS = 30
# Connections kept open for reads on SQLite: more would not run faster on a small server, as each
# query holds a core while it runs.
SQLITE_READERS = 4
# Set on every SQLite connection when it opens. NORMAL is safe in WAL mode: a power cut may lose the
# last commits but never corrupts the file.
SQLITE_PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL")


# Statements that change nothing; anything else (and a WITH that writes) counts as a change of the data.
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "SHOW", "VALUES")
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE|TRUNCATE|ALTER|DROP|CREATE)\b", re.IGNORECASE)


# Writes to a table no kept part shows do not move the version: a signed-in reader's session is touched
# once a minute, which would otherwise make every kept page of every reader stale each minute.
_UNSHOWN_WRITE = re.compile(r'^(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"?STAFF_SESSION"?[\s(]')


def _writes(query: str) -> bool:
    head = query.lstrip(" \t\r\n(").upper()
    if head.startswith(_READS) or _UNSHOWN_WRITE.match(head):
        return False
    if head.startswith("WITH"):
        return _WRITE_WORD.search(query) is not None
    return True


class DataChanges:
    """The data's version in this process and on this machine: it moves after every committed write.

    Every engine the app makes counts its own writes (a statement outside a transaction once it ran, a
    transaction's once it committed: never before, so a reader that sees a new version reads the new
    data) and touches a marker file that the other processes on the machine (server workers, the task
    worker, the command line) compare by time. A page rendered from data read after ``version()`` may
    be kept under that version: a later write changes it. Without a marker (no data folder known) there
    is no version, and nothing may be kept.
    """

    def __init__(self, marker: Path | None) -> None:
        self.marker = marker
        self.local = 0

    def changed(self) -> None:
        self.local += 1
        if self.marker is None:
            return
        stamp = max(time.time_ns(), _mtime_ns(self.marker) + 1)
        try:
            self.marker.touch()
            os.utime(self.marker, ns=(stamp, stamp))
        except OSError:
            self.marker = None  # an unwritable folder: keep nothing rather than miss a change

    def version(self) -> tuple[int, int] | None:
        if self.marker is None:
            return None
        return self.local, _mtime_ns(self.marker)


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def data_changes(engine: Engine[Any]) -> DataChanges:
    """The engine's change counter (an engine made elsewhere, as by Piccolo's tools, has none: no version)."""
    found = getattr(engine, "changes", None)
    return found if isinstance(found, DataChanges) else DataChanges(None)


def marker_path(engine: Engine[Any], name: str) -> Path | None:
    """A file that this machine's processes touch to tell each other ``name`` happened: beside a SQLite
    file, or in the data folder of a PostgreSQL engine (None for an engine without one)."""
    if isinstance(engine, SQLiteEngine):
        return Path(f"{engine.path}.{name}")
    folder = getattr(engine, "marker_folder", None)
    return folder / f"crossclaim.{name}" if isinstance(folder, Path) else None


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
            _count_transaction(self)
        return exception is None

    async def _give_back(self, *, healthy: bool) -> None:
        if self.writes:
            await self.pool.give_back_writer(healthy=healthy)
        else:
            await self.pool.give_back_reader(self.connection, healthy=healthy)


def wrote_in_transaction(engine: Engine[Any]) -> None:
    """The running transaction changed data: its end counts as a change (see DataChanges)."""
    transaction = engine.current_transaction.get()
    if transaction is not None:
        transaction.crossclaim_wrote = True


def _count_transaction(transaction: Any) -> None:
    """At the end of an outermost transaction that wrote (committed or not: counting too often is safe)."""
    if getattr(transaction, "crossclaim_wrote", False):
        transaction.crossclaim_wrote = False
        data_changes(transaction.engine).changed()


class _CountsWrites:
    """Mixed into Piccolo's transactions: an outermost one that wrote counts a change when it ends."""

    _parent: Any

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        try:
            return bool(await super().__aexit__(exception_type, exception, traceback))  # type: ignore[misc]
        finally:
            if self._parent is None:
                _count_transaction(self)


class _CountedSQLiteTransaction(_CountsWrites, SQLiteTransaction):
    """Piccolo's own SQLite transaction, used while no pool runs."""


class _CountedPostgresTransaction(_CountsWrites, PostgresTransaction):
    """Piccolo's PostgreSQL transaction."""


class CountingPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine, counting committed writes in ``changes`` (see DataChanges).

    The marker file lives in the data folder, shared by the server and the task worker on this machine.
    """

    def __init__(self, *args: Any, marker_folder: Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marker_folder = marker_folder
        self.changes = DataChanges(marker_path(self, "data-changed"))
        self.pool_size = 10  # the most connections its pool opens (make_engine sets it from the settings)

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return _CountedPostgresTransaction(engine=self, allow_nested=allow_nested)

    async def run_querystring(self, querystring: QueryString, in_pool: bool = True) -> Any:
        # Piccolo's own, with the statement compiled once for both the run and the count.
        query, query_args = querystring.compile_string(engine_type=self.engine_type)
        transaction = self.current_transaction.get()
        if transaction:
            running = transaction.connection.fetch(query, *query_args)
        elif in_pool and self.pool:
            running = self._run_in_pool(query, query_args)
        else:
            running = self._run_in_new_connection(query, query_args)
        return await self._counted(query, running)

    async def run_ddl(self, ddl: str, in_pool: bool = True) -> Any:
        return await self._counted(ddl, super().run_ddl(ddl, in_pool=in_pool))

    async def _counted(self, query: str, running: Any) -> Any:
        if not _writes(query):
            return await running
        if self.current_transaction.get() is not None:
            wrote_in_transaction(self)
            return await running
        try:
            return await running
        finally:
            self.changes.changed()


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
        self.changes = DataChanges(Path(f"{path}.data-changed"))

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
            return _CountedSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)
        return _PooledTransaction(self, pool, transaction_type)

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        pool = self._pool_here()
        writes = _writes(query)
        try:
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
        finally:
            if writes:  # after it ran (or failed part-way): a change is never counted before it is visible
                self.changes.changed()

    async def _run_in_existing_connection(
        self,
        connection: aiosqlite.Connection,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        # Every connection got its PRAGMAs when it opened; Piccolo repeats foreign_keys before each query.
        if _writes(query):
            wrote_in_transaction(self)
        return await connection.execute_fetchall(query, args or [])


def make_engine(
    database_url: str, *, data_dir: Path | None = None, pool_size: int = 10, statement_cache: int = 500
) -> Engine[Any]:
    """An engine for ``sqlite:///path`` or ``postgresql://...``.

    ``data_dir`` is where a PostgreSQL engine keeps the marker files this machine's processes share (a
    SQLite engine keeps them beside its file); without one, nothing read from PostgreSQL is kept.
    ``pool_size`` and ``statement_cache`` size a PostgreSQL engine's pool and each connection's prepared
    statements (asyncpg prepares every query it runs and keeps that many per connection).
    """
    parsed = urlparse(database_url)
    if parsed.scheme == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        if not path.startswith("/"):
            path = os.path.abspath(path)
        return ReusingSQLiteEngine(path=path, timeout=SQLITE_BUSY_SECONDS)
    if parsed.scheme in {"postgres", "postgresql"}:
        config = {"dsn": database_url, "statement_cache_size": max(statement_cache, 0)}
        engine = CountingPostgresEngine(config=config, log_queries=False, marker_folder=data_dir)
        engine.pool_size = max(pool_size, 1)
        return engine
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


async def refresh_statistics(engine: Engine[Any] | None = None, *, every_table: bool = False) -> list[str]:
    """Fresh planner statistics for the tables whose rows moved a lot since they were last measured.

    Without them the planners guess, and guess wrong at 100,000 cases: PostgreSQL took the board's 85,714
    open clocks for 113 and sorted them all (170 ms instead of walking its index, 7 ms). PostgreSQL's
    autovacuum keeps them fresh where it is on; where it is off (it was on the machine we measured on), a
    table is analysed once a tenth of its rows (+ 50) changed, autovacuum's own rule, or every table with
    ``every_table`` (after an import: its rows are not in the server's counters until its connection
    reports them). SQLite measures nothing by itself, and its ``PRAGMA optimize`` only re-measures all
    tables from 3.46 on: every call analyses the whole database (0.2 s per 100,000 cases). Run by the
    worker every hour and after a large import, never by a page. Returns the tables analysed (``["*"]``:
    all of them).
    """
    engine = engine or current_engine()
    if is_sqlite(engine) or every_table:
        await engine.run_ddl("ANALYZE")
        return ["*"]
    moved = await engine.run_ddl(
        "SELECT schemaname, relname FROM pg_stat_user_tables "
        "WHERE schemaname = ANY(current_schemas(false)) AND n_mod_since_analyze > 50 + 0.1 * n_live_tup "
        "ORDER BY schemaname, relname"
    )
    names = []
    for row in moved:
        schema, name = (str(row[key]).replace('"', '""') for key in ("schemaname", "relname"))
        await engine.run_ddl(f'ANALYZE "{schema}"."{name}"')
        names.append(row["relname"])
    return names


async def prepare_sqlite(engine: Engine[Any]) -> None:
    """WAL lets readers work while one writer writes; the setting is kept in the database file."""
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def start(engine: Engine[Any]) -> None:
    if isinstance(engine, CountingPostgresEngine):
        await engine.start_connection_pool(min_size=min(2, engine.pool_size), max_size=engine.pool_size)
    elif isinstance(engine, PostgresEngine):
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
    wrote_in_transaction(engine)
    await transaction.connection.executemany(sql, values)
