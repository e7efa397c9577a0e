"""The admin's staff user page: who may sign in, and disabling or enabling a person."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.roles import ADMINS
from app.accounts.tables import User
from app.web.pages import render


class UserAdminController(Controller):
    path = "/admin/users"

    @get("/", opt={"roles": ADMINS}, name="user_admin")
    async def user_list(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "accounts/users.html", {"users": await accounts.users_list(), "changed": None})

    @post("/{user_id:int}/disable", opt={"roles": ADMINS}, status_code=200)
    async def disable(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Template:
        changed = await accounts.user_deactivate(user_id=user_id, by=request.user.id)
        return await _answer(request, changed)

    @post("/{user_id:int}/enable", opt={"roles": ADMINS}, status_code=200)
    async def enable(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Template:
        changed = await accounts.user_activate(user_id=user_id, by=request.user.id)
        return await _answer(request, changed)


async def _answer(request: Request[Any, Any, Any], changed: User) -> Template:
    """The user table again with a line saying what changed; htmx swaps just the table's block."""
    return render(
        request, "accounts/users.html", {"users": await accounts.users_list(), "changed": changed}, block="users"
    )
