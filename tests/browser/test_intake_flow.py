"""Warehouse staff file a report on a phone with two photos, and see them on the case — in real Chromium."""

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import expect

from app.cases.responsibility import json_object
from app.cases.tables import Case, CaseEvent
from app.evidence.tables import Evidence
from app.trade.tables import Carrier, OrderLine, Product, PurchaseOrder, Supplier
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def phone_photo(path: Path, colour: tuple[int, int, int], *, noisy: bool = False) -> Path:
    """A portrait photo as a phone stores it: landscape pixels with EXIF Orientation=6."""
    exif = Image.Exif()
    exif[0x0112] = 6
    image = Image.new("RGB", (1200, 900), colour)
    if noisy:  # a few hundred KB, like a real photo, so an upload takes a moment
        image = Image.blend(image, Image.effect_noise((1200, 900), 80).convert("RGB"), 0.5)
    image.paste((255, 255, 255), (0, 0, 120, 90))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


async def seed_order() -> None:
    supplier = Supplier(code="NB-01", name="Ningbo Ceramics")
    await supplier.save()
    carrier = Carrier(code="BSL", name="Blue Sea Lines")
    await carrier.save()
    product = Product(sku="BWL-002", name="Rice bowl", supplier=supplier.id)
    await product.save()
    order = PurchaseOrder(
        number="PO-2026-0042",
        supplier=supplier.id,
        carrier=carrier.id,
        incoterm="FOB",
        transport_mode="sea",
        region="Shanghai",
        delivered_on=date(2026, 3, 1),
    )
    await order.save()
    await OrderLine(
        line_key="PO-2026-0042#1", purchase_order=order.id, line_no=1, product=product.id, quantity_ordered=500
    ).save()


