"""Reports filed with no signal are kept on the phone and sent exactly once later — in real Chromium."""

import asyncio
import contextlib
import io
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import expect

from app.cases.tables import Case
from app.evidence.tables import Evidence
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path, screenshot_path, sign_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def photo(path: Path, colour: tuple[int, int, int]) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, format="JPEG", quality=85)
    path.write_bytes(buffer.getvalue())
    return path


async def eventually(probe: Any, expected: Any, *, seconds: float = 30) -> Any:
    """Polls an async probe until it returns the expected value (the worker's replays run on their own)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await probe()
        if value == expected or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.25)


async def queued(page: Any) -> list[dict[str, Any]]:
    return await page.evaluate(
        "async () => (await CrossclaimQueue.list()).map((i) => ({key: i.key, state: i.state, error: i.error,"
        " files: i.files.length, attempts: i.attempts}))"
    )


async def installed(page: Any, user: Any) -> None:
    """Signed in, the worker controls the page, and the intake shell is stored for offline use."""
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/intake")

    async def controlled() -> bool:
        return await page.evaluate("() => Boolean(navigator.serviceWorker.controller)")

    assert await eventually(controlled, True), "the service worker never took control of the page"
    # Opened again under the worker's control, the page is stored in its cache for offline use.
    await page.reload()

    async def shell_cached() -> bool:
        return await page.evaluate(
            "async () => Boolean(await caches.match('/intake', {ignoreVary: true}))"
            " && Boolean(await caches.match('/queue', {ignoreVary: true}))"
        )

    assert await eventually(shell_cached, True), "the intake page was not cached"


async def fill_report(page: Any, description: str, photos: list[Path]) -> None:
    await page.fill("#field-order_number", "PO-OFFLINE-1")
    await page.locator("label.choice", has_text="Damaged in transit").click()
    await page.fill("#field-quantity_affected", "2")
    await page.fill("#field-description", description)
    camera = page.locator("input[data-evidence-input][capture]")
    for path in photos:
        await camera.set_input_files(str(path))
    await expect(page.locator("[data-previews] li.preview")).to_have_count(len(photos))


async def file_offline(page: Any, description: str, photos: list[Path], queued_count: int) -> None:
    """Opens the intake page from the phone's cache, fills it and sends: the report is kept on the phone."""
    await page.goto("/intake")
    await fill_report(page, description, photos)
    await page.locator("[data-submit]").click()
    await expect(page.locator("[data-status]")).to_have_text("Saved on this phone, will send automatically.")
    await expect(page.locator("#queue-badge [data-queue-count]")).to_have_text(str(queued_count))
    await expect(page.locator("#queue-badge")).to_be_visible()
    # The form is ready for the next report.
    await expect(page.locator("[data-previews] li.preview")).to_have_count(0)


async def phone_with_profile(playwright: Any, profile: Path, base_url: str) -> Any:
    """A phone's browser on a profile on disk: the worker, its caches and the queue outlive the browser."""
    return await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium_path(),
        args=CHROMIUM_ARGS,
        base_url=base_url,
        viewport={"width": 375, "height": 780},
        has_touch=True,
        is_mobile=True,
        # As a phone's Chromium names itself (headless Chromium does not say "Mobile" by itself).
        user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
    )


async def case_count() -> int:
    return await Case.count()


