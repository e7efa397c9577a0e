"""Apply Piccolo migrations forwards on the database named by the settings."""

from __future__ import annotations

import os

from app import db
from app.settings import Settings


async def migrate(settings: Settings) -> int:
    """Run every pending migration; returns how many were applied."""
    # Piccolo's migration runner finds its engine through PICCOLO_CONF, which reads the environment.
    os.environ["PICCOLO_CONF"] = "app.piccolo_conf"
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["CROSSCLAIM_DATA_DIR"] = str(settings.data_dir)
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
    from piccolo.apps.migrations.tables import Migration
    from piccolo.conf.apps import Finder

    engine = Finder().get_engine()
    if engine is None:
        raise RuntimeError("Piccolo found no engine")
    await db.prepare_sqlite(engine)
    await Migration.create_table(if_not_exists=True)
    before = await Migration.count()
    manager = ForwardsMigrationManager(app_name="crossclaim", migration_id="all", fake=False)
    response = await manager.run()
    if not response.success:
        raise RuntimeError(f"migration failed: {response.message}")
    return int(await Migration.count()) - int(before)
