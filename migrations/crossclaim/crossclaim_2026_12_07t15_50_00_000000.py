"""import_value_map: the company's own words for problem types, parties, remedies and transport modes,
mapped once on an import's preview (or with the CLI's --map) and read the same way by every later import.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-07T15:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import value mappings kept for the company"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crossclaim", description=DESCRIPTION)

    async def install() -> None:
        engine = engine_finder()
        assert engine is not None

        # The table as it is at this migration (the app's class may change later), on either engine.
        class ImportValueMap(Table, tablename="import_value_map", db=engine):
            key = Varchar(length=260, unique=True)
            field = Varchar(length=40)
            value = Varchar(length=200)
            code = Varchar(length=40)
            updated_at = Timestamptz(default=TimestamptzNow())

        await ImportValueMap.create_table(if_not_exists=True)

    manager.add_raw(install)
    return manager