async def test_three_reports_filed_offline_arrive_once_each_with_their_photos(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    user = await make_user("warehouse", name="Wu")
    errors: list[str] = []
    phone.on("pageerror", lambda error: errors.append(str(error)))
    phone.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    await installed(phone, user)

    # Installability basics: the manifest is linked and complete, its icons load, the worker controls the page.
    manifest_url = await phone.get_attribute("link[rel=manifest]", "href")
    manifest = await (await phone.request.get(manifest_url)).json()
    assert manifest["start_url"] == "/intake" and manifest["display"] == "standalone"
    assert {icon["purpose"] for icon in manifest["icons"]} == {"any", "maskable"}
    for icon in manifest["icons"]:
        fetched = await phone.request.get(icon["src"])
        assert fetched.ok and fetched.headers["content-type"] == "image/png"
    worker = await phone.evaluate(
        "async () => { const r = await navigator.serviceWorker.ready;"
        " return {scope: r.scope, script: navigator.serviceWorker.controller.scriptURL}; }"
    )
    assert worker["scope"].endswith("/") and worker["script"].endswith("/sw.js")

    await phone.context.set_offline(True)
    colours = [(200, 30, 30), (30, 160, 40), (40, 60, 200)]
    for index in range(3):
        pictures = [photo(tmp_path / f"r{index}-{n}.jpg", colours[(index + n) % 3]) for n in range(index + 1)]
        await file_offline(phone, f"Offline report {index + 1}", pictures, index + 1)
        if index == 0:
            await phone.screenshot(path=screenshot_path("offline-intake-375"), full_page=True)
    assert [item["files"] for item in await queued(phone)] == [1, 2, 3]
    assert await Case.count() == 0

    # The "not sent" page works offline too, from the worker's cache.
    await phone.goto("/queue")
    await expect(phone.locator("[data-queue-item]")).to_have_count(3)
    await phone.screenshot(path=screenshot_path("not-sent-375"), full_page=True)
    # Rows name the problem in words; a waiting row offers no "Fix and send"; the badge can be read.
    title = phone.locator("[data-queue-item] [data-title]").first
    await expect(title).to_have_text("PO-OFFLINE-1 · Damaged in transit")
    assert await phone.locator("[data-queue-item] [data-fix]").evaluate_all(
        "links => links.every((a) => getComputedStyle(a).display === 'none')"
    )
    badge = await phone.locator("#queue-badge").evaluate(
        "a => [getComputedStyle(a).color, getComputedStyle(a).backgroundColor]"
    )
    assert badge[0] != badge[1], f"the badge's label must not be the colour of its background: {badge}"

    await phone.context.set_offline(False)

    async def queue_size() -> int:
        return len(await queued(phone))

    assert await eventually(queue_size, 0) == 0
    assert await eventually(case_count, 3) == 3
    await asyncio.sleep(1)  # a late duplicate replay would show up here
    cases = await Case.select(Case.id, Case.description).order_by(Case.id)
    assert sorted(c["description"] for c in cases) == [f"Offline report {n}" for n in (1, 2, 3)]
    for case in cases:
        photos = await Evidence.count().where(Evidence.case == case["id"])
        assert photos == int(case["description"][-1])
    await expect(phone.locator("[data-queue-empty]")).to_be_visible()
    await expect(phone.locator("#queue-badge")).to_be_hidden()
    assert errors == []


@pytest.mark.checklist(25)
async def test_a_lost_response_is_replayed_without_a_duplicate(
    phone: Any, make_user: Any, live_server: str, tmp_path: Path
) -> None:
    user = await make_user("warehouse", name="Wu")
    await installed(phone, user)
    with urllib.request.urlopen(f"{live_server}/_hooks/drop-next-intake-response", timeout=5) as armed:
        assert armed.status == 200
    await fill_report(phone, "Answer lost on the way back", [photo(tmp_path / "lost.jpg", (90, 90, 90))])
    await phone.locator("[data-submit]").click()
    # The server filed the case, but the phone never heard: it keeps the report and sends it again.
    assert await eventually(case_count, 1) == 1

    async def queue_size() -> int:
        return len(await queued(phone))

    assert await eventually(queue_size, 0) == 0
    await asyncio.sleep(1)
    assert await Case.count() == 1
    case = await Case.objects().first()
    assert await Evidence.count().where(Evidence.case == case.id) == 1


@pytest.mark.checklist(27)
async def test_a_report_queued_before_the_browser_restarts_is_still_delivered(
    live_server: str, make_user: Any, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    user = await make_user("warehouse", name="Wu")
    profile = tmp_path / "profile"
    async with async_playwright() as playwright:

        async def launch() -> Any:
            return await phone_with_profile(playwright, profile, live_server)

        context = await launch()
        page = await context.new_page()
        await installed(page, user)
        await context.set_offline(True)
        await file_offline(page, "Queued before a restart", [photo(tmp_path / "restart.jpg", (10, 120, 120))], 1)
        # A phone's browser keeps the session across restarts; the test browser drops session cookies
        # at exit, so they are given an expiry and written to the profile before the browser ends.
        lasting = [{**cookie, "expires": time.time() + 3600} for cookie in await context.cookies()]
        await context.add_cookies(lasting)
        # The whole browser ends: page, worker and all; nothing of the old run is alive.
        await context.close()
        assert await Case.count() == 0

        context = await launch()
        page = await context.new_page()
        await page.goto("/queue")
        assert await eventually(case_count, 1) == 1, await queued(page)

        async def queue_size() -> int:
            return len(await queued(page))

        assert await eventually(queue_size, 0) == 0
        await context.close()
    case = await Case.objects().first()
    assert case.description == "Queued before a restart"
    assert await Evidence.count().where(Evidence.case == case.id) == 1


@pytest.mark.checklist(23, 28)
async def test_refused_replays_stay_in_not_sent_with_the_reason_until_resent(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    user = await make_user("warehouse", name="Wu")
    await installed(phone, user)
    context = phone.context
    await context.set_offline(True)
    await file_offline(phone, "Sent after the session ended", [photo(tmp_path / "a.jpg", (200, 200, 0))], 1)
    # The browser's check is skipped (as on an older phone): only the server can refuse this one.
    await phone.goto("/intake")
    await phone.evaluate("() => { document.getElementById('intake-form').noValidate = true; }")
    await phone.click("details.customer summary")
    await phone.fill("#field-customer_email", "not-an-email")
    await file_offline_filled(phone, "A report with a broken email", tmp_path)

    # The session ends while the phone is offline; back online, the replays are refused, not lost.
    await context.clear_cookies()
    await context.set_offline(False)

    async def states() -> list[str]:
        return [item["state"] for item in await queued(phone)]

    assert await eventually(states, ["failed", "failed"]) == ["failed", "failed"]
    assert await Case.count() == 0
    for item in await queued(phone):
        assert item["error"].startswith(("HTTP 401", "HTTP 403")), item["error"]
    # The page still open says why the reports wait, with the way back in; so does the sign-in page.
    banner = phone.locator("#queue-sign-in")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("2 reports on this phone wait for you to sign in")
    assert "/login?next=" in (await banner.locator("a").get_attribute("href") or "")
    await phone.goto("/login")
    await expect(phone.locator("#queue-sign-in")).to_contain_text("2 reports on this phone wait for you to sign in")

    # Signed in again, the first signed-in page sends both again by itself: the valid one is filed,
    # the invalid one is refused now for what it says, with the server's own reason.
    await sign_in_page(phone, user.email, PASSWORD)
    assert await eventually(case_count, 1) == 1
    await phone.goto("/queue")
    items = phone.locator("[data-queue-item]")
    await expect(items).to_have_count(1)
    await expect(items.nth(0).locator("[data-error]")).to_contain_text("HTTP 422")
    await expect(items.nth(0).locator("[data-error]")).to_contain_text("email")
    await expect(items.nth(0).locator("[data-fix]")).to_be_visible()
    # Sending it again unchanged is refused again; it stays.
    tried = (await queued(phone))[0]["attempts"]

    async def after_resend() -> list[tuple[str, int]]:
        return [(item["state"], item["attempts"]) for item in await queued(phone)]

    await items.nth(0).locator("[data-resend]").click()
    assert await eventually(after_resend, [("failed", tried + 1)]) == [("failed", tried + 1)]
    await expect(items.nth(0).locator("[data-error]")).to_contain_text("HTTP 422")
    assert await Case.count() == 1
    await phone.screenshot(path=screenshot_path("not-sent-refused-375"), full_page=True)

    # Signing out warns while a report is unsent; declined, nothing changes.
    warnings: list[str] = []

    async def answer(dialog: Any, accept: bool) -> None:
        warnings.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    phone.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, False)))
    await phone.click("#logout-form button")

    async def warned() -> int:
        return len(warnings)

    assert await eventually(warned, 1) == 1
    assert "not been sent" in warnings[0]
    await expect(phone.locator("[data-queue-item]")).to_have_count(1)
    # Confirmed, this phone's queue and caches are cleared before the session ends.
    phone.once("dialog", lambda dialog: asyncio.ensure_future(answer(dialog, True)))
    await phone.click("#logout-form button")
    await phone.wait_for_url("**/login?logged_out=1")
    assert await phone.evaluate("async () => (await CrossclaimQueue.list()).length") == 0
    # The signed-in pages are gone from the caches (a fresh worker may store public assets again).
    assert await phone.evaluate("async () => Boolean(await caches.match('/intake', {ignoreVary: true}))") is False
    assert await phone.evaluate("async () => Boolean(await caches.match('/queue', {ignoreVary: true}))") is False
    assert await Case.count() == 1


