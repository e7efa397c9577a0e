"""Supplier and carrier playbooks: the playbook page, the push form's readiness panel and rule check, saved replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.roles import DESK
from app.cases import selectors as case_selectors
from app.i18n import LANGUAGES, current_language
from app.playbooks import selectors, services
from app.web.auth import actor_for
from app.web.forms import FORM, Several, several
from app.web.pages import render, wants_fragment


@dataclass
class PlaybookForm:
    """The playbook form: contacts and evidence items come as parallel lists, one entry per row."""

    contact_problem_type: Several = field(default_factory=list)
    contact_language: Several = field(default_factory=list)
    contact_name: Several = field(default_factory=list)
    contact_email: Several = field(default_factory=list)
    item_key: Several = field(default_factory=list)
    item_label: Several = field(default_factory=list)
    item_problem_type: Several = field(default_factory=list)
    remedies: Several = field(default_factory=list)
    window_days: str = ""
    window_from: str = ""
    window_counting: str = ""
    minimum_value: str = ""
    minimum_currency: str = ""
    answer_value: str = ""
    answer_unit: str = ""
    notes: str = ""


def playbook_input(form: PlaybookForm) -> services.PlaybookInput:
    """The playbook's rows put back together from the form's parallel lists."""
    kinds, languages, names = (
        several(values) for values in (form.contact_problem_type, form.contact_language, form.contact_name)
    )

    def at(values: list[str], index: int) -> str:
        return values[index] if index < len(values) else ""

    contacts = [
        services.ContactRow(at(kinds, index), at(languages, index), at(names, index), email)
        for index, email in enumerate(several(form.contact_email))
    ]
    labels, item_kinds = several(form.item_label), several(form.item_problem_type)
    items = [
        services.ItemRow(key, at(labels, index), at(item_kinds, index))
        for index, key in enumerate(several(form.item_key))
    ]
    return services.PlaybookInput(
        contacts=contacts,
        items=items,
        window_days=form.window_days,
        window_from=form.window_from or "delivery",
        window_counting=form.window_counting or "calendar",
        minimum_value=form.minimum_value,
        minimum_currency=form.minimum_currency,
        remedies=several(form.remedies),
        answer_value=form.answer_value,
        answer_unit=form.answer_unit or "days",
        notes=form.notes,
    )


@dataclass
class ReplyForm:
    language: str = ""
    title: str = ""
    body: str = ""


@get("/parties/{kind:str}/{party_id:str}/playbook", opt={"roles": DESK}, name="playbook_page")
async def playbook_page(request: Request[Any, Any, Any], kind: FromPath[str], party_id: FromPath[str]) -> Template:
    context = await selectors.playbook_page(kind, party_id)
    return render(request, "playbooks/page.html", {**context, "saved": request.query_params.get("saved") == "1"})


@post("/parties/{kind:str}/{party_id:str}/playbook", opt={"roles": DESK}, status_code=303)
async def playbook_save(
    request: Request[Any, Any, Any],
    kind: FromPath[str],
    party_id: FromPath[str],
    data: Annotated[PlaybookForm, FORM],
) -> Response[Any]:
    party = await selectors.party_record(kind, party_id)
    await services.playbook_save(
        actor=actor_for(request), kind=kind, party_id=int(party["id"]), data=playbook_input(data)
    )
    return _go(request, f"/parties/{kind}/{party['id']}/playbook?saved=1")


def _go(request: Request[Any, Any, Any], path: str) -> Response[Any]:
    """After a saved form: htmx follows HX-Redirect (a refused form stays as typed, its errors above it)."""
    if wants_fragment(request):
        return Response(None, status_code=200, headers={"HX-Redirect": path})
    return Redirect(path=path, status_code=303)


@get("/cases/{number:str}/push/readiness", opt={"roles": DESK}, name="push_readiness")
async def push_readiness(
    request: Request[Any, Any, Any], number: FromPath[str], party: FromQuery[str] = ""
) -> Template:
    """The push form's readiness panel for the chosen party: what its playbook asks that the case lacks."""
    case = await case_selectors.case_get(number)
    ready = await selectors.case_readiness(case, party)
    return render(request, "cases/_push_readiness.html", {"ready": ready, "number": number})


@get("/replies", opt={"roles": DESK}, name="saved_replies")
async def saved_replies(request: Request[Any, Any, Any], language: FromQuery[str] = "") -> Template:
    language = language if language in LANGUAGES else ""
    context = {
        "replies": await selectors.saved_replies(language or None),
        "language": language,
        "new_language": language or current_language.get(),
    }
    return render(request, "playbooks/replies.html", context)


@get("/replies/pick", opt={"roles": DESK}, name="saved_replies_pick")
async def saved_replies_pick(request: Request[Any, Any, Any], target: FromQuery[str] = "") -> Template:
    """Saved answers as buttons that fill one message box (the reader's language first)."""
    target = target if target in ("body-supplier", "body-carrier") else "body-supplier"
    mine = current_language.get()
    replies = sorted(await selectors.saved_replies(), key=lambda reply: (reply.language != mine, reply.language))
    return render(request, "playbooks/_replies_list.html", {"replies": replies, "listing": "pick", "target": target})


@post("/replies", opt={"roles": DESK}, status_code=303)
async def saved_reply_add(request: Request[Any, Any, Any], data: Annotated[ReplyForm, FORM]) -> Response[Any]:
    reply = await services.saved_reply_add(
        actor=actor_for(request), language=data.language, title=data.title, body=data.body
    )
    return _go(request, f"/replies?language={reply.language}")


@post("/replies/{reply_id:str}/delete", opt={"roles": DESK}, status_code=303)
async def saved_reply_delete(request: Request[Any, Any, Any], reply_id: FromPath[str]) -> Response[Any]:
    await services.saved_reply_delete(reply_id=int(reply_id) if reply_id.isdecimal() else 0)
    return Redirect(path="/replies", status_code=303)


PLAYBOOK_ROUTES: list[Any] = [
    playbook_page,
    playbook_save,
    push_readiness,
    saved_replies,
    saved_replies_pick,
    saved_reply_add,
    saved_reply_delete,
]
