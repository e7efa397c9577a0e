from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T04:30:41:748088"
VERSION = "1.38.0"
DESCRIPTION = "StageDeadline.next_check_at for the reminder sweep"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="crossclaim", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="StageDeadline",
        tablename="stage_deadline",
        column_name="next_check_at",
        db_column_name="next_check_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
