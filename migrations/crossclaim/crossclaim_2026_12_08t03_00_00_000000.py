"""The stage clocks' finished_at index covers finished clocks only (WHERE finished_at IS NOT NULL).

The board asks for open clocks (finished_at IS NULL) soonest due first and has its own partial index for
that (stage_deadline_open_due). Without statistics, SQLite's planner took the plain finished_at index for
the IS NULL test instead, read every open clock (85,714 at 100,000 cases), joined each to its case and
sorted them all to keep 600: 120 ms, where walking the partial index in due order and stopping at 600
takes 7 ms. Finished clocks are only ever searched by range (analytics' windows, "finished after"), which
the partial index still serves on both engines.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-08T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the stage clocks' finished_at index holds finished clocks only"

STATEMENTS = [
    "DROP INDEX IF EXISTS stage_deadline_finished_at",
    "CREATE INDEX IF NOT EXISTS stage_deadline_finished ON stage_deadline (finished_at) WHERE finished_at IS NOT NULL",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager
