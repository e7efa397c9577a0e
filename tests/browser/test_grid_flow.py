"""The case grid in Chromium: filter, sort, choose columns, load more, and the phone's cards."""

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_grid import make_cases

pytestmark = pytest.mark.browser


async def test_grid_filter_sort_and_column_chooser(page: Any, make_user: Any) -> None:
    cases = await make_cases(5)
    user = await make_user("handler", name="Hao")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/grid")
    rows = page.locator("#grid-rows tr[data-case]")
    await expect(rows).to_have_count(5)

    await page.select_option("#f_region", "华东")
    await expect(rows).to_have_count(3)
    assert "f_region=" in page.url

    # Sorting by amount ascending, then descending, by clicking the header twice.
    await page.click("#case-grid th[data-column=amount] a")
    await expect(page.locator("#case-grid th[data-column=amount]")).to_have_attribute("aria-sort", "descending")
    await expect(rows.first).to_have_attribute("data-case", cases[2].number)
    await page.click("#case-grid th[data-column=amount] a")
    await expect(page.locator("#case-grid th[data-column=amount]")).to_have_attribute("aria-sort", "ascending")
    await expect(rows.first).to_have_attribute("data-case", cases[0].number)
    await expect(rows).to_have_count(3)  # the filter stays while sorting

    # The column chooser: hide "Supplier", show "Urgency".
    await page.click("#column-chooser summary")
    await page.uncheck("#column-chooser input[value=supplier]")
    await expect(page.locator("#case-grid th[data-column=supplier]")).to_have_count(0)
    await page.check("#column-chooser input[value=urgency]")
    await expect(page.locator("#case-grid th[data-column=urgency]")).to_have_count(1)
    await expect(rows).to_have_count(3)
    await expect(page.locator("#case-grid th[data-column=amount]")).to_have_attribute("aria-sort", "ascending")

    # Inline edit of a safe field.
    await rows.first.locator("td[data-column=region] .cell-edit").click()
    await rows.first.locator("td[data-column=region] input[name=value]").fill("西北")
    await rows.first.locator("td[data-column=region] button[type=submit]").click()
    await expect(rows.first.locator("td[data-column=region] .cell-edit")).to_have_text("西北")
    await page.screenshot(path=screenshot_path("grid-1280"), full_page=True)
    assert errors == []


async def test_the_ticked_cases_download_as_a_file_and_the_grid_stays(page: Any, make_user: Any) -> None:
    import csv
    import io

    cases = await make_cases(4)
    user = await make_user("handler", name="Hao")
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/grid")
    await expect(page.locator("#grid-rows tr[data-case]")).to_have_count(4)
    # Nothing ticked: the page says so, and nothing is downloaded.
    await page.click("#export-ticked-csv")
    await expect(page.locator("#messages")).to_contain_text("Tick the cases to export.")
    for case in (cases[1], cases[3]):
        await page.locator(f"#grid-rows tr[data-case='{case.number}'] input[name=case]").check()
    async with page.expect_download() as waiting:
        await page.click("#export-ticked-csv")
    download = await waiting.value
    assert download.suggested_filename.startswith("cases-ticked-") and download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO((await download.path()).read_text(encoding="utf-8-sig"))))
    assert sorted(row[0] for row in rows[1:]) == sorted([cases[1].number, cases[3].number])
    assert page.url.endswith("/grid")  # the grid stays where it was
    await expect(page.locator("#grid-rows tr[data-case] input[name=case]:checked")).to_have_count(2)


async def test_grid_is_cards_on_a_phone(phone: Any, make_user: Any) -> None:
    await make_cases(2)
    user = await make_user("warehouse")
    await sign_in_page(phone, user.email, PASSWORD)
    await phone.goto("/grid")
    await expect(phone.locator("#case-grid thead")).to_be_hidden()
    first = phone.locator("#grid-rows tr[data-case]").first
    box = await first.bounding_box()
    assert box["width"] <= 375
    assert await first.locator("td").nth(1).evaluate("td => getComputedStyle(td).display") == "flex"
    await phone.screenshot(path=screenshot_path("grid-375"), full_page=True)


async def test_ticked_cases_are_sent_to_their_suppliers_from_the_grid(page: Any, make_user: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from app.cases.tables import Case, CaseEvent
    from app.trade.tables import Supplier

    cases = await make_cases(3)
    await Supplier.update({Supplier.email: "qa@ceramics.example"}).where(Supplier.code == "SZ01")
    user = await make_user("handler", name="Hao")
    await Case.update({Case.assignee: user.id}).where(Case.id.is_in([case.id for case in cases]))
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/grid")
    rows = page.locator("#grid-rows tr[data-case]")
    await expect(rows).to_have_count(3)
    # cases[0] and cases[2] are the ceramics works' (which has an address); cases[1] is Ningbo Tools' (none).
    for case in cases[:2]:
        await page.locator(f"#grid-rows tr[data-case='{case.number}'] input[name=case]").check()
    await page.click("#bulk-push summary")
    await page.select_option("#bulk-requirement", "replacement")
    await page.fill("#bulk-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
    assigned_before = [row["assignee"] for row in await Case.select(Case.assignee).order_by(Case.id)]
    # Enter in the note sends the push (its own form), never the assign form around the table.
    await page.fill("#bulk-note", "Please check the glaze")
    await page.press("#bulk-note", "Enter")
    result = page.locator("#push-result")
    await expect(result).to_contain_text("1 case sent to its supplier.")
    await expect(result).to_contain_text(cases[0].number)
    await expect(result.locator("li")).to_have_text([f"{cases[1].number}: no email address on record for the supplier"])
    pushed = await CaseEvent.select(CaseEvent.case, CaseEvent.data).where(CaseEvent.kind == "case_pushed")
    assert [row["case"] for row in pushed] == [cases[0].id]
    assert "Please check the glaze" in str(pushed[0]["data"])
    assert [row["assignee"] for row in await Case.select(Case.assignee).order_by(Case.id)] == assigned_before
    await page.screenshot(path=screenshot_path("grid-bulk-push-1280"), full_page=True)

    # Sent twice at once (a double click): the second Send is dropped while the first is on its way.
    await page.locator(f"#grid-rows tr[data-case='{cases[2].number}'] input[name=case]").check()
    await page.click("#bulk-push summary")
    await page.select_option("#bulk-requirement", "repair")
    await page.fill("#bulk-reply-by", (datetime.now(UTC).date() + timedelta(days=7)).isoformat())
    await page.locator("#grid-push").evaluate("form => { form.requestSubmit(); form.requestSubmit(); }")
    await expect(result).to_contain_text(cases[2].number)
    await page.wait_for_load_state("networkidle")
    pushed = await CaseEvent.select(CaseEvent.case).where(CaseEvent.kind == "case_pushed").order_by(CaseEvent.id)
    assert [row["case"] for row in pushed] == [cases[0].id, cases[2].id]
