"""Checklist 24: 200 reports kept on a phone reach the server exactly once through lost networks, answers
cut off after the commit, service-worker restarts and a whole browser restart — in real Chromium."""

import asyncio
import random
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from app.cases.tables import Case
from app.evidence.tables import Evidence
from tests.browser.test_offline_intake import installed, phone_with_profile, queued

pytestmark = [pytest.mark.browser, pytest.mark.checklist(24, 27)]

REPORTS = 200
ROUNDS = 8
SEED = 20261126

# Queues reports exactly as the intake page does when its post fails: the form's fields, a fresh
# client key and one photo each (drawn on a canvas, so every report's photo is a different JPEG).
QUEUE_REPORTS = """
async ({start, count, prefix}) => {
  const form = document.getElementById("intake-form");
  const token = form.querySelector("input[name='_csrf_token']").value;
  for (let n = start; n < start + count; n++) {
    const body = new FormData(form);
    body.delete("evidence");
    body.delete("evidence_covers");
    body.set("client_key", crypto.randomUUID());
    body.set("description", prefix + " " + n);
    const canvas = new OffscreenCanvas(48, 32);
    const paint = canvas.getContext("2d");
    paint.fillStyle = `rgb(${n % 256}, ${(n * 7) % 256}, ${(n * 13) % 256})`;
    paint.fillRect(0, 0, 48, 32);
    const blob = await canvas.convertToBlob({type: "image/jpeg", quality: 0.9});
    body.append("evidence", new File([blob], `report-${n}.jpg`, {type: "image/jpeg"}));
    body.append("evidence_covers", "");
    await CrossclaimQueue.add(form.getAttribute("action"), body, token);
  }
}
"""


def hook(live_server: str, path: str) -> str:
    with urllib.request.urlopen(f"{live_server}{path}", timeout=5) as answer:
        assert answer.status == 200
        return str(answer.read().decode())


async def stop_workers(page: Any) -> None:
    """Stops every service worker of the browser, as a phone does to idle ones; events start them again."""
    session = await page.context.new_cdp_session(page)
    await session.send("ServiceWorker.enable")
    await session.send("ServiceWorker.stopAllWorkers")
    await session.detach()


async def test_two_hundred_reports_through_drops_cut_answers_and_restarts_file_exactly_once(
    live_server: str, make_user: Any, tmp_path: Path
) -> None:
    chance = random.Random(SEED)
    user = await make_user("warehouse", name="Wu")
    profile = tmp_path / "profile"
    prefix = "Chaos report"
    hook(live_server, f"/_hooks/drop-intake-responses?share=0.15&seed={SEED}")
    try:
        async with async_playwright() as playwright:

            async def launch() -> Any:
                return await phone_with_profile(playwright, profile, live_server)

            context = await launch()
            page = await context.new_page()
            await installed(page, user)
            await page.goto("/intake")
            await page.fill("#field-order_number", "PO-CHAOS-1")
            await page.locator("label.choice", has_text="Damaged in transit").click()
            await page.fill("#field-quantity_affected", "1")

            per_round = REPORTS // ROUNDS
            for round_no in range(ROUNDS):
                offline = chance.random() < 0.5
                await context.set_offline(offline)
                batch = {"start": round_no * per_round, "count": per_round, "prefix": prefix}
                await page.evaluate(QUEUE_REPORTS, batch)
                # While replays run: the network comes and goes, and the worker is stopped under them.
                for _ in range(3):
                    await asyncio.sleep(chance.uniform(0.1, 0.6))
                    await context.set_offline(chance.random() < 0.3)
                    if chance.random() < 0.4:
                        await stop_workers(page)
                await context.set_offline(False)
                if round_no == ROUNDS // 2:
                    # The whole browser ends mid-run; the queue, worker and session live on in the profile.
                    lasting = [{**cookie, "expires": time.time() + 3600} for cookie in await context.cookies()]
                    await context.add_cookies(lasting)
                    await context.close()
                    context = await launch()
                    page = await context.new_page()
                    await page.goto("/intake")
                    await page.fill("#field-order_number", "PO-CHAOS-1")
                    await page.locator("label.choice", has_text="Damaged in transit").click()
                    await page.fill("#field-quantity_affected", "1")

            # Calm again: page loads and the online event flush what is left (no one presses a button).
            cut_off = int(hook(live_server, "/_hooks/drop-intake-responses?share=0").split()[-1])
            assert cut_off > 0, "no answer was cut off: the test did not try what it claims"
            deadline = time.monotonic() + 180
            left: list[dict[str, Any]] = await queued(page)
            while left and time.monotonic() < deadline:
                await page.goto("/queue")
                await asyncio.sleep(1)
                left = await queued(page)
            assert left == [], f"{len(left)} reports still on the phone: {left[:3]}"
            await context.close()
    finally:
        hook(live_server, "/_hooks/drop-intake-responses?share=0")

    await asyncio.sleep(1)  # a late duplicate replay would land here
    cases = await Case.select(Case.id, Case.description).where(Case.description.like(f"{prefix} %"))
    descriptions = sorted(case["description"] for case in cases)
    assert descriptions == sorted(f"{prefix} {n}" for n in range(REPORTS)), (
        f"{len(cases)} cases, {len(set(descriptions))} distinct"
    )
    photos = await Evidence.select(Evidence.case).where(Evidence.case.is_in([case["id"] for case in cases]))
    per_case: dict[int, int] = {}
    for row in photos:
        per_case[row["case"]] = per_case.get(row["case"], 0) + 1
    assert len(per_case) == REPORTS and set(per_case.values()) == {1}
