"""The task queue (Huey) and every task the worker runs."""

from app.tasks.queue import configure_queue, huey

__all__ = ["configure_queue", "huey"]
