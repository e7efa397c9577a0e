"""playbook: each supplier's and carrier's claim rules (contacts, required evidence, notice window, minimum
claim, remedies, expected answer time); saved_reply: handlers' saved answers per language.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-07T19:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "supplier and carrier playbooks; saved replies"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None

        # The tables as they are at this migration (the app's classes may change later), on either engine.
        class Playbook(Table, tablename="playbook", db=engine):
            party_kind = Varchar(length=20)
            party_id = Integer()
            contacts = JSON(default="[]")
            evidence = JSON(default="[]")
            window_days = Integer(null=True, default=None)
            window_from = Varchar(length=20, default="delivery")
            window_counting = Varchar(length=20, default="calendar")
            minimum_value = Numeric(digits=(14, 2), null=True, default=None)
            minimum_currency = Varchar(length=3, default="")
            remedies = JSON(default="[]")
            answer_hours = Integer(null=True, default=None)
            notes = Text(default="")
            updated_at = Timestamptz(default=TimestamptzNow())
            updated_by = Varchar(length=200, default="")

        class SavedReply(Table, tablename="saved_reply", db=engine):
            language = Varchar(length=10, default="en", index=True)
            title = Varchar(length=200)
            body = Text()
            created_by = Varchar(length=200, default="")
            created_at = Timestamptz(default=TimestamptzNow())

        await Playbook.create_table(if_not_exists=True)
        await SavedReply.create_table(if_not_exists=True)
        await engine.run_ddl("CREATE UNIQUE INDEX IF NOT EXISTS playbook_party ON playbook (party_kind, party_id)")

    manager.add_raw(install)
    return manager
