"""The case grid: filters, sorting, keyset pages, column chooser, bulk assign, inline edits and exports."""

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook

from app.cases import grid
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from app.trade.tables import Product, Supplier
from tests.conftest import ROOT, csrf_token

ACTOR = Actor(kind="system", label="Tester")


async def make_cases(count: int = 5) -> list[Case]:
    ceramics = Supplier(code="SZ01", name="深圳陶瓷厂")
    tools = Supplier(code="NB02", name="Ningbo Tools")
    await ceramics.save()
    await tools.save()
    mug = Product(sku="MUG-1", name="Mug", category="tableware", supplier=ceramics.id)
    await mug.save()
    made = []
    for i in range(count):
        supplier = ceramics if i % 2 == 0 else tools
        draft = CaseDraft(
            problem_type="transit_damage" if i % 2 == 0 else "quality_defect",
            description=f"case {i}",
            order_number=f"PO-{i:03d}",
            region="华东" if i < 3 else "华南",
            supplier_id=supplier.id,
            product_id=mug.id if i % 2 == 0 else None,
            claim_amount=Decimal(f"{(i + 1) * 10}.50"),
            currency="CNY",
        )
        made.append((await case_create(actor=ACTOR, draft=draft)).case)
    return made


def numbers(html: str) -> list[str]:
    return [tr["data-case"] for tr in BeautifulSoup(html, "html.parser").select("#grid-rows tr[data-case]")]


async def test_filter_sort_and_columns(client: Any, login: Any) -> None:
    cases = await make_cases()
    await login("warehouse")
    page = await client.get("/grid")
    assert page.status_code == 200
    assert numbers(page.text) == [c.number for c in reversed(cases)]
    soup = BeautifulSoup(page.text, "html.parser")
    # Warehouse staff read the grid without money and our hint; exports, bulk assignment and inline
    # edits are for the desk.
    shown = [th["data-column"] for th in soup.select("#case-grid thead th[data-column]")]
    assert shown == [name for name in grid.DEFAULT_COLUMNS if name not in grid.FIGURE_COLUMNS]
    assert soup.select_one("#export-csv") is None and soup.select_one("#bulk-assign") is None
    assert not soup.select(".cell-edit")
    await login("handler")
    soup = BeautifulSoup((await client.get("/grid")).text, "html.parser")
    assert [th["data-column"] for th in soup.select("#case-grid thead th[data-column]")] == list(grid.DEFAULT_COLUMNS)
    filtered = await client.get("/grid", params={"f_supplier": "深圳陶瓷厂", "sort": "amount"})
    assert numbers(filtered.text) == [cases[0].number, cases[2].number, cases[4].number]
    by_amount = await client.get("/grid", params={"sort": "-amount", "f_region": "华东"})
    assert numbers(by_amount.text) == [cases[2].number, cases[1].number, cases[0].number]
    chosen = await client.get("/grid", params=[("col", "number"), ("col", "amount"), ("col", "urgency")])
    soup = BeautifulSoup(chosen.text, "html.parser")
    assert [th["data-column"] for th in soup.select("#case-grid thead th[data-column]")] == [
        "number",
        "amount",
        "urgency",
    ]
    searched = await client.get("/grid", params={"q": "po-003"})
    assert numbers(searched.text) == [cases[3].number]


async def test_keyset_pages_cover_every_case_once(client: Any, login: Any) -> None:
    await make_cases(7)
    seen: list[str] = []
    view = grid.GridView(sort="supplier", descending=False)
    while True:
        rows = await grid.grid_rows(view, limit=3)
        seen += [r["number"] for r in rows]
        cursor = grid.next_cursor(view, rows, 3)
        if cursor is None:
            break
        view = grid.GridView(sort="supplier", descending=False, after=cursor)
    assert len(seen) == 7 and len(set(seen)) == 7
    for sort in ("due", "amount", "created_at", "region"):
        pages: list[str] = []
        view = grid.GridView(sort=sort)
        for _ in range(10):
            rows = await grid.grid_rows(view, limit=2)
            pages += [r["number"] for r in rows]
            cursor = grid.next_cursor(view, rows, 2)
            if cursor is None:
                break
            view = grid.GridView(sort=sort, after=cursor)
        assert sorted(pages) == sorted(set(pages)) and len(pages) == 7, sort
    await login("handler")
    more = await client.get("/grid", params={"after": grid.encode_cursor(7, 999)[:-2] + "xx"})
    assert more.status_code == 422 and "after=" in more.text  # a damaged cursor is refused by name


