"""Role × route: generated from the app's route table, so a new route cannot escape it."""

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from app.accounts.roles import Role
from app.accounts.services import token_create
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.collaboration.links import issue_link
from app.db import atomic
from tests.conftest import csrf_token, sign_in

WHO = ["anonymous", *[role.value for role in Role], "supplier link", "carrier link"]


async def open_party_link(client: Any, case_id: int, party: str) -> None:
    """A supplier's or carrier's session, opened the way they open it: POST to their emailed link."""
    async with atomic():
        _link, token = await issue_link(
            case_id=case_id, party=party, email=f"{party}@example.com", language="en", now=datetime.now(UTC)
        )
    response = await client.post(f"/l/{token}", data={"_csrf_token": await csrf_token(client)})
    assert response.status_code == 303


def fill_path(path: str, case: Any) -> str:
    """Real values for path parameters, so the route matches and the guard (not the router) answers."""

    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if kind == "path":
            return "/css/app.css"
        if kind == "int":
            return str(case.id)
        if kind == "uuid":
            return "00000000-0000-4000-8000-000000000000"
        return case.number if "number" in name else "x"

    return re.sub(r"\{(\w+):(\w+)\}", value, path)


def route_table(app: Any) -> list[tuple[str, str, frozenset[str]]]:
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            roles = handler.opt.get("roles")
            if roles is None:
                continue
            for method in sorted(handler.http_methods):
                if method in {"OPTIONS", "HEAD"}:
                    continue
                rows.append((method, route.path, roles))
    return rows


@pytest.mark.checklist(19)
def test_every_route_declares_roles(app: Any) -> None:
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            assert "roles" in handler.opt or handler.handler_name == "options_handler", route.path


@pytest.mark.parametrize("who", WHO)
@pytest.mark.checklist(19)
async def test_only_declared_roles_get_through(client: Any, app: Any, make_user: Any, who: str) -> None:
    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="other"))).case
    api_headers: dict[str, str] = {}
    role = who.removesuffix(" link")
    if who.endswith(" link"):
        await open_party_link(client, case.id, role)
    elif who != "anonymous":
        user = await make_user(who)
        await sign_in(client, user)
        api_headers = {"Authorization": f"Bearer {await token_create(email=user.email)}"}
    token = await csrf_token(client)
    checked = 0
    for method, path, roles in route_table(app):
        if path.startswith("/static") or (path == "/logout" and who != "anonymous"):
            continue  # static files are public by design; signing out would end this test's session
        url = fill_path(path, case)
        headers = {"x-csrftoken": token, **(api_headers if url.startswith("/api/") else {})}
        response = await client.request(method, url, headers=headers, follow_redirects=False)
        to_login = response.status_code == 302 and response.headers["location"].startswith("/login")
        if "public" in roles:
            # Public routes may answer 401 or send to sign-in themselves, but never deny by role.
            assert response.status_code != 403, f"{who} {method} {url}"
        else:
            denied = response.status_code in (401, 403) or to_login
            assert denied != (role in roles), f"{who} {method} {url} -> {response.status_code}"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("role", [Role.WAREHOUSE.value, Role.HANDLER.value])
@pytest.mark.checklist(19)
async def test_claim_figures_follow_the_same_role_rule_on_pages_and_api(
    client: Any, make_user: Any, role: str
) -> None:
    """Warehouse staff see neither money nor our hint, whether they ask a page, the grid or the API."""
    from datetime import date
    from decimal import Decimal

    from app.cases.responsibility import hint_refresh
    from app.cases.tables import Case

    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="transit_damage"))).case
    await Case.update({Case.claim_amount: Decimal("98765.43")}).where(Case.id == case.id)
    await hint_refresh(case_id=case.id, actor=Actor.system(), today=date.today())
    user = await make_user(role)
    await sign_in(client, user)
    bearer = {"Authorization": f"Bearer {await token_create(email=user.email)}"}
    desk = role != Role.WAREHOUSE.value
    answers = {
        "api case": await client.get(f"/api/v1/cases/{case.number}", headers=bearer),
        "grid": await client.get("/grid?cols=number,amount,responsible&sort=amount"),
        "case page": await client.get(f"/cases/{case.number}"),
    }
    secrets = {
        "api case": ("98765.43", '"hint"', '"confidence"', '"rule_ids"'),
        "grid": ("765.43", 'name="f_responsible"'),
        "case page": ('id="hint-party"', 'id="hint-confidence"'),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        for secret in secrets[name]:
            assert (secret in answer.text) == desk, f"{role} {name} {secret}"
    document = answers["api case"].json()
    assert ("hint" in document and "claim_amount" in document) == desk
    listed = (await client.get("/api/v1/cases", headers=bearer)).json()["items"][0]
    assert ("suggested_party" in listed) == desk
    summary = await client.get("/api/v1/analytics/summary", headers=bearer)
    suggest = await client.post("/api/v1/rules/suggest", headers=bearer, json={"problem_type": "transit_damage"})
    assert (summary.status_code, suggest.status_code) == ((200, 200) if desk else (403, 403))
    assert (await client.get("/dashboard")).status_code == (200 if desk else 403)
