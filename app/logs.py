"""Structured JSON log lines with UTC time and the request id, safe against forged lines."""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

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


# The most bytes one write to a pipe puts there whole (POSIX PIPE_BUF on Linux).
_ATOMIC_WRITE = 4096


class AccessLog:
    """One JSON line per answered request, in the shape of the other log lines, written in batches.

    The logging module costs about a fifth of a small page's time per call (a record, the formatter, a
    write and a flush under a lock, all on the event loop's thread). A request here only appends a tuple;
    a thread writes what has gathered every ``interval`` seconds (and at exit) with one write, and the
    request's own thread writes when ``limit`` lines are waiting, so memory stays bounded. The lines keep
    the request's time, so a late write does not move them. Written to standard error, like the rest.
    """

    logger = "crossclaim.access"

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.5, limit: int = 2000) -> None:
        self.stream = stream
        self.interval = interval
        self.limit = limit
        self._pending: deque[tuple[Any, ...]] = deque()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        # A server that forks its workers: each child starts its own writer on its first request.
        os.register_at_fork(after_in_child=self._forget_writer)

    def enabled(self) -> bool:
        return logging.getLogger(self.logger).isEnabledFor(logging.INFO)

    def record(self, *, method: Any, path: str, status: int, ms: float, ip: str, request_id: str) -> None:
        self._pending.append((time.time(), method, path, status, ms, ip, request_id))
        if self._writer is None:
            self._start()
        if len(self._pending) >= self.limit:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines = []
            while self._pending:
                at, method, path, status, ms, ip, request_id = self._pending.popleft()
                entry = {
                    "time": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
                    "level": "INFO",
                    "logger": self.logger,
                    "message": "request",
                    "request_id": request_id,
                    "method": method,
                    "path": redacted(path),
                    "status": status,
                    "ms": ms,
                    "ip": ip,
                }
                lines.append(json.dumps(entry, default=str, ensure_ascii=False))
            if lines:
                self._write(lines)

    def _write(self, lines: list[str]) -> None:
        """In pieces of whole lines no larger than an atomic pipe write (4 KiB), so a line of another
        process sharing the stream (the server's parent, the task worker) never lands inside one of ours."""
        stream = self.stream or sys.stderr
        piece: list[str] = []
        size = 0
        for line in lines:
            if piece and size + len(line) + 1 > _ATOMIC_WRITE:
                stream.write("\n".join(piece) + "\n")
                stream.flush()
                piece, size = [], 0
            piece.append(line)
            size += len(line.encode()) + 1
        if piece:
            stream.write("\n".join(piece) + "\n")
            stream.flush()

    def _start(self) -> None:
        with self._lock:
            if self._writer is not None:
                return
            self._writer = threading.Thread(target=self._write_forever, name="access-log", daemon=True)
            self._writer.start()
        atexit.register(self.flush)

    def _forget_writer(self) -> None:
        self._writer = None
        self._lock = threading.Lock()
        self._pending.clear()  # the parent's lines are the parent's to write

    def _write_forever(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a closed stream must not end the writer; the next batch tries again
                logging.getLogger(__name__).exception("access log write failed")


access_log = AccessLog()


security_log = logging.getLogger("crossclaim.security")


def security_event(event: str, **fields: Any) -> None:
    """A login, link use, denial, CSRF failure, upload rejection or rate limit, for the audit."""
    security_log.info(event, extra={"event": event, "ip": client_ip_var.get(), **fields})