async def test_bulk_assign_and_inline_edit_are_recorded(client: Any, login: Any, make_user: Any) -> None:
    cases = await make_cases(3)
    handler = await login("handler")
    other = await make_user("handler", name="Li Wei")
    token = await csrf_token(client)
    hx = {"HX-Request": "true", "x-csrftoken": token}
    response = await client.post(
        "/grid/assign", data={"case": [str(cases[0].id), str(cases[1].id)], "assignee": str(other.id)}, headers=hx
    )
    assert response.status_code == 200
    assert "2 cases assigned" in response.text
    assigned = await Case.select(Case.number).where(Case.assignee == other.id)
    assert {row["number"] for row in assigned} == {cases[0].number, cases[1].number}
    assert await CaseEvent.count().where(CaseEvent.kind == "assigned") == 2
    form = await client.get(f"/grid/{cases[2].id}/edit/region", headers=hx)
    assert 'name="value"' in form.text
    saved = await client.post(f"/grid/{cases[2].id}/edit/region", data={"value": "西南"}, headers=hx)
    assert saved.status_code == 200 and "西南" in saved.text
    assert (await Case.select(Case.region).where(Case.id == cases[2].id).first())["region"] == "西南"
    refused = await client.post(f"/grid/{cases[2].id}/edit/node", data={"value": "closed"}, headers=hx)
    assert refused.status_code == 422
    assert handler is not None
    # In Chinese, and for one case: the count is a number to the plural rules, not text.
    client.cookies.set("cc_lang", "zh")
    one = await client.post("/grid/assign", data={"case": [str(cases[2].id)], "assignee": str(other.id)}, headers=hx)
    assert one.status_code == 200 and "已分派 1 个案件。" in one.text


async def test_bulk_assign_refuses_people_who_cannot_handle_cases(client: Any, login: Any, make_user: Any) -> None:
    cases = await make_cases(2)
    await login("handler")
    warehouse = await make_user("warehouse", name="Dock worker")
    token = await csrf_token(client)
    hx = {"HX-Request": "true", "x-csrftoken": token}
    crafted = await client.post(
        "/grid/assign", data={"case": [str(cases[0].id), str(cases[1].id)], "assignee": str(warehouse.id)}, headers=hx
    )
    assert crafted.status_code == 422 and "cannot handle cases" in crafted.text
    assert await Case.count().where(Case.assignee == warehouse.id) == 0
    assert await CaseEvent.count().where(CaseEvent.kind == "assigned") == 0


async def test_export_csv_and_xlsx_keep_the_view(client: Any, login: Any) -> None:
    cases = await make_cases()
    await login("manager")
    params = [("col", "number"), ("col", "supplier"), ("col", "amount"), ("col", "created_at"), ("f_region", "华东")]
    as_csv = await client.get("/grid/export/csv", params=params)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["Case", "Supplier", "Amount", "Reported"]
    assert [r[0] for r in rows[1:]] == [cases[2].number, cases[1].number, cases[0].number]
    assert rows[1][1] == "深圳陶瓷厂" and rows[1][2] == "30.50"
    # Times on the reader's clock (the manager's zone, Shanghai), as the grid shows them; not UTC ISO.
    reported = await Case.select(Case.created_at).where(Case.id == cases[2].id).first()
    assert rows[1][3] == f"{reported['created_at'].astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M}"
    as_xlsx = await client.get("/grid/export/xlsx", params=params)
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:D4"
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("Case", "Supplier", "Amount", "Reported")
    assert values[1][2] == 30.5 and values[1][3].year >= 2026


