"""A warehouse phone stays signed in when its browser closes, until signed out from the account page."""

from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from playwright.async_api import async_playwright, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_offline_intake import phone_with_profile
from tests.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.browser


async def test_a_phone_kept_signed_in_survives_closing_its_browser(
    live_server: str, make_user: Any, tmp_path: Path, app: Any
) -> None:
    from tests.conftest import asgi_client, csrf_token

    user = await make_user("warehouse", name="Wu")
    profile = tmp_path / "profile"
    async with async_playwright() as playwright:
        context = await phone_with_profile(playwright, profile, live_server)
        page = await context.new_page()
        await page.goto("/login?next=/intake")
        # A phone is offered to stay signed in, ticked.
        await expect(page.locator("#keep")).to_be_checked()
        await page.fill("#email", user.email)
        await page.fill("#password", PASSWORD)
        await page.screenshot(path=screenshot_path("login-keep-375"), full_page=True)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url("**/intake")
        # The whole browser ends; a phone opened again later is still signed in.
        await context.close()
        context = await phone_with_profile(playwright, profile, live_server)
        page = await context.new_page()
        await page.goto("/intake")
        assert page.url.endswith("/intake"), page.url
        await expect(page.locator("#account-link")).to_contain_text("Wu")

        # At a desk the same person signs the phone out; the phone is asked to sign in again.
        async with asgi_client(app) as desk:
            await sign_in(desk, user)
            account = BeautifulSoup((await desk.get("/account")).text, "html.parser")
            [phone_session] = [
                row["data-session"]
                for row in account.select("#sessions li[data-session]")
                if "Android" in row.get_text() and "This device" not in row.get_text()
            ]
            ended = await desk.post(
                f"/account/sessions/{phone_session}/end", headers={"x-csrftoken": await csrf_token(desk)}
            )
            assert ended.status_code == 200
        await page.goto("/intake")
        assert "/login" in page.url
        await context.close()
