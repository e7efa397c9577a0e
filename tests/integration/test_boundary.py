"""The error boundary, security headers on every answer, and the health check."""

from typing import Any

import pytest
from bs4 import BeautifulSoup
from litestar import get

from app.accounts.roles import PUBLIC


@pytest.mark.checklist(15, 21)
async def test_security_headers_on_pages_errors_and_static_files(client: Any) -> None:
    for path, status in [("/login", 200), ("/no-such-page", 404), ("/static/css/app.css", 200), ("/healthz", 200)]:
        response = await client.get(path)
        assert response.status_code == status, path
        csp = response.headers["content-security-policy"]
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert directive in csp, path
        assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-request-id"]
    assert (await client.get("/login")).headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in (await client.get("/login")).headers


@pytest.mark.checklist(21)
async def test_hsts_when_served_over_https(settings: Any) -> None:
    from dataclasses import replace

    from app.asgi import create_app
    from tests.conftest import asgi_client

    async with asgi_client(create_app(replace(settings, secure_cookies=True))) as secure:
        assert "max-age=" in (await secure.get("/login")).headers["strict-transport-security"]


@pytest.mark.checklist(35)
async def test_unexpected_exception_gives_a_plain_page_with_a_request_id(app: Any) -> None:
    from tests.conftest import asgi_client

    @get("/explode", opt={"roles": PUBLIC})
    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.register(explode)
    async with asgi_client(app) as test_client:
        page = await test_client.get("/explode")
        assert page.status_code == 500
        assert "secret internal detail" not in page.text and "Traceback" not in page.text
        reference = BeautifulSoup(page.text, "html.parser").select_one(".notice .small").text
        assert page.headers["x-request-id"] in reference
        as_json = await test_client.get("/explode", headers={"accept": "application/json"})
        assert as_json.json()["error"] == "server_error" and "secret" not in as_json.text


async def test_healthz_reports_database_and_queue(client: Any) -> None:
    body = (await client.get("/healthz")).json()
    assert body == {
        "status": "ok",
        "database": {"status": "ok"},
        "queue": {"status": "ok", "pending": body["queue"]["pending"], "scheduled": body["queue"]["scheduled"]},
    }


async def test_language_switch_translates_nothing_yet_but_keeps_the_choice(client: Any) -> None:
    from tests.conftest import csrf_token

    response = await client.post(
        "/language", data={"language": "zh", "next": "/login", "_csrf_token": await csrf_token(client)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.cookies["cc_lang"] == "zh"
    page = await client.get("/login")
    assert '<html lang="zh-CN">' in page.text


async def test_refusals_name_their_code_in_a_header_for_scripts(client: Any, login: Any) -> None:
    """The offline queue resends by itself only what a lost session refused (csrf_failed), not a role's refusal."""
    await login("warehouse")
    forged = await client.post("/intake", data={"problem_type": "other"}, headers={"HX-Request": "true"})
    assert forged.status_code == 403 and forged.headers["x-error-code"] == "csrf_failed"
    denied = await client.get("/dashboard", headers={"HX-Request": "true"})
    assert denied.status_code == 403 and denied.headers["x-error-code"] not in ("", "csrf_failed")


async def test_every_answer_gets_one_access_line_with_its_request_id(client: Any, monkeypatch: Any) -> None:
    """The edge writes an access line per request, naming the id the answer carries; never the query string."""
    import io
    import json
    import logging

    from app.logs import access_log

    access_log.flush()
    monkeypatch.setattr(logging.getLogger(access_log.logger), "level", logging.INFO)
    logging.getLogger(access_log.logger)._cache.clear()
    monkeypatch.setattr(access_log, "stream", io.StringIO())
    first = await client.get("/login?next=/cases")
    second = await client.get("/no-such-page")
    access_log.flush()
    lines = [json.loads(line) for line in access_log.stream.getvalue().splitlines()]
    mine = {line["request_id"]: line for line in lines}
    assert mine[first.headers["x-request-id"]]["path"] == "/login"
    assert mine[first.headers["x-request-id"]]["status"] == 200
    assert mine[second.headers["x-request-id"]]["status"] == 404
    assert all("next=" not in json.dumps(line) for line in lines)


async def test_the_role_check_runs_for_a_route_the_authentication_middleware_skips(app: Any) -> None:
    """Roles are checked before the handler, not by the authentication middleware: a staff route placed under
    a path that middleware skips (/healthz) is refused, not served to whoever asks."""
    from app.accounts.roles import STAFF
    from tests.conftest import asgi_client

    @get("/healthz/details", opt={"roles": STAFF})
    async def details() -> str:
        return "internal"

    app.register(details)
    async with asgi_client(app) as test_client:
        response = await test_client.get("/healthz/details", headers={"accept": "application/json"})
    assert response.status_code == 401 and "internal" not in response.text


async def test_a_layer_that_replaces_the_role_check_stops_the_start(app: Any) -> None:
    """The role check is the app's ``before_request`` hook; a router with a hook of its own would replace it
    for its routes, so the app refuses to start with one."""
    from litestar import Router

    from app.accounts.roles import STAFF
    from app.asgi import check_route_roles

    check_route_roles(app)

    async def hook(request: Any) -> None:
        return None

    @get("/figures", opt={"roles": STAFF})
    async def figures() -> str:
        return "internal"

    app.register(Router(path="/extra", route_handlers=[figures], before_request=hook))
    with pytest.raises(RuntimeError, match="replaces the role check"):
        check_route_roles(app)


async def test_a_signed_out_post_without_a_csrf_token_is_refused_for_its_token_first(client: Any) -> None:
    """The CSRF check runs before the role check: a signed-out phone replaying a report learns first that its
    token is stale (it fetches a fresh one on a 403), and then that it must sign in."""
    response = await client.post("/intake", data={"title": "x"}, headers={"accept": "application/json"})
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"


def test_routes_the_role_check_would_not_reach_stop_the_start() -> None:
    """Websocket and mounted ASGI handlers have no before_request hook, and Litestar answers a cached
    handler from its cache before the hook runs: the app refuses to start with either."""
    from litestar import Litestar, asgi, websocket
    from litestar.connection import WebSocket

    from app.accounts.roles import STAFF
    from app.asgi import before_handler, check_route_roles

    @websocket("/live", opt={"roles": STAFF})
    async def live(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()

    @asgi("/raw", opt={"roles": STAFF})
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        return None

    @get("/figures", opt={"roles": STAFF}, cache=60)
    async def figures() -> str:
        return "internal"

    @get("/plain", opt={"roles": STAFF})
    async def plain() -> str:
        return "internal"

    check_route_roles(Litestar([plain], before_request=before_handler, openapi_config=None))
    for handler, refusal in ((live, "not an HTTP route"), (raw, "not an HTTP route"), (figures, "cached ahead")):
        with pytest.raises(RuntimeError, match=refusal):
            check_route_roles(Litestar([plain, handler], before_request=before_handler, openapi_config=None))
