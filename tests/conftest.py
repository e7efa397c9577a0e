"""Shared fixtures: a fresh database per run (SQLite or PostgreSQL), the app, clients and users."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = os.environ.get("TEST_ENGINE", "sqlite")
POSTGRES_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _postgres(sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crossclaim-data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """A brand-new database for this run, migrated forwards by the real `crossclaim migrate`."""
    if ENGINE == "postgres":
        name = f"crossclaim_test_{uuid.uuid4().hex[:10]}"
        _postgres(f'CREATE DATABASE "{name}"')
        url = f"{POSTGRES_BASE}/{name}"
    else:
        url = f"sqlite:///{data_dir / 'test.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "CROSSCLAIM_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)
    yield url
    if ENGINE == "postgres":
        _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str) -> Any:
    from app.settings import Settings

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=REDIS_URL if ENGINE == "postgres" else "",
        secret_key="test-secret-key-" + "x" * 32,
        base_url="http://testserver",
        log_level="WARNING",
    ).resolved()


@pytest.fixture(scope="session", autouse=True)
def bound_engine(settings: Any) -> Any:
    from app import db
    from app.cases.events import configure_audit_key
    from app.piccolo_app import TABLES
    from app.startup import wire_contexts

    configure_audit_key(settings.secret_key)  # as every entry point does
    wire_contexts()

    engine = db.make_engine(settings.database_url, data_dir=settings.marker_dir)
    db.bind_tables(engine, TABLES)
    return engine


@pytest.fixture(autouse=True)
async def clean_database(bound_engine: Any) -> AsyncIterator[None]:
    """Every test starts from empty tables (cheaper than a new database, and as real).

    The test's own loop gets the engine's connection pool, as the app has while it runs: a connection
    per query would make the suite several times slower.
    """
    if ENGINE == "postgres":
        await bound_engine.start_connection_pool(min_size=1, max_size=10)
    else:
        await bound_engine.start_connection_pool()
    yield
    from app import db
    from app.accounts.services import forget_sessions
    from app.cases.selectors import forget_node_counts
    from app.piccolo_app import TABLES

    forget_sessions()
    forget_node_counts()
    from app.queue import huey

    huey.flush()  # a task one test queued and never worked off must not run in the next
    db.bind_tables(bound_engine, TABLES)
    names = [table._meta.tablename for table in TABLES]
    if ENGINE == "postgres":
        await bound_engine.run_ddl(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
    else:
        # The append-only triggers let maintenance through while audit_maintenance holds a row.
        await bound_engine.run_ddl("INSERT OR IGNORE INTO audit_maintenance (id) VALUES (1)")
        for name in reversed(names):
            await bound_engine.run_ddl(f"DELETE FROM {name}")
        await bound_engine.run_ddl("DELETE FROM audit_maintenance")
        sequences = await bound_engine.run_ddl("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if sequences:
            await bound_engine.run_ddl("DELETE FROM sqlite_sequence")
    await bound_engine.close_connection_pool()


def run_as_worker(database_url: str, task: Any) -> None:
    """What `crossclaim worker` does with a task: in its own thread, with its own engine (the test's pool
    belongs to the test's loop)."""
    from app import db
    from app.piccolo_app import TABLES
    from app.queue import huey

    original = db.current_engine()
    db.bind_tables(db.make_engine(database_url), TABLES)
    try:
        huey.execute(task)
    finally:
        db.bind_tables(original, TABLES)


async def work_off_queue() -> int:
    """Run what is queued, one task after another, as the worker would; answers how many ran."""
    import asyncio

    from app.queue import huey, queue_settings

    ran = 0
    while (task := huey.dequeue()) is not None:
        await asyncio.get_running_loop().run_in_executor(None, run_as_worker, queue_settings().database_url, task)
        ran += 1
    return ran


@pytest.fixture
def app(settings: Any, bound_engine: Any) -> Any:
    from app.asgi import create_app

    return create_app(settings, engine=bound_engine)


def asgi_client(app: Any) -> Any:
    """An httpx client calling the app in the test's own event loop.

    Litestar's AsyncTestClient runs the app in a separate thread's loop; the tests' own queries run in
    the test loop, and a PostgreSQL pool must not be shared across loops. Without lifespan no pool is
    started here: each query gets its own connection (the live-server browser tests run with the pool).
    """
    import httpx

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    async with asgi_client(app) as test_client:
        yield test_client


PASSWORD = "correct-horse-9"


@pytest.fixture
def make_user() -> Any:
    from app.accounts.services import user_add

    async def make(role: str = "handler", email: str | None = None, **extra: Any) -> Any:
        return await user_add(
            email=email or f"{role}-{uuid.uuid4().hex[:6]}@example.com", role=role, password=PASSWORD, **extra
        )

    return make


async def csrf_token(client: Any) -> str:
    """The CSRF token the pages would embed: fetch a page once so the cookie is set."""
    if "csrftoken" not in client.cookies:
        await client.get("/login")
    return str(client.cookies["csrftoken"])


async def in_another_process(settings: Any, work: str, *args: str) -> None:
    """Run ``work`` (statements; ``args`` in sys.argv[1:]) in a new process bound to the test database the
    way every entry point binds it (its data folder included), with the engine's pool started."""
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from app import db\n"
        "from app.piccolo_app import TABLES\n"
        "engine = db.make_engine(sys.argv.pop(1), data_dir=Path(sys.argv.pop(1)))\n"
        "db.bind_tables(engine, TABLES)\n"
        "async def main():\n"
        "    await db.start(engine)\n"
        "    try:\n" + "".join(f"        {line}\n" for line in work.splitlines()) + "    finally:\n"
        "        await db.stop(engine)\n"
        "asyncio.run(main())\n"
    )
    command = [sys.executable, "-c", script, settings.database_url, str(settings.data_dir), *args]
    done = await asyncio.to_thread(subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def sign_in(client: Any, user: Any, password: str = PASSWORD) -> Any:
    token = await csrf_token(client)
    response = await client.post(
        "/login", data={"email": user.email, "password": password, "next": "/cases", "_csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return response


@pytest.fixture
def tokens_kept_out_of_logs(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every log line the test writes, as the JSON formatter writes it, must hold no link token it issued.

    Set up after the app, which configures logging (and would remove this handler).
    Tokens are recorded as the real minting function returns them; a tampered copy shares all but its
    last character, so the first 40 are looked for.
    """
    import io
    import logging

    from app.collaboration import links
    from app.logs import JsonFormatter, access_log

    issued: list[str] = []
    mint = links.new_token

    def recorded() -> str:
        issued.append(mint())
        return issued[-1]

    monkeypatch.setattr(links, "new_token", recorded)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    access_log.flush()
    monkeypatch.setattr(access_log, "stream", io.StringIO())  # access lines are written apart, in batches
    try:
        yield issued
        logging.getLogger("crossclaim.probe").debug("the log is captured")
        access_log.record(method="GET", path="/probe", status=200, ms=0.0, ip="-", request_id="probe")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        access_log.flush()
    lines += access_log.stream.getvalue().splitlines()
    assert any("the log is captured" in line for line in lines), "the test replaced the log handler"
    assert any('"/probe"' in line for line in lines), "the test replaced the access log's stream"
    leaked = [line for line in lines for token in issued if token[:40] in line]
    assert not leaked, leaked


@pytest.fixture
def login(client: Any, make_user: Any) -> Any:
    async def as_role(role: str = "handler") -> Any:
        user = await make_user(role)
        await sign_in(client, user)
        return user

    return as_role


@pytest.fixture
def queries(bound_engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement the engine runs from here on, to hold a page to its query budget."""
    seen: list[str] = []
    engine_class = type(bound_engine)
    run_querystring = engine_class.run_querystring
    run_ddl = engine_class.run_ddl

    async def counted_querystring(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(querystring))
        return await run_querystring(self, querystring, *args, **kwargs)

    async def counted_ddl(self: Any, ddl: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(ddl)
        return await run_ddl(self, ddl, *args, **kwargs)

    monkeypatch.setattr(engine_class, "run_querystring", counted_querystring)
    monkeypatch.setattr(engine_class, "run_ddl", counted_ddl)
    return seen