async def test_warehouse_files_a_case_with_two_photos_from_a_phone(phone: Any, make_user: Any, tmp_path: Path) -> None:
    await seed_order()
    handler = await make_user("handler", name="Hao")
    user = await make_user("warehouse", name="Wu")
    first = phone_photo(tmp_path / "IMG_0001.JPG", (180, 40, 30))
    second = phone_photo(tmp_path / "IMG_0002.JPG", (30, 120, 200))
    errors: list[str] = []
    phone.on("pageerror", lambda error: errors.append(str(error)))
    phone.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(phone, user.email, PASSWORD)
    # Warehouse staff land on the report form.
    await phone.goto("/")
    await phone.wait_for_url("**/intake")

    # The bar keeps to two rows on a phone: the form starts on the first screen.
    header = await phone.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] <= 120, header
    await phone.fill("#field-order_number", "PO-2026-0042")
    await expect(phone.locator("#order-details .order-card")).to_contain_text("Ningbo Ceramics")
    await expect(phone.locator("#order-details input[name=order_line]")).to_be_checked()

    # Choosing the problem type swaps in its questions and its evidence checklist.
    await phone.locator("label.choice", has_text="Damaged in transit").click()
    await expect(phone.locator("[name='facts.damage_noted_on_receipt']").first).to_be_attached()
    await expect(phone.locator("#checklist li")).to_have_count(3)
    await expect(phone.locator("#checklist li.missing")).to_have_count(3)

    # Two photos taken one after the other: the second adds to the first instead of replacing it.
    camera = phone.locator("input[data-evidence-input][capture]")
    await camera.set_input_files(str(first))
    await camera.set_input_files(str(second))
    previews = phone.locator("[data-previews] li.preview")
    await expect(previews).to_have_count(2)
    await expect(previews.first.locator("img")).to_be_visible()
    # Each photo is taken as showing what the checklist still misses (the damage), without a tap.
    for index in range(2):
        await expect(previews.nth(index).locator("select[data-covers]")).to_have_value("damage_photos")
    await expect(phone.locator("#checklist li[data-checklist-item=damage_photos]")).to_have_class(re.compile("covered"))
    # One tap changes it: the second one shows something else.
    await previews.nth(1).locator("select[data-covers]").select_option("")

    await phone.locator("[name='facts.damage_noted_on_receipt'][value=no] + span").click()
    await phone.fill("#field-quantity_affected", "4")
    await phone.fill("#field-description", "Corner of the carton crushed, four bowls broken")
    await phone.screenshot(path=screenshot_path("intake-375"), full_page=True)
    # Nothing is wider than the phone: no sideways scrolling with one thumb.
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 375

    # The submit button is big enough for a thumb.
    box = await phone.locator("[data-submit]").bounding_box()
    assert box is not None and box["height"] >= 44
    await phone.locator("[data-submit]").click()
    await phone.wait_for_url(re.compile(r"/cases/AS-\d{4}-\d{6}\?reported=new"))
    # The confirmation is the first thing on the screen, with the number and the way to the next report.
    confirmation = phone.locator("#report-sent")
    await expect(confirmation).to_contain_text("Report sent")
    await expect(confirmation).to_be_in_viewport()
    assert await phone.locator("#report-another").get_attribute("href") == "/intake"

    # The case page loads its evidence panel with both thumbnails, actually decoded by the browser.
    thumbnails = phone.locator("#evidence-panel .evidence-grid img")
    await expect(thumbnails).to_have_count(2)
    for index in range(2):
        await expect(thumbnails.nth(index)).to_be_visible()
        # The thumbnails load lazily: bring each into the viewport, or decode() would wait for ever.
        await thumbnails.nth(index).scroll_into_view_if_needed()
        # decode() resolves once the image is loaded and decoded, and rejects if it cannot be.
        size = await thumbnails.nth(index).evaluate(
            "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
        )
        assert size == [240, 320]  # turned upright from Orientation=6
    await expect(phone.locator("#evidence-panel li[data-checklist-item=damage_photos]")).to_have_class(
        re.compile("covered")
    )
    await phone.screenshot(path=screenshot_path("intake-case-375"), full_page=True)

    number = phone.url.split("/cases/")[1].split("?")[0]
    case = await Case.objects().where(Case.number == number).first()
    assert case.assignee == handler.id and case.quantity_affected == 4 and case.problem_type == "transit_damage"
    rows = await Evidence.objects().where(Evidence.case == case.id).order_by(Evidence.id)
    assert [(row.filename, row.status, row.covers) for row in rows] == [
        ("IMG_0001.jpg", "ok", "damage_photos"),
        ("IMG_0002.jpg", "ok", ""),
    ]
    events = CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case.id).order_by(CaseEvent.id)
    kinds = [e["kind"] for e in await events]
    assert kinds == ["case_reported", "assigned", "evidence_added", "evidence_added", "hint_changed"]
    assert errors == []


async def test_evidence_added_later_shows_what_was_refused_and_can_be_withdrawn(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    from app.cases.events import Actor
    from app.cases.services import CaseDraft, case_create

    created = await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="quality_defect"))
    user = await make_user("handler", name="Hao")
    photo = phone_photo(tmp_path / "crack.jpg", (90, 90, 90), noisy=True)
    fake = tmp_path / "invoice.jpg"
    fake.write_bytes(b"<html><body>not a photo</body></html>")
    errors: list[str] = []
    phone.on("pageerror", lambda error: errors.append(str(error)))
    phone.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto(f"/cases/{created.case.number}")
    panel = phone.locator("#evidence-panel")
    await expect(panel.locator(".add-evidence")).to_be_visible()
    await expect(panel.locator("li[data-checklist-item]")).to_have_count(3)

    picker = panel.locator("input[data-evidence-input]:not([capture])")
    await picker.set_input_files([str(photo), str(fake)])
    await expect(panel.locator("[data-previews] li.preview")).to_have_count(2)
    await panel.locator("[data-previews] li.preview").first.locator("select").select_option("defect_evidence")
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 375
    # A slow uplink, as in a dock: each file's bar moves while the form is still sending.
    cdp = await phone.context.new_cdp_session(phone)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 64 * 1024},
    )
    await panel.locator(".add-evidence [data-submit]").click()
    form = panel.locator("form.add-evidence")
    await expect(form).to_have_attribute("aria-busy", "true")
    await expect(form.locator("[data-status]")).to_have_text("Sending…")
    await expect(form.locator("[data-progress]").first).not_to_have_attribute("value", "0")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    # The panel is replaced in place: one thumbnail, and the refused file with its reason.
    await expect(phone.locator("#evidence-panel .status-ok img")).to_have_count(1)
    refused = phone.locator("#evidence-panel .status-failed")
    await expect(refused).to_contain_text("invoice.jpg")
    await expect(refused).to_contain_text("cannot be attached as evidence")
    await expect(phone.locator("#evidence-panel li[data-checklist-item=defect_evidence]")).to_have_class(
        re.compile("covered")
    )

    # Withdrawing goes through htmx on the swapped-in panel, and the file stays on record.
    tile = phone.locator("#evidence-panel .status-ok")
    # "Withdraw" looks like a button (a border, no disclosure triangle), not like a line of text.
    look = await tile.locator("details.withdraw summary").evaluate(
        "s => [getComputedStyle(s).borderTopStyle, getComputedStyle(s).listStyleType]"
    )
    assert look == ["solid", "none"], look
    await tile.locator("details.withdraw summary").click()
    await tile.locator("input[name=reason]").fill("Wrong parcel")
    await tile.locator("details.withdraw button").click()
    await expect(phone.locator("#evidence-panel .status-withdrawn")).to_contain_text("Withdrawn: Wrong parcel")
    assert await Evidence.count() == 2
    assert errors == []


