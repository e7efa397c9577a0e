"""Staff sign-in: sessions, rotation, lockout, CSRF and the cookie's flags."""

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.accounts.services import session_user, user_deactivate
from app.accounts.tables import StaffSession, User
from tests.conftest import PASSWORD, csrf_token, in_another_process, sign_in


@pytest.mark.checklist(17)
async def test_sign_in_sets_a_hardened_cookie_and_opens_the_case_list(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    response = await sign_in(client, user)
    assert response.headers["location"] == "/cases"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("cc_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    page = await client.get("/cases")
    assert page.status_code == 200 and "After-sales cases" in page.text


@pytest.mark.checklist(17)
async def test_sign_in_rotates_the_session_id(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    first = client.cookies["cc_session"]
    await sign_in(client, user)
    second = client.cookies["cc_session"]
    assert first != second
    client.cookies.set("cc_session", first)
    assert (await client.get("/cases")).status_code == 302  # the old id is dead


@pytest.mark.checklist(18)
async def test_unknown_email_and_wrong_password_answer_alike(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    token = await csrf_token(client)
    wrong = await client.post("/login", data={"email": user.email, "password": "nope-nope", "_csrf_token": token})
    unknown = await client.post(
        "/login", data={"email": "ghost@example.com", "password": "nope-nope", "_csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not right." in wrong.text
    assert wrong.text.replace(user.email, "X") == unknown.text.replace("ghost@example.com", "X")


@pytest.mark.checklist(18)
async def test_more_than_ten_failures_a_minute_answer_429(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    token = await csrf_token(client)
    statuses = []
    for _ in range(11):
        response = await client.post("/login", data={"email": user.email, "password": "bad", "_csrf_token": token})
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    # Even the right password waits out the minute.
    right = await client.post("/login", data={"email": user.email, "password": PASSWORD, "_csrf_token": token})
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


@pytest.mark.checklist(17, 23)
async def test_logout_kills_the_session_and_clears_site_data(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    session = client.cookies["cc_session"]
    response = await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    assert response.status_code == 303
    assert '"storage"' in response.headers["clear-site-data"]
    client.cookies.set("cc_session", session)
    assert (await client.get("/cases")).status_code == 302


@pytest.mark.checklist(16)
async def test_disabling_a_user_ends_their_session_at_once(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    assert (await client.get("/cases")).status_code == 200
    await user_deactivate(user_id=user.id)
    assert (await client.get("/cases")).status_code == 302


@pytest.mark.checklist(16)
async def test_disabling_a_user_in_another_process_ends_their_session_here_at_once(
    client: Any, make_user: Any, settings: Any
) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    assert (await client.get("/cases")).status_code == 200  # the session is now kept in this process
    work = "from app.accounts.services import user_deactivate\nawait user_deactivate(user_id=int(sys.argv[1]))"
    await in_another_process(settings, work, str(user.id))
    assert (await client.get("/cases")).status_code == 302


@pytest.mark.checklist(16, 17)
async def test_a_session_kept_in_the_process_still_ends_at_its_idle_limit(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    assert (await client.get("/cases")).status_code == 200  # the session is now kept in the process
    token = client.cookies["cc_session"]
    later = datetime.now(UTC) + timedelta(minutes=121)
    assert await session_user(token, idle=timedelta(minutes=120), absolute=timedelta(hours=12), now=later) is None
    assert await StaffSession.count().where(StaffSession.user == user.id) == 0
    assert (await client.get("/cases")).status_code == 302


async def test_a_language_chosen_while_signed_in_shows_on_the_account_page_at_once(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    assert (await client.get("/account")).status_code == 200
    response = await client.post(
        "/language", data={"language": "zh", "next": "/account", "_csrf_token": await csrf_token(client)}
    )
    assert response.status_code == 303
    assert (await User.objects().where(User.id == user.id).first()).language == "zh"
    page = await client.get("/account")
    chosen = BeautifulSoup(page.text, "html.parser").select_one("#account-language option[selected]")
    assert chosen is not None and chosen["value"] == "zh"  # not the user kept from before the change


@pytest.mark.checklist(20)
async def test_state_change_without_csrf_is_refused(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    response = await client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "expired or came from another site" in response.text
    assert "cc_session" not in client.cookies


async def test_next_cannot_send_the_user_to_another_site(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    token = await csrf_token(client)
    response = await client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "next": "//evil.example/x", "_csrf_token": token}
    )
    assert response.headers["location"] == "/"


@pytest.mark.checklist(16)
async def test_an_admin_disables_and_enables_a_person_from_the_users_page(
    client: Any, app: Any, make_user: Any
) -> None:
    from app.accounts.services import token_create, token_user
    from tests.conftest import asgi_client

    admin = await make_user("admin")
    handler = await make_user("handler", name="Hao")
    token = await token_create(email=handler.email)
    async with asgi_client(app) as theirs:
        await sign_in(theirs, handler)
        assert (await theirs.get("/cases")).status_code == 200
        await sign_in(client, admin)
        page = await client.get("/admin/users")
        assert page.status_code == 200 and f'data-user="{handler.email}"' in page.text
        hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
        disabled = await client.post(f"/admin/users/{handler.id}/disable", headers=hx)
        assert disabled.status_code == 200 and f"{handler.email} is disabled." in disabled.text
        assert (await theirs.get("/cases")).status_code == 302, "their open session ends at once"
        assert await token_user(token) is None, "and their API token with it"
        again = {"email": handler.email, "password": PASSWORD, "_csrf_token": await csrf_token(theirs)}
        assert (await theirs.post("/login", data=again)).status_code != 303
        # Nobody disables themselves (an admin could lock the company out).
        own = await client.post(f"/admin/users/{admin.id}/disable", headers=hx)
        assert own.status_code == 422 and "your own account" in own.text
        enabled = await client.post(f"/admin/users/{handler.id}/enable", headers=hx)
        assert enabled.status_code == 200 and f"{handler.email} can sign in again." in enabled.text
        await sign_in(theirs, handler)
        assert (await theirs.get("/cases")).status_code == 200
    missing = await client.post("/admin/users/999999/disable", headers=hx)
    assert missing.status_code == 404


async def test_the_command_line_disables_and_enables_a_person(settings: Any, make_user: Any) -> None:
    import json
    import os

    from app.accounts.tables import User

    handler = await make_user("handler")
    env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url}

    def crossclaim(*args: str) -> Any:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True)

    disabled = await asyncio.to_thread(crossclaim, "user", "disable", "--email", handler.email.upper())
    assert disabled.returncode == 0, disabled.stderr
    assert json.loads(disabled.stdout) == {"id": handler.id, "email": handler.email, "active": False}
    assert (await User.select(User.active).where(User.id == handler.id).first())["active"] is False
    enabled = await asyncio.to_thread(crossclaim, "user", "enable", "--email", handler.email)
    assert enabled.returncode == 0 and json.loads(enabled.stdout)["active"] is True
    unknown = await asyncio.to_thread(crossclaim, "user", "disable", "--email", "nobody@example.com")
    assert unknown.returncode == 2 and "No such user" in unknown.stderr


@pytest.mark.checklist(18, 34)
async def test_guessing_one_account_from_many_addresses_is_slowed_but_its_owner_gets_in(
    settings: Any, make_user: Any
) -> None:
    """Per account, from any address: after ten failures each attempt waits (doubling, at most a second
    here); the right password is heard after the wait, and the attempts are logged with the account."""
    import logging
    from dataclasses import replace

    import httpx

    from app.asgi import create_app

    app = create_app(replace(settings, login_backoff_max_seconds=1))
    user = await make_user("handler")
    records: list[logging.LogRecord] = []
    collect = logging.Handler(logging.INFO)
    collect.emit = records.append  # type: ignore[method-assign]
    security_log = logging.getLogger("crossclaim.security")
    security_log.addHandler(collect)
    security_log.setLevel(logging.INFO)

    async def attempt(address: str, password: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            form = {"email": user.email.upper(), "password": password, "_csrf_token": await csrf_token(client)}
            return await client.post("/login", data=form)

    statuses = [(await attempt(f"203.0.113.{n}", "wrong")).status_code for n in range(14)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses
    waiting = await attempt("198.51.100.7", PASSWORD)
    assert waiting.status_code == 429 and 1 <= int(waiting.headers["retry-after"]) <= 1
    assert "for this account" in waiting.text
    await asyncio.sleep(1.1)
    assert (await attempt("198.51.100.7", PASSWORD)).status_code == 303
    # The success cleared the count: one more mistake is an ordinary 401.
    assert (await attempt("198.51.100.8", "wrong")).status_code == 401
    security_log.removeHandler(collect)
    security_log.setLevel(logging.NOTSET)
    events = [record.__dict__ for record in records]
    throttled = [event for event in events if event.get("event") == "login_account_throttled"]
    assert throttled and all(event["email"] == user.email.lower() for event in throttled)
    assert {event["ip"] for event in throttled} >= {"203.0.113.12", "198.51.100.7"}


def session_cookie(response: Any) -> str:
    return next(c for c in response.headers.get_list("set-cookie") if c.startswith("cc_session="))


@pytest.mark.checklist(16, 17)
async def test_a_phone_kept_signed_in_lasts_past_the_browser_and_is_signed_out_from_the_account_page(
    client: Any, app: Any, make_user: Any, settings: Any
) -> None:
    from tests.conftest import asgi_client

    user = await make_user("warehouse")
    phone_agent = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"
    async with asgi_client(app) as phone:
        page = await phone.get("/login", headers={"User-Agent": phone_agent})
        assert 'id="keep" checked' in page.text, "a phone is offered to stay signed in"
        form = {"email": user.email, "password": PASSWORD, "keep": "yes", "_csrf_token": await csrf_token(phone)}
        kept = await phone.post("/login", data=form, headers={"User-Agent": phone_agent})
        assert kept.status_code == 303
        cookie = session_cookie(kept)
        assert f"Max-Age={settings.session_max_hours * 3600}" in cookie and "HttpOnly" in cookie
        # At a desk, the same person signs in for this browser only.
        assert 'id="keep" checked' not in (await client.get("/login")).text
        desk = await sign_in(client, user)
        assert "Max-Age" not in session_cookie(desk)
        account = await client.get("/account")
        rows = BeautifulSoup(account.text, "html.parser").select("#sessions li[data-session]")
        assert len(rows) == 2
        phone_row = next(row for row in rows if "Android" in row.get_text())
        assert "Kept signed in" in phone_row.get_text() and phone_row.select_one("button") is not None
        assert "This device" in next(row for row in rows if row is not phone_row).get_text()
        # Signed out from the desk, the phone is signed out at once.
        assert (await phone.get("/intake")).status_code == 200
        hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
        ended = await client.post(f"/account/sessions/{phone_row['data-session']}/end", headers=hx)
        assert ended.status_code == 200 and 'id="session-ended"' in ended.text
        assert (await phone.get("/intake")).status_code == 302
    # The session in use is ended by signing out, not from the list.
    own = await StaffSession.select(StaffSession.id).where(StaffSession.user == user.id).first()
    refused_own = await client.post(f"/account/sessions/{own['id']}/end", headers=hx)
    assert refused_own.status_code == 422 and (await client.get("/cases")).status_code == 200
    # Someone else's session is not anyone's to end.
    other = await make_user("handler")
    async with asgi_client(app) as theirs:
        await sign_in(theirs, other)
        mine = (await client.get("/account")).text
        assert mine.count("data-session=") == 1
        theirs_id = (await StaffSession.select(StaffSession.id).where(StaffSession.user == other.id).first())["id"]
        refused = await client.post(f"/account/sessions/{theirs_id}/end", headers=hx)
        assert refused.status_code == 404
        assert (await theirs.get("/cases")).status_code == 200


async def test_the_kept_sign_in_page_carries_each_readers_own_token(app: Any, make_user: Any) -> None:
    """The signed-out sign-in page is rendered once per language and query and kept: each reader still gets
    the token of their own CSRF cookie (never another reader's) and signs in with the form as served."""
    from tests.conftest import asgi_client

    user = await make_user("handler")

    def form_token(html: str) -> tuple[str, str]:
        soup = BeautifulSoup(html, "html.parser")
        field = soup.select_one("form[action='/login'] input[name=_csrf_token]")
        body = soup.select_one("body")
        assert field is not None and body is not None
        return str(field["value"]), str(body["hx-headers"])

    async with asgi_client(app) as first, asgi_client(app) as second:
        one = await first.get("/login?next=/grid")
        two = await second.get("/login?next=/grid")  # the same key: served from what was kept
        token_one, headers_one = form_token(one.text)
        token_two, headers_two = form_token(two.text)
        assert token_one == first.cookies["csrftoken"] and token_two == second.cookies["csrftoken"]
        assert token_one != token_two and token_one not in two.text and token_two in headers_two
        assert token_one in headers_one
        again = await second.get("/login?next=/grid")  # the cookie is now set: the same token again
        assert form_token(again.text)[0] == token_two
        assert 'name="next" value="/grid"' in again.text
        signed_in = await second.post(
            "/login", data={"email": user.email, "password": PASSWORD, "next": "/grid", "_csrf_token": token_two}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/grid"
        first.cookies.set("cc_lang", "zh")
        chinese = await first.get("/login?next=/grid")
        assert "登录" in chinese.text and form_token(chinese.text)[0] == token_one
    async with asgi_client(app) as third:
        assert "You are signed out." in (await third.get("/login?logged_out=1")).text
        assert "You are signed out." not in (await third.get("/login")).text


@pytest.mark.parametrize("chosen", ["post", "a&b", "csrf", "x" * 64])
async def test_a_visitor_choosing_their_own_token_cannot_change_the_page_others_get(
    app: Any, make_user: Any, chosen: str
) -> None:
    """A CSRF cookie is the visitor's own and is not checked on a GET: one chosen to match words of the page
    ("post", the field's name) or to escape differently must not shape the kept page the next visitor gets."""
    from tests.conftest import asgi_client

    user = await make_user("handler")
    async with asgi_client(app) as attacker, asgi_client(app) as visitor:
        attacker.cookies.set("csrftoken", chosen)
        assert (await attacker.get("/login?next=/grid")).status_code == 200
        page = await visitor.get("/login?next=/grid")
        soup = BeautifulSoup(page.text, "html.parser")
        form = soup.select_one("form[action='/login']")
        assert form is not None and form["method"] == "post", page.text[-1500:]
        token = visitor.cookies["csrftoken"]
        assert [field["value"] for field in soup.select("input[name=_csrf_token]")] == [token, token]
        assert len(chosen) < 8 or chosen not in page.text
        signed_in = await visitor.post(
            "/login", data={"email": user.email, "password": PASSWORD, "next": "/grid", "_csrf_token": token}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/grid"


async def test_requests_that_find_a_session_stale_together_look_it_up_once_and_touch_it_once(
    client: Any, make_user: Any, queries: list[str]
) -> None:
    """Sixteen requests of one browser at once: one look-up of the session, and a minute later one touch
    (not sixteen writes queued behind SQLite's one writer)."""
    from app.accounts.services import forget_sessions

    user = await make_user("handler")
    await sign_in(client, user)
    token = client.cookies["cc_session"]
    limits = {"idle": timedelta(minutes=120), "absolute": timedelta(hours=12)}
    forget_sessions()
    queries.clear()
    found = await asyncio.gather(*(session_user(token, **limits) for _ in range(16)))
    assert {each.id for each in found if each is not None} == {user.id} and None not in found
    assert len([sql for sql in queries if "staff_session" in sql and sql.lstrip().upper().startswith("SELECT")]) == 1
    later = datetime.now(UTC) + timedelta(minutes=2)
    queries.clear()
    await asyncio.gather(*(session_user(token, now=later, **limits) for _ in range(16)))
    assert len([sql for sql in queries if sql.lstrip().upper().startswith("UPDATE")]) == 1, queries
    row = await StaffSession.select(StaffSession.last_seen_at).where(StaffSession.user == user.id).first()
    assert row is not None and row["last_seen_at"] == later


async def test_a_look_up_that_ran_while_sessions_ended_is_not_kept(
    client: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look-up whose row may be from before a deactivation (it ran while the sessions were dropped) serves
    the request it began for, but is not kept: the next request looks the session up again."""
    from app.accounts import services

    user = await make_user("handler")
    await sign_in(client, user)
    token = client.cookies["cc_session"]
    limits = {"idle": timedelta(minutes=120), "absolute": timedelta(hours=12)}
    services.forget_sessions()
    looked_up = services._looked_up
    calls: list[str] = []

    async def slow_look_up(digest: str) -> Any:
        calls.append(digest)
        found = await looked_up(digest)
        services.forget_sessions(user_id=user.id)  # another request deactivates the user meanwhile
        return found

    monkeypatch.setattr(services, "_looked_up", slow_look_up)
    assert (await session_user(token, **limits)) is not None
    assert services.token_digest(token) not in services._kept_sessions
    assert (await session_user(token, **limits)) is not None and len(calls) == 2  # looked up again
