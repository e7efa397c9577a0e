"""A case's message threads as staff and parties post to them and watch them live (server-sent events)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.response import ServerSentEvent

from app.cases.events import Actor
from app.collaboration import live
from app.evidence import services as evidence_services
from app.web.templates import request_environment
from app.web.uploads import evidence_policy, evidence_store, read_form, refuse_oversized, uploads_from_form


async def message_form(
    request: Request[Any, Any, Any], *, number: str, actor: Actor, party: str
) -> tuple[FormMultiDict, list[int]]:
    """A message form and its files: the files go through the evidence pipeline first, marked by who sent them."""
    refuse_oversized(request)
    # Raw form: files, and read_form answers an oversized or garbled upload with a 413/422.
    form = await read_form(request)
    uploads = await uploads_from_form(form)
    if not uploads:
        return form, []
    attached = await evidence_services.evidence_add(
        actor=actor,
        number=number,
        uploads=uploads,
        store=evidence_store(request),
        policy=evidence_policy(request),
        party=party,
    )
    return form, [item.evidence.id for item in attached]


def wants_stream(request: Request[Any, Any, Any]) -> bool:
    """EventSource asks for text/event-stream; anything else gets the thread once (no open-ended answer)."""
    return "text/event-stream" in request.headers.get("accept", "")


def stream_of(
    request: Request[Any, Any, Any],
    *,
    case_id: int,
    party: str,
    urls: dict[str, str],
    allowed: Callable[[], Awaitable[bool]] | None = None,
    watch_case: bool = False,
) -> ServerSentEvent:
    template = request_environment(request).get_template("collaboration/_messages.html")
    state = request.app.state
    events = live.thread_events(
        case_id=case_id,
        party=party,
        render=lambda view: template.render(**view, **urls),
        ticks=state.get("sse_ticks", live.TICKS),
        interval=state.get("sse_interval", live.INTERVAL),
        allowed=allowed,
        watch_case=watch_case,
    )
    return ServerSentEvent(events, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
