"""PostgreSQL: the analytics triggers' dirty marks lock an existing mark (`ON CONFLICT … DO UPDATE`), so a
refresh running beside a write cannot drop the mark and leave the day's sums without that write.

The functions are the ones the 07:15 migration now creates; this replaces them in databases that ran the
earlier version of it. SQLite needs nothing: its writers never overlap.
"""

import importlib.util
from pathlib import Path

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-26T07:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics dirty marks lock an existing mark on PostgreSQL"


def _daily_sums_migration() -> object:
    path = Path(__file__).with_name("crossclaim_2026_11_26t07_15_00_000000.py")
    spec = importlib.util.spec_from_file_location("crossclaim_daily_sums", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        if isinstance(engine, SQLiteEngine):
            return
        for statement in _daily_sums_migration().PG_FUNCTIONS:  # type: ignore[attr-defined]
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager
