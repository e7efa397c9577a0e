"""The cases a corrective action answers: set with their root cause, from the grid or a group of the
root-cause page; one row per (action, case).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-07T19:23:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "corrective actions linked to the cases they answer"

SQLITE = [
    """CREATE TABLE IF NOT EXISTS corrective_action_case (
        id INTEGER PRIMARY KEY,
        action INTEGER NOT NULL REFERENCES corrective_action (id) ON DELETE CASCADE,
        "case" INTEGER NOT NULL REFERENCES after_sales_case (id) ON DELETE RESTRICT,
        linked_at TIMESTAMPTZ NOT NULL)""",
]

POSTGRES = [
    """CREATE TABLE IF NOT EXISTS corrective_action_case (
        id SERIAL PRIMARY KEY,
        action INTEGER NOT NULL REFERENCES corrective_action (id) ON DELETE CASCADE,
        "case" INTEGER NOT NULL REFERENCES after_sales_case (id) ON DELETE RESTRICT,
        linked_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
]

COMMON = [
    'CREATE UNIQUE INDEX IF NOT EXISTS corrective_action_case_once ON corrective_action_case (action, "case")',
    'CREATE INDEX IF NOT EXISTS corrective_action_case_case ON corrective_action_case ("case")',
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in [*(SQLITE if isinstance(engine, SQLiteEngine) else POSTGRES), *COMMON]:
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager
