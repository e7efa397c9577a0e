"""A staff session remembers the device it was opened on and whether it is kept past closing the browser.

A kept session (ticked "Keep me signed in on this device", a warehouse phone) has a cookie that lasts
until the session's absolute limit; either way the idle and absolute limits end it on the server.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "staff sessions remember their device and whether they are kept"

STATEMENTS = [
    "ALTER TABLE staff_session ADD COLUMN user_agent VARCHAR(200) NOT NULL DEFAULT ''",
    "ALTER TABLE staff_session ADD COLUMN kept BOOLEAN NOT NULL DEFAULT false",
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