async def test_only_the_ticked_cases_are_exported_in_the_views_order(client: Any, login: Any) -> None:
    cases = await make_cases()
    await login("manager")
    view = [("col", "number"), ("col", "supplier"), ("col", "node"), ("f_region", "华东")]
    ticked = [("case", str(cases[0].id)), ("case", str(cases[2].id)), ("case", "x")]
    # The button asks for the file of the ticked cases; the browser is sent to it, the grid stays.
    asked = await client.get("/grid/export-ticked/csv", params=[*view, *ticked], headers={"HX-Request": "true"})
    assert asked.status_code == 200, asked.text
    target = asked.headers["hx-redirect"]
    assert target.startswith("/grid/export/csv?") and "f_region=" in target
    got = await client.get(target)
    assert got.headers["content-disposition"].startswith('attachment; filename="cases-ticked-')
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    # Codes in words, as the grid shows them.
    assert rows == [
        ["Case", "Supplier", "Node"],
        [cases[2].number, "深圳陶瓷厂", "Reported"],
        [cases[0].number, "深圳陶瓷厂", "Reported"],
    ]
    # A ticked case the view's filters leave out stays out: the file is the view, narrowed to the ticks.
    outside = next(case for case in cases if case.region != "华东")
    narrowed = await client.get("/grid/export/csv", params=[*view, ("case", str(outside.id))])
    assert list(csv.reader(io.StringIO(narrowed.content.decode("utf-8-sig")))) == [["Case", "Supplier", "Node"]]
    # Nothing ticked: said so, nothing downloaded.
    empty = await client.get("/grid/export-ticked/xlsx", params=view, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "Tick the cases to export." in empty.text
    assert "hx-redirect" not in empty.headers
    assert (await client.get("/grid/export-ticked/pdf", params=ticked)).status_code == 422


def test_cli_export(tmp_path: Path, settings: Any) -> None:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "CROSSCLAIM_DATA_DIR": str(settings.data_dir)}
    out = tmp_path / "cases.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "export", "cases", "--format", "xlsx", "--out", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = next(load_workbook(out).active.iter_rows(values_only=True))
    assert header[0] == "Case" and "Due" in header


async def test_saved_views_belong_to_their_user(client: Any, login: Any, make_user: Any) -> None:
    from app.cases.tables import SavedView
    from tests.conftest import sign_in

    cases = await make_cases(3)
    await login("handler")
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
    form = {"view_name": "华东 by amount", "f_region": "华东", "sort": "-amount", "col": ["number", "amount"]}
    saved = await client.post("/grid/views", data=form, headers=hx)
    assert saved.status_code == 200
    link = BeautifulSoup(saved.text, "html.parser").select_one("#saved-views a")
    assert link.text == "华东 by amount"
    opened = await client.get(link["href"])
    assert numbers(opened.text) == [cases[2].number, cases[1].number, cases[0].number]
    soup = BeautifulSoup(opened.text, "html.parser")
    assert [th["data-column"] for th in soup.select("#case-grid thead th[data-column]")] == ["number", "amount"]
    await client.post("/grid/views", data={**form, "f_region": ""}, headers=hx)  # same name: replaced
    assert await SavedView.count() == 1
    other = await make_user("warehouse")
    client.cookies.clear()
    await sign_in(client, other)
    page = await client.get("/grid")
    assert "华东 by amount" not in BeautifulSoup(page.text, "html.parser").select_one("#saved-views").text
    view_id = (await SavedView.select(SavedView.id).first())["id"]
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
    await client.post(f"/grid/views/{view_id}/delete", headers=hx)
    assert await SavedView.count() == 1  # not theirs to delete


async def test_filters_offer_the_regions_in_use_and_the_partners_on_record(client: Any, login: Any) -> None:
    await make_cases()
    await Supplier(code="ZZ09", name="Unused Works").save()
    await login("handler")
    soup = BeautifulSoup((await client.get("/grid")).text, "html.parser")

    def offered(name: str) -> list[str]:
        return [option["value"] for option in soup.select(f"#f_{name} option") if option["value"]]

    assert offered("region") == ["华东", "华南"]
    assert offered("supplier") == sorted(["Ningbo Tools", "Unused Works", "深圳陶瓷厂"])
    assert offered("category") == ["tableware"]
    assert "plan" in offered("node") and "quality_defect" in offered("problem_type")
    # A chosen filter narrows the grid to it.
    narrowed = await client.get("/grid", params={"f_region": "华南"})
    assert len(numbers(narrowed.text)) == 2


