"""Indexes for the case grid's filters with its sorts at 100,000 cases and more: a filter on node,
problem type or region sorted by case number or report time walks one index in order and stops at the
page's end, instead of sorting every case the filter matches; the unfiltered grid sorted by report
time walks created_at. (region, created_at) also serves the region choices, so the region index goes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T16:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the case grid's filters with its sorts"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS after_sales_case_created ON after_sales_case (created_at)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_node_number ON after_sales_case (node, number)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_problem_created ON after_sales_case (problem_type, created_at)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_problem_number ON after_sales_case (problem_type, number)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_region_created ON after_sales_case (region, created_at)",
    "CREATE INDEX IF NOT EXISTS after_sales_case_region_number ON after_sales_case (region, number)",
    "DROP INDEX IF EXISTS after_sales_case_region",
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