async def test_a_second_report_of_the_same_problem_adds_its_photos_to_the_first(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    from app.cases.events import Actor
    from app.cases.services import CaseDraft, case_create

    user = await make_user("warehouse", name="Wu")
    first = await case_create(
        actor=Actor.system(), draft=CaseDraft(problem_type="transit_damage", order_number="PO-ALIKE-9")
    )
    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto("/intake")
    await phone.fill("#field-order_number", "PO-ALIKE-9")
    await phone.locator("label.choice", has_text="Damaged in transit").click()
    await phone.locator("input[data-evidence-input][capture]").set_input_files(
        str(phone_photo(tmp_path / "IMG_0101.JPG", (200, 60, 60)))
    )
    await expect(phone.locator("[data-previews] li.preview")).to_have_count(1)
    await phone.locator("[data-submit]").click()
    # Asked first: the case already reported, and the photo still here.
    warning = phone.locator("#alike-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text(first.case.number)
    await expect(phone.locator("[data-previews] li.preview")).to_have_count(1)
    assert await Case.count() == 1
    await phone.screenshot(path=screenshot_path("intake-alike-375"), full_page=True)
    await warning.locator("[data-attach-to]").click()
    await phone.wait_for_url(re.compile(rf"/cases/{first.case.number}\?reported=added"))
    await expect(phone.locator("#report-sent")).to_contain_text(f"Your photos were added to {first.case.number}")
    await expect(phone.locator("#evidence-panel .evidence-grid img")).to_have_count(1)
    assert await Case.count() == 1
    assert await Evidence.count().where(Evidence.case == first.case.id) == 1


async def test_the_send_button_counts_the_upload_as_htmx_sends_the_report(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    """A real upload on a slow line: htmx posts the form (its own headers), and its upload progress shows
    on the Send button as a share that grows, and on each photo's bar, until the case opens."""
    user = await make_user("warehouse", name="Wu")
    photos = [phone_photo(tmp_path / f"IMG_02{n}.JPG", (60 * n, 90, 120), noisy=True) for n in range(2)]
    posts: list[dict[str, str]] = []
    phone.on("request", lambda r: posts.append(r.headers) if r.method == "POST" and r.url.endswith("/intake") else None)
    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto("/intake")
    await phone.fill("#field-order_number", "PO-SLOW-1")
    await phone.locator("label.choice", has_text="Damaged in transit").click()
    await phone.fill("#field-quantity_affected", "1")
    await phone.fill("#field-description", "Sent from the far end of the yard")
    await phone.locator("input[data-evidence-input][capture]").set_input_files([str(path) for path in photos])
    await expect(phone.locator("[data-previews] li.preview")).to_have_count(2)

    # About ten seconds of upload at 64 KB/s.
    cdp = await phone.context.new_cdp_session(phone)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 64 * 1024},
    )
    button = phone.locator("[data-submit]")
    await button.click()
    await expect(button).to_be_disabled()
    shares: list[int] = []
    for _ in range(40):
        found = re.fullmatch(r"Sending… (\d+)%", (await button.text_content() or "").strip())
        if found:
            shares.append(int(found[1]))
        if len(set(shares)) >= 3:
            break
        await phone.wait_for_timeout(250)
    assert len(set(shares)) >= 3 and shares == sorted(shares) and 0 < shares[-1] < 100, shares
    bars = await phone.locator("[data-previews] [data-progress]").evaluate_all("bars => bars.map((b) => b.value)")
    assert bars[0] > 0, bars
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    await phone.wait_for_url(re.compile(r"/cases/AS-\d{4}-\d{6}\?reported=new"))

    # Sent by htmx itself, with its own headers (the form's id as the trigger), once.
    assert len(posts) == 1 and posts[0]["hx-request"] == "true" and posts[0]["hx-trigger"] == "intake-form"
    case = await Case.objects().first()
    assert await Evidence.count().where(Evidence.case == case.id) == 2


async def test_a_report_sent_after_the_session_ended_stays_on_the_form_with_the_way_to_sign_in(
    phone: Any, make_user: Any, tmp_path: Path
) -> None:
    """htmx would follow the server's HX-Redirect to the sign-in page and lose the photos: the form stays,
    photos and all, with a link that signs in on another tab; sent again after that, it is filed."""
    user = await make_user("warehouse", name="Wu")
    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto("/intake")
    await phone.fill("#field-order_number", "PO-SIGNED-OUT-1")
    await phone.locator("label.choice", has_text="Damaged in transit").click()
    await phone.fill("#field-quantity_affected", "1")
    await phone.locator("input[data-evidence-input][capture]").set_input_files(
        str(phone_photo(tmp_path / "IMG_0301.JPG", (20, 160, 90)))
    )
    # The session ends elsewhere (its cookie is gone); the form's CSRF token still holds.
    await phone.context.clear_cookies(name="cc_session")
    await phone.locator("[data-submit]").click()
    link = phone.locator("#messages a")
    await expect(link).to_have_text("You were signed out. Sign in here (it opens a new tab), then tap send again.")
    assert (await link.get_attribute("href") or "").startswith("/login?next=/intake")
    assert phone.url.endswith("/intake")
    await expect(phone.locator("[data-previews] li.preview")).to_have_count(1)
    await expect(phone.locator("[data-submit]")).to_be_enabled()
    assert await Case.count() == 0

    # Signed in on another tab, the same form is sent again and filed with its photo.
    other = await phone.context.new_page()
    await sign_in_page(other, user.email, PASSWORD)
    await other.close()
    await phone.locator("[data-submit]").click()
    await phone.wait_for_url(re.compile(r"/cases/AS-\d{4}-\d{6}\?reported=new"))
    case = await Case.objects().first()
    assert await Evidence.count().where(Evidence.case == case.id) == 1


async def test_send_stays_on_screen_over_the_questions_and_a_report_goes_without_their_answers(
    phone: Any, make_user: Any
) -> None:
    """The questions are optional: while the worker reads them, Send stays on the phone's screen, and a report sent
    without a single answer is filed (the handler adds the facts later)."""
    await seed_order()
    user = await make_user("warehouse", name="Wu")
    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto("/intake")
    await phone.fill("#field-order_number", "PO-2026-0042")
    await expect(phone.locator("#order-details input[name=order_line]")).to_be_checked()
    await phone.locator("label.choice").filter(has=phone.locator("input[value=transit_damage]")).click()
    await phone.fill("#field-quantity_affected", "1")
    question = phone.locator("#step-facts")
    await question.scroll_into_view_if_needed()
    await expect(question).to_be_in_viewport()
    send = phone.locator("[data-submit]")
    await expect(send).to_be_in_viewport()
    await send.click()
    await phone.wait_for_url(re.compile(r"/cases/AS-"))
    case = await Case.objects().first()
    assert case is not None and case.problem_type == "transit_damage"
    # The question nobody answered stays unknown (it is not taken as "no").
    assert json_object(case.facts).get("damage_noted_on_receipt") in (None, "", "unknown"), case.facts
