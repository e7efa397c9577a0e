"""Database engines for SQLite and PostgreSQL, table binding and write transactions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

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


def bind_tables(engine: Engine[Any]) -> None:
    """Point every table at ``engine`` (the app and the worker choose theirs from settings)."""
    from app.piccolo_app import TABLES

    for table in TABLES:
        table._meta.db = engine


def current_engine() -> Engine[Any]:
    from app.accounts.tables import User

    return User._meta.db


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
