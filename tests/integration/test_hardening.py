"""Checklist items tried from outside: temp files, huge videos, link pages, cookies, origins, htmx, caching, logs."""

from __future__ import annotations

import io
import json
import logging
import random
import re
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from app.accounts.services import forget_sessions, token_create
from app.accounts.tables import StaffSession
from app.asgi import create_app
from app.cases.tables import Case
from app.collaboration import links
from app.collaboration.tables import AccessLink
from app.db import atomic
from app.evidence.limits import EvidenceLimits
from app.evidence.services import UPLOAD_BODY_LIMIT, EvidencePolicy
from app.evidence.tables import Evidence
from app.logs import JsonFormatter
from tests.conftest import PASSWORD, asgi_client, csrf_token, sign_in
from tests.integration.test_collaboration import supplier_case

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-request-id")


async def bearer(make_user: Any, role: str = "handler") -> dict[str, str]:
    user = await make_user(role)
    return {"Authorization": f"Bearer {await token_create(email=user.email)}"}


def noisy_jpeg(side: int = 1400) -> bytes:
    """A photo over a megabyte, so a multipart parser that spools to disk would do so."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def mp4(size: int) -> bytes:
    ftyp = b"ftypisom\x00\x00\x02\x00isomiso2mp41"
    mdat = b"mdat" + bytes(size)
    return len(ftyp + b"1234").to_bytes(4, "big") + ftyp + (len(mdat) + 4).to_bytes(4, "big") + mdat


@pytest.mark.checklist(2)
async def test_uploads_and_refused_bodies_leave_no_temporary_file(
    client: Any, make_user: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 2: after a big accepted file, a refused file and a 413, no temporary file is left anywhere."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    api = await bearer(make_user)
    big = noisy_jpeg()
    assert len(big) > 1024 * 1024
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = await client.post(
        "/api/v1/cases",
        data={"problem_type": "other"},
        files=[("evidence", ("big.jpg", big, "image/jpeg")), ("evidence", ("x.svg", svg, "image/svg+xml"))],
        headers=api,
    )
    assert response.status_code == 201, response.text
    assert [u["status"] for u in response.json()["uploads"]] == ["ok", "failed"]
    refused = await client.post(
        "/api/v1/cases",
        content=b"--b\r\n" + bytes(64 * 1024),
        headers={
            **api,
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(UPLOAD_BODY_LIMIT + 1),
        },
    )
    assert refused.status_code == 413
    assert list(scratch.iterdir()) == []
    assert [p for p in (settings.data_dir / "evidence").rglob("*") if p.name.startswith(".incoming-")] == []
    assert await Case.count() == 1


@pytest.mark.checklist(10)
async def test_a_video_over_its_cap_is_refused_by_name_and_the_report_survives(app: Any, make_user: Any) -> None:
    """Item 10: a huge video is refused with a message naming its size; the case and the other file stay."""
    app.state["evidence_policy"] = EvidencePolicy(limits=EvidenceLimits(max_video_bytes=200_000))
    api = await bearer(make_user)
    async with asgi_client(app) as client:
        response = await client.post(
            "/api/v1/cases",
            data={"problem_type": "transit_damage", "description": "Crushed pallet"},
            files=[
                ("evidence", ("long.mp4", mp4(400_000), "video/mp4")),
                ("evidence", ("short.mp4", mp4(1000), "video/mp4")),
            ],
            headers=api,
        )
        assert response.status_code == 201, response.text
        long, short = response.json()["uploads"]
        assert long["status"] == "failed" and "391 KB" in long["reason"] and "Trim the video" in long["reason"]
        assert short["status"] == "ok"
        number = response.json()["number"]
        case = (await client.get(f"/api/v1/cases/{number}", headers=api)).json()
        assert case["description"] == "Crushed pallet"
    assert [row.status for row in await Evidence.objects().order_by(Evidence.id)] == ["failed", "ok"]


def _comparable(response: Any, token: str) -> str:
    """The page without what differs on every answer anyway: request id, CSRF token, and the address itself
    (the language switcher sends the visitor back to the path they typed, which tells them nothing new)."""
    text = response.text.replace(response.headers["x-request-id"], "RID").replace(token, "TOKEN")
    return re.sub(
        r'(csrf[^"]*"\s*(?:value|content)=")[^"]+', r"\1TOKEN", re.sub(r'"x-csrftoken":\s*"[^"]+"', "T", text)
    )


@pytest.mark.checklist(12)
async def test_expired_revoked_tampered_and_unknown_links_get_byte_identical_answers(app: Any) -> None:
    """Item 12: the whole answer (status, headers that matter, body) is the same for every bad link."""
    case = await supplier_case()
    now = datetime.now(UTC)
    async with atomic():
        _live, live_token = await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="en", now=now
        )
        expired, expired_token = await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="en", now=now
        )
        _revoked, revoked_token = await links.issue_link(
            case_id=case.id, party="carrier", email="c@example.cn", language="en", now=now
        )
        _customer, customer_token = await links.issue_link(
            case_id=case.id, party="customer", email="u@example.cn", language="en", now=now
        )
    await AccessLink.update({AccessLink.expires_at: now - timedelta(seconds=1)}).where(AccessLink.id == expired.id)
    await links.revoke_links(case_id=case.id, party="carrier", now=now)
    tampered = live_token[:-1] + ("A" if live_token[-1] != "A" else "B")
    for prefix, bad_tokens in (
        ("/l/", [expired_token, revoked_token, tampered, "x" * 43, customer_token]),
        ("/t/", [tampered, "x" * 43, live_token, customer_token[:-2] + "zz"]),
    ):
        answers = []
        for token in bad_tokens:
            async with asgi_client(app) as client:  # a fresh visitor each time: same cookies, same language
                response = await client.post(f"{prefix}{token}", data={"_csrf_token": await csrf_token(client)})
            assert response.status_code == 404, (prefix, token)
            assert case.number not in response.text and "set-cookie" not in response.headers
            answers.append((response.status_code, response.headers["content-type"], _comparable(response, token)))
        assert len(set(answers)) == 1, prefix


@pytest.mark.checklist(17)
async def test_idle_and_absolute_session_limits_end_the_session(
    settings: Any, bound_engine: Any, make_user: Any
) -> None:
    """Item 17: a session idle past the limit, or older than the absolute limit, is over (limits from settings)."""
    user = await make_user("handler")
    for idle_minutes, max_hours in ((120, 12), (5, 1)):  # the defaults, then lowered through the settings
        limited = replace(settings, session_idle_minutes=idle_minutes, session_max_hours=max_hours)
        async with asgi_client(create_app(limited, engine=bound_engine)) as client:
            await sign_in(client, user)
            session = await StaffSession.objects().where(StaffSession.user == user.id).first()
            now = datetime.now(UTC)
            await StaffSession.update({StaffSession.last_seen_at: now - timedelta(minutes=idle_minutes - 1)}).where(
                StaffSession.id == session.id
            )
            assert (await client.get("/cases")).status_code == 200
            await StaffSession.update({StaffSession.last_seen_at: now - timedelta(minutes=idle_minutes + 1)}).where(
                StaffSession.id == session.id
            )
            forget_sessions()  # the edit stands in for time passing; the app keeps a session's times briefly
            assert (await client.get("/cases")).status_code == 302
            assert await StaffSession.count().where(StaffSession.id == session.id) == 0

            await sign_in(client, user)
            session = await StaffSession.objects().where(StaffSession.user == user.id).first()
            await StaffSession.update({StaffSession.created_at: now - timedelta(hours=max_hours, minutes=1)}).where(
                StaffSession.id == session.id
            )
            forget_sessions()
            assert (await client.get("/cases")).status_code == 302  # active a moment ago, but too old


@pytest.mark.checklist(17, 21)
async def test_over_https_every_cookie_is_secure_and_hsts_is_sent(settings: Any, make_user: Any) -> None:
    """Items 17, 21: CROSSCLAIM_SECURE_COOKIES=1 (set behind a TLS proxy) makes every cookie Secure.

    The app trusts no X-Forwarded-Proto header: HTTPS is declared by the setting, so a client cannot
    talk it out of Secure cookies.
    """
    secure = create_app(replace(settings, secure_cookies=True))
    user = await make_user("handler")
    case = await supplier_case()
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="en", now=datetime.now(UTC)
        )
    async with asgi_client(secure) as client:
        client.base_url = "https://testserver"
        page = await client.get("/login", headers={"X-Forwarded-Proto": "http"})
        assert "max-age=31536000" in page.headers["strict-transport-security"]
        cookies = [v for k, v in page.headers.multi_items() if k == "set-cookie"]
        signed_in = await client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
        )
        assert signed_in.status_code == 303
        cookies += [v for k, v in signed_in.headers.multi_items() if k == "set-cookie"]
        opened = await client.post(f"/l/{token}", data={"_csrf_token": client.cookies["csrftoken"]})
        assert opened.status_code == 303
        cookies += [v for k, v in opened.headers.multi_items() if k == "set-cookie"]
        switched = await client.post("/language", data={"language": "zh", "_csrf_token": client.cookies["csrftoken"]})
        cookies += [v for k, v in switched.headers.multi_items() if k == "set-cookie"]
        fragment = await client.get("/cases", headers={"HX-Request": "true"})
        assert "strict-transport-security" in fragment.headers
    names = {cookie.split("=", 1)[0] for cookie in cookies}
    assert {"csrftoken", "cc_session", "cc_party", "cc_lang"} <= names
    for cookie in cookies:
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= attributes, cookie


@pytest.mark.checklist(18)
async def test_lowered_login_and_link_limits_are_enforced(settings: Any, make_user: Any) -> None:
    """Item 18: the limits come from CROSSCLAIM_LOGIN_ATTEMPTS_PER_MINUTE and CROSSCLAIM_LINK_ATTEMPTS_PER_MINUTE."""
    strict = create_app(replace(settings, login_attempts_per_minute=3, link_attempts_per_minute=2))
    user = await make_user("handler")
    async with asgi_client(strict) as client:
        token = await csrf_token(client)
        logins = [
            (
                await client.post("/login", data={"email": user.email, "password": "bad", "_csrf_token": token})
            ).status_code
            for _ in range(4)
        ]
        assert logins == [401, 401, 401, 429]
        opened = [(await client.post(f"/{kind}/{'z' * 43}", data={"_csrf_token": token})).status_code for kind in "ltl"]
        assert opened == [404, 404, 429]  # supplier and tracking links share the count


@pytest.mark.checklist(20)
async def test_a_state_change_from_another_origin_is_refused_even_with_the_token(
    client: Any, make_user: Any, caplog: Any
) -> None:
    """Item 20: a foreign Origin, or a browser's own word that the post is cross-site, gets 403 although the
    CSRF token is right; our own origin passes."""
    user = await make_user("handler")
    token = await csrf_token(client)
    form = {"email": user.email, "password": PASSWORD, "_csrf_token": token}
    caplog.set_level(logging.INFO, logger="crossclaim.security")
    foreign = [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame elsewhere
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-site"},  # a sibling subdomain
    ]
    for headers in foreign:
        refused = await client.post("/login", data=form, headers=headers)
        assert refused.status_code == 403, headers
        assert "came from another site" in refused.text
    assert "cc_session" not in client.cookies
    assert sum(record.msg == "csrf_failed" for record in caplog.records) == len(foreign)
    # Our own page under no-referrer: Chromium says null but same-origin; an old Safari says null alone
    # (left to the token, which a forged post lacks).
    same_origin = await client.post("/login", data=form, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 303
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    untokened = await client.post("/login", data={**form, "_csrf_token": ""}, headers={"Origin": "null"})
    assert untokened.status_code == 403
    old_safari = await client.post(
        "/login", data={**form, "_csrf_token": await csrf_token(client)}, headers={"Origin": "null"}
    )
    assert old_safari.status_code == 303
    signed_in = await client.post("/login", data=form, headers={"Origin": "http://testserver"})
    assert signed_in.status_code == 303
    # Signed in, an htmx request from another origin is refused the same way and the session lives on.
    out = await client.post(
        "/logout", headers={"x-csrftoken": token, "HX-Request": "true", "Origin": "https://a.example"}
    )
    assert out.status_code == 403 and out.headers["hx-retarget"] == "#messages"
    assert (await client.get("/cases")).status_code == 200
    api = await bearer(make_user)
    foreign_api = await client.post(
        "/api/v1/cases", data={"problem_type": "other"}, headers={**api, "Origin": "https://evil.example"}
    )
    assert foreign_api.status_code == 403 and foreign_api.json()["error"] == "csrf_failed"
    assert await Case.count() == 0


@pytest.mark.checklist(20)
async def test_the_api_takes_no_state_change_on_the_session_cookie_alone(client: Any, make_user: Any) -> None:
    """A page elsewhere can make a browser post a form with our cookie but not with the bearer token."""
    user = await make_user("handler")
    await sign_in(client, user)
    forged = await client.post(
        "/api/v1/cases", data={"problem_type": "other", "description": "forged"}, headers={"Origin": "null"}
    )
    assert forged.status_code == 401 and "Bearer" in forged.json()["message"]
    also_with_token = await client.post(
        "/api/v1/cases", data={"problem_type": "other"}, headers={"x-csrftoken": await csrf_token(client)}
    )
    assert also_with_token.status_code == 401
    assert await Case.count() == 0
    # Reading with the cookie still works (a browser cannot read another site's answer), and so does
    # the same post with the user's bearer token.
    assert (await client.get("/api/v1/cases")).status_code == 200
    token = await token_create(email=user.email)
    sent = await client.post(
        "/api/v1/cases", data={"problem_type": "other"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert sent.status_code == 201 and await Case.count() == 1


@pytest.mark.checklist(21, 23)
async def test_case_pages_fragments_files_and_errors_carry_the_headers_and_are_never_cached(
    client: Any, login: Any, make_user: Any
) -> None:
    """Items 21, 23: pages, htmx fragments, JSON, evidence and error answers: CSP, nosniff, no-store."""
    await login("handler")
    api = await bearer(make_user)
    created = await client.post(
        "/api/v1/cases",
        data={"problem_type": "other"},
        files=[("evidence", ("a.jpg", noisy_jpeg(64), "image/jpeg"))],
        headers=api,
    )
    number = created.json()["number"]
    web_copy = created.json()["evidence"][0]["urls"]["web"]
    answers = {
        "page": await client.get(f"/cases/{number}"),
        "fragment": await client.get(f"/cases/{number}/evidence", headers={"HX-Request": "true"}),
        "list fragment": await client.get("/cases", headers={"HX-Request": "true"}),
        "api": await client.get(f"/api/v1/cases/{number}", headers=api),
        "evidence": await client.get(web_copy),
        "404 fragment": await client.get("/cases/AS-2026-999999", headers={"HX-Request": "true"}),
        "422 json": await client.get("/api/v1/cases?limit=nope", headers=api),
    }
    for name, response in answers.items():
        assert response.status_code in (200, 404, 422), name
        for header in SECURITY_HEADERS:
            assert response.headers.get(header), (name, header)
        csp = response.headers["content-security-policy"]
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        if name != "evidence":
            assert "no-store" in response.headers["cache-control"], name
    assert (
        "private" in answers["evidence"].headers["cache-control"]
        or "no-store" in answers["evidence"].headers["cache-control"]
    )


@pytest.mark.checklist(22)
async def test_htmx_runs_with_eval_and_script_tags_off_on_every_kind_of_page(app: Any, client: Any, login: Any) -> None:
    """Item 22: the htmx config of staff, public and party pages forbids eval, script tags and foreign requests."""
    case = await supplier_case()
    hostile = '<div hx-get="/admin" hx-trigger="load">x</div><img src=x onerror=alert(1)> {{7*7}}'
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="en", now=datetime.now(UTC)
        )
    async with asgi_client(app) as party:
        await party.post(f"/l/{token}", data={"_csrf_token": await csrf_token(party)})
        posted = await party.post(
            f"/p/cases/{case.number}/messages",
            data={"body": hostile},
            headers={"x-csrftoken": await csrf_token(party)},
        )
        assert posted.status_code in (200, 201, 303), posted.text
        party_page = await party.get(f"/p/cases/{case.number}")
    await login("handler")
    pages = {
        "login": await client.get("/login"),
        "staff": await client.get(f"/cases/{case.number}"),
        "party": party_page,
    }
    for name, page in pages.items():
        meta = BeautifulSoup(page.text, "html.parser").select_one('meta[name="htmx-config"]')
        assert meta is not None, name
        config = json.loads(meta["content"])
        assert config["allowEval"] is False and config["allowScriptTags"] is False, name
        assert config["selfRequestsOnly"] is True, name
    thread = await client.get(f"/cases/{case.number}/messages/supplier", headers={"HX-Request": "true"})
    for html in (thread.text, party_page.text):
        soup = BeautifulSoup(html, "html.parser")
        assert not soup.select('[hx-get="/admin"]') and not soup.select("img[onerror]")
        # Not rendered as a template: the text stays {{7*7}} (a time on the page may well hold a 49).
        assert "&lt;div hx-get=" in html and "{{7*7}}" in html and "alert(1)> 49" not in soup.get_text()


def _security_lines(caplog: Any) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(r) for r in caplog.records if r.name == "crossclaim.security"]


@pytest.mark.checklist(34)
async def test_security_events_are_single_json_lines_with_time_actor_and_address(
    app: Any, client: Any, make_user: Any, caplog: Any, monkeypatch: Any
) -> None:
    """Item 34: sign-ins, link use, denials, CSRF failures, refused uploads and 429s, without secrets."""
    import io

    from app.logs import access_log

    caplog.set_level(logging.INFO)
    access_log.flush()
    monkeypatch.setattr(access_log, "stream", io.StringIO())  # the access lines (written apart, in batches)
    handler = await make_user("handler")
    warehouse = await make_user("warehouse")
    secret_password = "Tr0ub4dor-not-logged"
    token = await csrf_token(client)
    forged = 'x@example.com\r\n{"event": "login", "user_id": 1}'
    for email in (handler.email, forged):
        await client.post("/login", data={"email": email, "password": secret_password, "_csrf_token": token})
    await client.post("/login", data={"email": handler.email, "password": PASSWORD})  # no CSRF token
    await sign_in(client, warehouse)
    await client.get("/admin/sla")  # a warehouse user is denied
    api = {"Authorization": f"Bearer {await token_create(email=warehouse.email)}"}
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    await client.post(
        "/api/v1/cases",
        data={"problem_type": "other"},
        files={"evidence": ("x.svg", svg, "image/svg+xml")},
        headers=api,
    )
    case = await supplier_case()
    async with atomic():
        _link, link_token = await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="en", now=datetime.now(UTC)
        )
    async with asgi_client(app) as visitor:
        visitor_token = await csrf_token(visitor)
        await visitor.post(f"/l/{link_token}", data={"_csrf_token": visitor_token})
        for _ in range(11):
            await visitor.post(f"/l/{'q' * 43}", data={"_csrf_token": visitor_token})
        for _ in range(10):
            await visitor.post(
                "/login", data={"email": "a@b.c", "password": secret_password, "_csrf_token": visitor_token}
            )

    await client.get("/cases%0D%0A%7B%22event%22%3A%20%22login%22%7D")  # CR/LF in the logged path

    lines = _security_lines(caplog)
    entries = [json.loads(line) for line in lines]
    assert all("\n" not in line and "\r" not in line for line in lines)
    events = [entry["event"] for entry in entries]
    for expected in (
        "login_failed",
        "csrf_failed",
        "login",
        "access_denied",
        "upload_rejected",
        "link_used",
        "link_refused",
        "link_rate_limited",
        "login_rate_limited",
    ):
        assert expected in events, expected
    assert events.count("login") == 1  # the forged line stayed inside the failed attempt's fields
    for entry in entries:
        assert entry["time"].endswith("+00:00") and entry["ip"] == "127.0.0.1", entry
    by_event = {entry["event"]: entry for entry in entries}
    assert by_event["login"]["user_id"] == warehouse.id
    assert by_event["access_denied"]["user_id"] == warehouse.id and by_event["access_denied"]["path"] == "/admin/sla"
    assert by_event["upload_rejected"]["uploader"]
    assert by_event["link_used"]["link_id"]
    access_log.flush()
    every_line = [JsonFormatter().format(r) for r in caplog.records if r.name.startswith("crossclaim")]
    every_line += access_log.stream.getvalue().splitlines()
    assert all("\n" not in line and "\r" not in line for line in every_line)
    assert any("\r\n" in json.loads(line).get("path", "") for line in every_line)  # kept, but escaped
    everything = "\n".join(every_line)
    for secret in (secret_password, PASSWORD, link_token, client.cookies["cc_session"], api["Authorization"][7:]):
        assert secret not in everything


HUGE = "9" * 23  # beyond a 64-bit integer
ODD_DIGIT = "²"  # str.isdigit() says yes, int() says no
ID_URLS = [
    f"/cases?before={HUGE}",
    f"/cases?supplier={HUGE}",
    f"/grid/{HUGE}/edit/urgency",
    f"/dashboard?supplier={ODD_DIGIT}",
    f"/dashboard?supplier={HUGE}",
    f"/api/v1/analytics/summary?supplier={ODD_DIGIT}",
    f"/api/v1/analytics/summary?carrier={HUGE}",
    f"/disputes/{HUGE}",
    f"/disputes/{ODD_DIGIT}",
    f"/parties/supplier/{HUGE}",
    f"/parties/supplier/{ODD_DIGIT}",
    f"/evidence/{HUGE}/web",
    f"/evidence/{ODD_DIGIT}/web",
    f"/api/v1/cases?before={HUGE}",
]
ID_POSTS = [
    f"/grid/views/{HUGE}/delete",
    "/grid/assign",
    f"/cases/AS-2026-000001/links/{HUGE}/revoke",
    f"/disputes/{ODD_DIGIT}/decide",
    f"/cases/AS-2026-000001/plan/{HUGE}/accept",
]


async def test_ids_too_large_or_in_odd_digits_get_a_4xx_never_a_500(client: Any, login: Any) -> None:
    """Bad input gets a clear 4xx: ids beyond a database integer, and digits int() cannot read."""
    await login("admin")
    answers = {url: (await client.get(url)).status_code for url in ID_URLS}
    token = await csrf_token(client)
    for url in ID_POSTS:
        form = {"case": [HUGE, ODD_DIGIT], "assignee": ODD_DIGIT, "reason": "x", "_csrf_token": token}
        answers[f"POST {url}"] = (await client.post(url, data=form)).status_code
    assert {url: status for url, status in answers.items() if not 400 <= status < 500 and status != 200} == {}
    too_large = await client.get(f"/api/v1/cases?before={HUGE}", headers={"Accept": "application/json"})
    assert too_large.json()["error"] == "invalid"


async def test_a_nul_character_is_dropped_from_a_report_and_refused_elsewhere_never_a_500(
    client: Any, login: Any, make_user: Any
) -> None:
    """PostgreSQL stores no NUL in text: a report's fields lose it, any other input gets a 4xx."""
    await login("admin")
    api = await bearer(make_user)
    filed = await client.post(
        "/api/v1/cases",
        json={"problem_type": "other", "description": "cracked\x00 lid", "customer_name": "\x00"},
        headers=api,
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["description"] == "cracked lid"
    for url in ("/api/v1/cases?q=a%00b", "/api/v1/cases?node=%00", "/cases?q=%00", "/grid?q=x%00"):
        response = await client.get(url, headers=api if url.startswith("/api") else {})
        assert response.status_code < 500, (url, response.status_code)


@pytest.mark.checklist(32)
async def test_fifty_concurrent_reports_over_http_are_all_filed_without_a_lock_error(
    client: Any, make_user: Any, caplog: Any
) -> None:
    """Item 32: 50 reports at once through the API (each its own connection and transaction): 50 cases."""
    import asyncio

    api = await bearer(make_user)
    caplog.set_level(logging.WARNING)

    async def report(n: int) -> int:
        response = await client.post(
            "/api/v1/cases",
            json={"problem_type": "quality_defect", "description": f"report {n}", "quantity_affected": 1},
            headers={**api, "Idempotency-Key": f"8f0c2a6e-0000-4000-8000-{n:012d}"},
        )
        return response.status_code

    statuses = await asyncio.gather(*(report(n) for n in range(50)))
    assert statuses == [201] * 50
    assert await Case.count() == 50
    numbers = {row["number"] for row in await Case.select(Case.number)}
    assert len(numbers) == 50
    assert not [r for r in caplog.records if "locked" in r.getMessage().lower() or r.levelno >= logging.ERROR]


async def test_report_numbers_are_ascii_digits_and_text_fields_are_text(client: Any, make_user: Any) -> None:
    """Found by fuzzing: int() reads "1_000" and "٣", and a JSON list in a text field was dropped silently."""
    api = await bearer(make_user)
    for field, value in (
        ("quantity_affected", "1_000"),
        ("quantity_affected", "٣"),
        ("expected_days", True),
        ("description", ["a", "b"]),
        ("customer_email", 12),
    ):
        response = await client.post("/api/v1/cases", json={"problem_type": "other", field: value}, headers=api)
        assert response.status_code == 422, (field, value, response.text)
        assert [f["field"] for f in response.json()["fields"]] == [field]
    assert await Case.count() == 0
    written = await client.post(
        "/api/v1/cases", json={"problem_type": "other", "quantity_affected": " 12 ", "order_line": None}, headers=api
    )
    assert written.status_code == 201 and written.json()["quantity_affected"] == 12
