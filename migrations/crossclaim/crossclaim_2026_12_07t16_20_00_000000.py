"""Sender verification of inbound mail: the receiving server's SPF/DKIM/DMARC verdicts on the mail and,
when they failed, on the message posted from it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T16:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inbound_mail.authentication and message.sender_check"

STATEMENTS = [
    "ALTER TABLE inbound_mail ADD COLUMN authentication VARCHAR(200) NOT NULL DEFAULT ''",
    "ALTER TABLE message ADD COLUMN sender_check VARCHAR(200) NOT NULL DEFAULT ''",
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
