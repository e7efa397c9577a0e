"""Indexes for the case grid at 100,000 cases and more: a node filter walks (node, created_at) in order
and stops at the page's end instead of sorting every case in the node; the region filter's choices are
read from an index instead of the table.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the case grid's node filter and region choices"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS after_sales_case_node_created ON after_sales_case (node, created_at)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_region ON after_sales_case (region)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(install)
    return manager
