"""The running app's Jinja environment, for what a request renders outside a page (PDFs, mail fragments)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from litestar import Request


def request_environment(request: Request[Any, Any, Any]) -> Environment:
    """The app's own environment: a PDF made in a request uses the same filters and translations as the pages."""
    engine = request.app.template_engine
    if engine is None or not isinstance(engine.engine, Environment):
        raise RuntimeError("the app has no Jinja template engine")
    return engine.engine
