"""One successor per timeline event: (case, prev_hash) is unique, so two writers cannot fork a case's chain."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (case, prev_hash) on case_event"

INDEXES = ['CREATE UNIQUE INDEX IF NOT EXISTS case_event_case_prev_hash ON case_event ("case", prev_hash)']


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager
