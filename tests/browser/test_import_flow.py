"""A handler uploads an XLSX, corrects one column of the mapping, reads the preview and confirms — in Chromium."""

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.cases.tables import Case
from app.trade.tables import OrderLine, PurchaseOrder
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_import import ORDER_HEADERS, csv_bytes, order_rows, xlsx_bytes

pytestmark = pytest.mark.browser


async def test_import_with_mapping_correction_preview_and_confirm(page: Any, make_user: Any, tmp_path: Path) -> None:
    user = await make_user("handler", name="Hao")
    headers = list(ORDER_HEADERS)
    headers[9] = "Artikel"  # an unknown header for the SKU: the mapping must be corrected by hand
    rows = order_rows()
    rows.append(
        ["PO-1003", 1, "SZ01", "深圳陶瓷厂", "", "FOB", "海运", "2026/2/30", "", "X-9", "x", "", 5, 1, "CNY", "", ""]
    )
    path = tmp_path / "订单.xlsx"
    path.write_bytes(xlsx_bytes(headers, rows, title="2026年采购订单"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    await sign_in_page(page, user.email, PASSWORD)
    await page.click("nav a[href='/imports']")
    await page.set_input_files("#import-file", str(path))
    await page.click("#import-upload button.primary")
    await page.wait_for_url("**/imports/*")
    # The SKU column is not recognised: the mapping says so and there is nothing to confirm yet.
    await expect(page.locator("#import-form")).to_contain_text("SKU")
    await expect(page.locator("#import-confirm")).to_have_count(0)
    await page.select_option("#map_sku", label="Artikel")
    await expect(page.locator("#import-summary")).to_contain_text("4 rows: 3 to import, 0 skipped, 1 with errors")
    await expect(page.locator("#import-errors tbody tr")).to_have_count(1)
    await expect(page.locator("#import-errors tbody tr td").nth(0)).to_have_text("7")
    await expect(page.locator("#import-errors tbody tr td").nth(1)).to_have_text("下单日期")
    await page.screenshot(path=screenshot_path("import-preview-1280"), full_page=True)
    assert await OrderLine.count() == 0

    # Confirming with an error row is refused until "only the valid rows" is ticked.
    await page.click("#import-confirm")
    await expect(page.locator("#confirm-error")).to_be_visible()
    assert await OrderLine.count() == 0
    await page.check("input[name=skip_invalid]")
    await page.click("#import-confirm")
    await expect(page.locator("#import-done")).to_contain_text("3 new")
    assert await OrderLine.count() == 3 and await PurchaseOrder.count() == 2
    assert errors == []


async def test_unknown_ledger_values_are_mapped_once_and_known_next_time(
    page: Any, make_user: Any, tmp_path: Path
) -> None:
    user = await make_user("handler", name="Hao")
    headers = ["售后单号", "登记日期", "供应商", "问题类型", "责任方"]
    rows = [
        ["SH-1", "2025-11-03", "宁波五金", "少件啊", "供应商"],
        ["SH-2", "2025-11-04", "宁波五金", "包装压扁", "供应商"],
        ["SH-3", "2025-11-05", "宁波五金", "少件啊", "供应商"],
        ["SH-4", "2025-11-06", "宁波五金", "哈哈", "供应商"],
    ]
    path = tmp_path / "台账.csv"
    path.write_bytes(csv_bytes(headers, rows, "utf-8"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    await sign_in_page(page, user.email, PASSWORD)
    for attempt in range(2):
        await page.click("nav a[href='/imports']")
        await page.set_input_files("#import-file", str(path))
        await page.check("input[name=kind][value=cases]")
        await page.click("#import-upload button.primary")
        await page.wait_for_url("**/imports/*")
        if attempt == 1:
            break
        values = page.locator("#values-problem_type tbody tr")
        await expect(values).to_have_count(3)
        # Each unknown value once, with how many rows hold it and the code its words suggest.
        first = page.locator("#values-problem_type tr[data-value='少件啊']")
        await expect(first.locator("td").nth(1)).to_have_text("2")
        await expect(first.locator("select option:checked")).to_have_text("Short shipment")
        squashed = page.locator("#values-problem_type tr[data-value='包装压扁'] select option:checked")
        await expect(squashed).to_have_text("Damaged in transit")
        await expect(page.locator("#values-problem_type tr[data-value='哈哈'] select option:checked")).to_have_text(
            "— choose —"
        )
        await expect(page.locator("#import-summary")).to_contain_text("4 rows: 0 to import, 0 skipped, 4 with errors")
        await page.locator("#values-problem_type tr[data-value='哈哈'] select").select_option("other")
        await page.click("#apply-values")
        await expect(page.locator("#import-summary")).to_contain_text("4 rows: 4 to import, 0 skipped, 0 with errors")
        await expect(page.locator("#values-problem_type")).to_have_count(0)
        await page.screenshot(path=screenshot_path("import-values-1280"), full_page=True)
        await page.click("#import-confirm")
        await expect(page.locator("#import-done")).to_contain_text("4 new")
    # The same words in the next file are known: nothing left to map, nothing created twice.
    await expect(page.locator("#import-summary")).to_contain_text("4 rows: 4 to import, 0 skipped, 0 with errors")
    await expect(page.locator("#apply-values")).to_have_count(0)
    kinds = {case.number: case.problem_type for case in await Case.objects()}
    assert sorted(kinds.values()) == ["other", "short_shipment", "short_shipment", "transit_damage"]
    assert errors == []
