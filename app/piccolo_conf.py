"""Piccolo's configuration module (named by PICCOLO_CONF): the engine for migrations and the CLI."""

from piccolo.conf.apps import AppRegistry

from app.db import make_engine
from app.settings import Settings

# Piccolo imports this module by name, so the engine is built here from the same settings object
# every entry point uses; the web app and the worker bind their own engine via app.db.bind_tables.
DB = make_engine(Settings.from_env().database_url)

APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
