"""Root causes set in bulk in Chromium: ticked on the grid, and a whole supplier × problem type group on the
root-cause page with a new corrective action linked."""

from typing import Any

import pytest
from playwright.async_api import expect

from app.analytics.tables import CorrectiveAction, CorrectiveActionCase
from app.cases.events import Actor
from app.cases.services import case_move
from app.cases.tables import Case, CaseEvent
from tests.browser.conftest import screenshot_path, sign_in_page
from tests.conftest import PASSWORD
from tests.integration.test_root_causes_bulk import case_for, supplier

pytestmark = pytest.mark.browser


async def test_ticked_cases_get_their_root_cause_from_the_grid(page: Any, make_user: Any) -> None:
    maker = await supplier("SUP-G", "Guangzhou Plastics")
    cases = [await case_for(maker, text=f"Split seam {n}") for n in range(3)]
    await case_move(actor=Actor.system(), number=cases[2].number, target="cancelled", reason="Reported twice")
    user = await make_user("handler", name="Hao")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/grid")
    await expect(page.locator("#grid-rows tr[data-case]")).to_have_count(3)

    await page.click("#bulk-root-cause summary")
    await page.select_option("#bulk-cause", "material")
    # Nothing ticked: the page says what is missing, and nothing changes.
    await page.click("#bulk-cause-set")
    await expect(page.locator("#messages")).to_contain_text("Tick the cases to set the root cause for.")

    for case in cases:
        await page.locator(f"#grid-rows tr[data-case='{case.number}'] input[name=case]").check()
    await page.click("#bulk-cause-set")
    result = page.locator("#causes-set")
    await expect(result).to_contain_text("2 cases set, 1 skipped.")
    await expect(result).to_contain_text(f"{cases[2].number}: the case was cancelled")
    await page.screenshot(path=screenshot_path("grid-root-cause-1280"), full_page=True)

    rows = await Case.select(Case.id, Case.root_cause).where(Case.id.is_in([case.id for case in cases]))
    assert {row["id"]: row["root_cause"] for row in rows} == {
        cases[0].id: "material",
        cases[1].id: "material",
        cases[2].id: "",
    }
    assert await CaseEvent.count().where(CaseEvent.kind == "root_cause_set") == 2
    assert errors == []


async def test_a_group_on_the_root_cause_page_gets_its_cause_and_a_new_corrective_action(
    page: Any, make_user: Any
) -> None:
    ningbo = await supplier("SUP-NB", "Ningbo Works")
    other = await supplier("SUP-OT", "Other Works")
    group = [await case_for(ningbo, "transit_damage", f"Crushed carton {n}") for n in range(4)]
    elsewhere = await case_for(other, "transit_damage", "Dented tin")
    user = await make_user("manager", name="Mei")
    await sign_in_page(page, user.email, PASSWORD)
    await page.goto("/dashboard/root-causes")
    row = page.locator(f"#cause-groups tr[data-group='{ningbo.id}-transit_damage']")
    await expect(row).to_contain_text("Set for 4 cases")
    await expect(page.locator("#cause-groups tr[data-group]")).to_have_count(2)

    key = f"{ningbo.id}-transit_damage"
    await page.select_option(f"#group-cause-{key}", "packaging")
    await page.select_option(f"#group-action-{key}", "new")
    await page.fill(f"#group-new-action-{key}", "Corner protectors on every pallet")
    await row.locator("button[type=submit]").click()

    result = page.locator("#causes-set")
    await expect(result).to_contain_text("4 cases set, 0 skipped.")
    await expect(page.locator("#cause-groups tr[data-group]")).to_have_count(1)  # the other supplier's group stays
    action = await CorrectiveAction.objects().first()
    assert action is not None and action.supplier == ningbo.id and action.action == "Corner protectors on every pallet"
    await expect(page.locator(f"#action-{action.id} .linked-cases")).to_have_text("4 cases linked")
    await page.screenshot(path=screenshot_path("root-cause-groups-1280"), full_page=True)

    links = await CorrectiveActionCase.select(CorrectiveActionCase.case)
    assert sorted(row["case"] for row in links) == sorted(case.id for case in group)
    causes = {row["id"]: row["root_cause"] for row in await Case.select(Case.id, Case.root_cause)}
    assert [causes[case.id] for case in group] == ["packaging"] * 4 and causes[elsewhere.id] == ""
