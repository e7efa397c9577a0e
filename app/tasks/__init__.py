"""The task queue (Huey) and every task the worker runs."""

from app.queue import configure_queue, huey

__all__ = ["configure_queue", "huey"]