async def file_offline_filled(page: Any, description: str, tmp_path: Path) -> None:
    """Like file_offline, on a page already opened (and partly filled) by the test."""
    await fill_report(page, description, [photo(tmp_path / "b.jpg", (0, 0, 0))])
    await page.locator("[data-submit]").click()
    await expect(page.locator("[data-status]")).to_have_text("Saved on this phone, will send automatically.")
    await expect(page.locator("#queue-badge [data-queue-count]")).to_have_text("2")


async def test_a_refused_report_is_fixed_on_the_intake_form_and_filed_once_with_its_photos(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    user = await make_user("warehouse", name="Wu")
    await installed(phone, user)
    context = phone.context
    await context.set_offline(True)
    await phone.goto("/intake")
    await phone.evaluate("() => { document.getElementById('intake-form').noValidate = true; }")
    await phone.click("details.customer summary")
    await phone.fill("#field-customer_email", "not-an-email")
    await fill_report(phone, "Fixed on the phone", [photo(tmp_path / "a.jpg", (10, 120, 30))])
    await phone.locator("[data-submit]").click()
    await expect(phone.locator("[data-status]")).to_have_text("Saved on this phone, will send automatically.")
    await context.set_offline(False)

    async def states() -> list[str]:
        return [item["state"] for item in await queued(phone)]

    await phone.goto("/queue")
    assert await eventually(states, ["failed"]) == ["failed"]
    stored = (await queued(phone))[0]
    items = phone.locator("[data-queue-item]")
    await expect(items.nth(0).locator("[data-error]")).to_contain_text("HTTP 422")

    # "Fix and send" opens the intake form with everything restored: fields, photo, the reason.
    await items.nth(0).locator("[data-fix]").click()
    await phone.wait_for_url("**/intake#fix=*")
    await expect(phone.locator("[data-fixing-banner]")).to_be_visible()
    await expect(phone.locator("[data-fixing-reason]")).to_contain_text("email")
    await expect(phone.locator("#field-description")).to_have_value("Fixed on the phone")
    await expect(phone.locator("#field-order_number")).to_have_value("PO-OFFLINE-1")
    await expect(phone.locator("#field-customer_email")).to_have_value("not-an-email")
    await expect(phone.locator("input[name='problem_type'][value='transit_damage']")).to_be_checked()
    await expect(phone.locator("[data-previews] li.preview")).to_have_count(1)
    assert await phone.locator("[data-client-key]").input_value() == stored["key"]
    await phone.screenshot(path=screenshot_path("intake-fixing-375"), full_page=True)

    await phone.click("details.customer summary")
    await phone.fill("#field-customer_email", "wu.customer@example.com")
    await phone.locator("[data-submit]").click()
    await phone.wait_for_url("**/cases/AS-*")
    case = await Case.objects().first()
    assert await Case.count() == 1
    assert case.description == "Fixed on the phone"
    assert await Evidence.count().where(Evidence.case == case.id) == 1
    assert await queued(phone) == []
    await expect(phone.locator("#queue-badge")).to_be_hidden()


@pytest.mark.parametrize("failure", ["send error", "timeout"])
async def test_a_live_send_that_gets_no_answer_goes_to_the_queue_and_is_filed_once(
    phone: Any, make_user: Any, tmp_path: Path, failure: str
) -> None:
    """Online, but the post itself fails (htmx:sendError) or gets no answer within the form's hx-request
    timeout (htmx:timeout): the report is kept on the phone under its key and filed once later."""
    user = await make_user("warehouse", name="Wu")
    await installed(phone, user)
    await phone.goto("/intake")
    if failure == "timeout":
        # The form's own timeout is the queue's 90 s; a test waits 1.5 s instead.
        await phone.locator("#intake-form").evaluate("form => form.setAttribute('hx-request', '{\"timeout\": 1500}')")

    async def cut(route: Any) -> None:
        if route.request.method != "POST":
            await route.continue_()
        elif failure == "send error":
            await route.abort("connectionreset")
        else:
            await asyncio.sleep(4)  # the page gave up after 1.5 s; the post never reaches the server
            with contextlib.suppress(Exception):
                await route.abort("timedout")

    await phone.route("**/intake", cut)
    await fill_report(phone, f"No answer: {failure}", [photo(tmp_path / "a.jpg", (120, 30, 200))])
    key = await phone.locator("[data-client-key]").input_value()
    await phone.locator("[data-submit]").click()
    await expect(phone.locator("[data-status]")).to_have_text("Saved on this phone, will send automatically.")
    # The form is ready for the next report, under a new key; the kept one carries the sent key.
    await expect(phone.locator("[data-previews] li.preview")).to_have_count(0)
    assert await phone.locator("[data-client-key]").input_value() not in ("", key)
    await expect(phone.locator("[data-submit]")).to_be_enabled()
    await expect(phone.locator("[data-submit]")).to_have_text("Send report")
    # (The worker may replay it at once through Background Sync: its posts do not pass this page's route.)
    if failure == "timeout":
        await asyncio.sleep(3)  # the stalled post ends, refused, without reaching the server
    await phone.unroute("**/intake", cut)

    await phone.goto("/queue")  # a page load replays what is waiting

    async def queue_size() -> int:
        return len(await queued(phone))

    assert await eventually(queue_size, 0) == 0
    assert await eventually(case_count, 1) == 1
    await asyncio.sleep(1)  # a late duplicate replay would show up here
    case = await Case.objects().first()
    assert await Case.count() == 1 and case.client_key == key and case.description == f"No answer: {failure}"
    assert await Evidence.count().where(Evidence.case == case.id) == 1