FORMULA_LIKE = ["=HYPERLINK(\"http://x.test\",\"click\")", "=cmd|' /C calc'!A0", "@SUM(1+1)*cmd", "+1-2", "-2+3",
                "\tTAB", "\rCR", "plain = text"]  # fmt: skip


async def test_formula_like_text_comes_back_as_text_in_csv_and_xlsx(client: Any, login: Any) -> None:
    cases = await make_cases(len(FORMULA_LIKE))
    for case, text in zip(cases, FORMULA_LIKE, strict=True):
        await Case.update({Case.order_number: text, Case.region: text}).where(Case.id == case.id)
    await login("manager")
    params = [("col", "number"), ("col", "order_number"), ("col", "amount"), ("sort", "number")]
    as_csv = await client.get("/grid/export/csv", params=params)
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"), newline="")))
    by_number = {row[0]: row for row in rows[1:]}
    for case, text in zip(cases, FORMULA_LIKE, strict=True):
        written = by_number[case.number][1]
        assert written == (text if text.startswith("plain") else f"'{text}")
        assert by_number[case.number][2] == str(case.claim_amount)  # numbers stay numbers
    as_xlsx = await client.get("/grid/export/xlsx", params=params)
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    for case, text in zip(cases, FORMULA_LIKE, strict=True):
        # (XML reads a carriage return back as a line feed.)
        assert cells[case.number].data_type == "s" and cells[case.number].value == text.replace("\r", "\n")


@pytest.mark.checklist(19)
async def test_a_bad_cursor_or_a_nul_in_the_search_is_a_422_with_a_reason(client: Any, login: Any) -> None:
    import base64
    import json

    await make_cases(3)
    await login("handler")
    for cursor in (["abc", 5], ["NaN", 5], ["1.00", 2**70], ["1.00"], {"a": 1}):
        after = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
        answer = await client.get("/grid", params={"sort": "amount", "after": after})
        assert answer.status_code == 422 and "after=" in answer.text, cursor
    assert (await client.get("/grid", params={"after": "not base64 at all"})).status_code == 422
    searched = await client.get("/grid", params={"q": "a\x00b"}, headers={"Accept": "application/json"})
    assert searched.status_code == 422 and "NUL" in searched.json()["message"]


async def plan_of(sql: str, values: list[Any]) -> str:
    """The engine's plan for a query; on PostgreSQL with sorting priced out, so a Sort step shows that
    no index gives the order (with a few rows it would sort anyway, however it is indexed)."""
    from app.db import atomic, current_engine, is_sqlite

    if is_sqlite(current_engine()):
        return "\n".join(row["detail"] for row in await Case.raw(f"EXPLAIN QUERY PLAN {sql}", *values))
    async with atomic():
        await current_engine().run_ddl("SET LOCAL enable_sort = off")
        return "\n".join(row["QUERY PLAN"] for row in await Case.raw(f"EXPLAIN {sql}", *values))


@pytest.mark.parametrize("sort", ["number", "created_at"])
@pytest.mark.parametrize("filter_name", ["", "node", "problem_type", "region"])
async def test_a_filtered_sorted_grid_page_walks_an_index_in_order_without_sorting_every_match(
    filter_name: str, sort: str
) -> None:
    cases = await make_cases()
    filters = {filter_name: getattr(cases[0], filter_name)} if filter_name else {}
    view = grid.GridView(filters=filters, sort=sort, descending=True)
    following = grid.GridView(
        filters=filters, sort=sort, descending=True, after=grid.encode_cursor(getattr(cases[2], sort), cases[2].id)
    )
    for page in (view, following):
        plan = await plan_of(*grid.page_query(page, limit=grid.PAGE_SIZE + 1))
        assert "TEMP B-TREE" not in plan, plan
        # PostgreSQL's Incremental Sort only orders the ties of the index's presorted key: not a sort of every match.
        assert not re.search(r"^(\s*->\s+)?Sort ", plan, re.MULTILINE), plan
