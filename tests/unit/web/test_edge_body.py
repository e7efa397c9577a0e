"""An answer given before the app read the request's body: the edge reads the rest of the upload first.

A browser whose upload is cut off by an early answer (a signed-out phone's report refused by the role guard
before its photos were read) reports a network error instead of the answer.
"""

from __future__ import annotations

from typing import Any

from app.evidence.services import UPLOAD_BODY_LIMIT
from app.web.middleware import EdgeMiddleware


def upload(size: int, chunks: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/intake",
        "headers": [(b"content-length", str(size).encode()), (b"content-type", b"multipart/form-data")],
        "client": ("127.0.0.1", 5000),
    }
    piece = size // chunks
    messages = [
        {"type": "http.request", "body": b"x" * piece, "more_body": index < chunks - 1} for index in range(chunks)
    ]
    return scope, messages


async def run(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    """Runs the edge around ``app``; returns what happened in order: 'read' per body chunk, then the answer."""
    events: list[str] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if pending:
            events.append("read")
            return pending.pop(0)
        events.append("disconnect")
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])

    await EdgeMiddleware(app)(scope, receive, send)
    return events


async def refuse_at_once(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 303, "headers": [(b"location", b"/login")]})
    await send({"type": "http.response.body", "body": b""})


async def test_a_refusal_before_the_body_was_read_comes_after_the_whole_upload() -> None:
    scope, messages = upload(300_000, 3)
    events = await run(refuse_at_once, scope, messages)
    assert events == ["read", "read", "read", "http.response.start", "http.response.body"]


async def test_a_body_the_app_read_is_not_read_again() -> None:
    async def reads_then_answers(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await refuse_at_once(scope, receive, send)

    scope, messages = upload(300_000, 3)
    events = await run(reads_then_answers, scope, messages)
    assert events == ["read", "read", "read", "http.response.start", "http.response.body"]


async def test_a_request_without_a_body_and_an_oversized_one_are_answered_at_once() -> None:
    scope, _ = upload(0, 1)
    assert await run(refuse_at_once, scope, []) == ["http.response.start", "http.response.body"]
    scope, messages = upload(UPLOAD_BODY_LIMIT + 1, 2)
    assert await run(refuse_at_once, scope, messages) == ["http.response.start", "http.response.body"]


async def test_a_streamed_body_past_the_limit_is_not_read_to_its_end() -> None:
    """Without a length the app counts and stops at the cap; the edge does not read on past it either."""
    scope, _ = upload(0, 1)
    scope["headers"] = [(b"transfer-encoding", b"chunked")]
    chunk = 1024 * 1024
    piece = b"x" * chunk  # one buffer shared by every message
    messages = [{"type": "http.request", "body": piece, "more_body": True} for _ in range(400)]

    async def reads_past_the_cap(scope: Any, receive: Any, send: Any) -> None:
        read = 0
        while read <= UPLOAD_BODY_LIMIT:
            read += len((await receive())["body"])
        await refuse_at_once(scope, receive, send)

    events = await run(reads_past_the_cap, scope, messages)
    assert events.count("read") == UPLOAD_BODY_LIMIT // chunk + 1
    assert events[-2:] == ["http.response.start", "http.response.body"]
