"""The Huey instance every task binds to, configured from settings by each entry point rather than at import."""

from __future__ import annotations

from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from app.settings import Settings

# Tasks bind to this object when their modules are imported; its storage is chosen later by
# configure_queue(), so importing the app never reads the environment or opens a database.
huey = Huey("crossclaim", storage_class=MemoryStorage, utc=True)
# The settings the queue was configured with: a task reads the process's settings from here.
_configured: list[Settings] = []


def configure_queue(settings: Settings, *, immediate: bool = False) -> Huey:
    """Redis when REDIS_URL is set, else a SQLite file in the data dir; immediate runs tasks inline."""
    if settings.redis_url:
        huey.storage_class = RedisStorage
        huey.storage_kwargs = {"url": settings.redis_url}
    else:
        huey.storage_class = SqliteStorage
        huey.storage_kwargs = {"filename": str(settings.data_dir / "queue.sqlite3")}
    huey._immediate = immediate
    huey.storage = huey.create_storage()
    _configured[:] = [settings]
    return huey


def queue_settings() -> Settings:
    """The settings of the process that runs a task (the worker's; the app's when a test works the queue off)."""
    if not _configured:
        raise RuntimeError("the task queue is not configured: call app.startup.configure_process() at start")
    return _configured[0]


def queue_status() -> dict[str, object]:
    """For /healthz: whether the queue storage answers, and how much is waiting."""
    try:
        return {"status": "ok", "pending": huey.pending_count(), "scheduled": huey.scheduled_count()}
    except Exception as error:
        return {"status": "error", "error": type(error).__name__}
