"""Supplier and carrier playbooks: the playbook page, the push form's readiness panel and rule check, saved replies."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.roles import DESK
from app.cases import selectors as case_selectors
from app.i18n import LANGUAGES, current_language
from app.playbooks import selectors, services
from app.web.auth import actor_for
from app.web.pages import render, wants_fragment


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _all(form: Any, name: str) -> list[str]:
    return [value if isinstance(value, str) else "" for value in form.getall(name, [])]


def playbook_input(form: Any) -> services.PlaybookInput:
    """The playbook form's rows: contacts and evidence items come as parallel lists, one entry per row."""
    kinds, languages, names = (
        _all(form, name) for name in ("contact_problem_type", "contact_language", "contact_name")
    )

    def at(values: list[str], index: int) -> str:
        return values[index] if index < len(values) else ""

    contacts = [
        services.ContactRow(at(kinds, index), at(languages, index), at(names, index), email)
        for index, email in enumerate(_all(form, "contact_email"))
    ]
    labels, item_kinds = _all(form, "item_label"), _all(form, "item_problem_type")
    items = [
        services.ItemRow(key, at(labels, index), at(item_kinds, index))
        for index, key in enumerate(_all(form, "item_key"))
    ]
    return services.PlaybookInput(
        contacts=contacts,
        items=items,
        window_days=_text(form, "window_days"),
        window_from=_text(form, "window_from") or "delivery",
        window_counting=_text(form, "window_counting") or "calendar",
        minimum_value=_text(form, "minimum_value"),
        minimum_currency=_text(form, "minimum_currency"),
        remedies=_all(form, "remedies"),
        answer_value=_text(form, "answer_value"),
        answer_unit=_text(form, "answer_unit") or "days",
        notes=_text(form, "notes"),
    )


@get("/parties/{kind:str}/{party_id:str}/playbook", opt={"roles": DESK}, name="playbook_page")
async def playbook_page(request: Request[Any, Any, Any], kind: FromPath[str], party_id: FromPath[str]) -> Template:
    context = await selectors.playbook_page(kind, party_id)
    return render(request, "playbooks/page.html", {**context, "saved": request.query_params.get("saved") == "1"})


@post("/parties/{kind:str}/{party_id:str}/playbook", opt={"roles": DESK}, status_code=303)
async def playbook_save(request: Request[Any, Any, Any], kind: FromPath[str], party_id: FromPath[str]) -> Response[Any]:
    party = await selectors.party_record(kind, party_id)
    form = await request.form()
    await services.playbook_save(
        actor=actor_for(request), kind=kind, party_id=int(party["id"]), data=playbook_input(form)
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
async def saved_reply_add(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    reply = await services.saved_reply_add(
        actor=actor_for(request), language=_text(form, "language"), title=_text(form, "title"), body=_text(form, "body")
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
