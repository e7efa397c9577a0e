"""Each plan round names the counterparty it is between us and: a party accepts only what we proposed to it.

Earlier rounds are filled in: a party's own round is between it and us; ours went to the party we last sent
the case to.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T15:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "plan rounds name their counterparty"

STATEMENTS = [
    "ALTER TABLE plan_proposal ADD COLUMN party VARCHAR(20) NOT NULL DEFAULT ''",
    "UPDATE plan_proposal SET party = proposed_by WHERE proposed_by <> 'us'",
    """UPDATE plan_proposal SET party = COALESCE((
        SELECT access_link.party FROM access_link
        WHERE access_link."case" = plan_proposal."case" AND access_link.party IN ('supplier', 'carrier')
        ORDER BY access_link.id DESC LIMIT 1), '')
    WHERE proposed_by = 'us'""",
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
