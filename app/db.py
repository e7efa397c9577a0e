"""Database engines for SQLite and PostgreSQL, table binding and write transactions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

# Seconds a SQLite writer waits for the lock before "database is locked"; writers queue instead.
SQLITE_BUSY_SECONDS = 30


def make_engine(database_url: str) -> Engine[Any]:
    """An engine for ``sqlite:///path`` or ``postgresql://...``."""
    parsed = urlparse(database_url)
    if parsed.scheme == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        if not path.startswith("/"):
            path = os.path.abspath(path)
        return SQLiteEngine(path=path, timeout=SQLITE_BUSY_SECONDS)
    if parsed.scheme in {"postgres", "postgresql"}:
        return PostgresEngine(config={"dsn": database_url}, log_queries=False)
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgresql://, not {database_url!r}")


def is_sqlite(engine: Engine[Any]) -> bool:
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
        await engine.run_ddl("PRAGMA synchronous=NORMAL")


async def start(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10)
    else:
        await prepare_sqlite(engine)


async def stop(engine: Engine[Any]) -> None:
    if isinstance(engine, PostgresEngine):
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
