"""Structured JSON log lines with UTC time and the request id, safe against forged lines."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
# The client address of the request being answered, so every security line names it.
client_ip_var: ContextVar[str] = ContextVar("client_ip", default="-")

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# Magic-link addresses (/l/<token>, /t/<token>) carry the secret itself: a log reader would hold the link.
_SECRET_PATH = re.compile(r"/([lt])/[A-Za-z0-9_\-]+")


def redacted(text: str) -> str:
    """``text`` with the token of every magic-link path replaced by an ellipsis (``/l/…``)."""
    return _SECRET_PATH.sub(r"/\1/…", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; json.dumps escapes CR/LF, so input cannot start a new log line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redacted(record.getMessage()),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = redacted(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redacted(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Uvicorn's access log prints query strings (where magic-link tokens may be): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True


security_log = logging.getLogger("crossclaim.security")


def security_event(event: str, **fields: Any) -> None:
    """A login, link use, denial, CSRF failure, upload rejection or rate limit, for the audit."""
    security_log.info(event, extra={"event": event, "ip": client_ip_var.get(), **fields})
