"""Every row of an import is accounted for: created, updated, unchanged, skipped or an error, each with its reason."""

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cases.events import Actor
from app.cases.tables import Case
from app.imports.jobs import commit, preview_file
from app.trade.tables import OrderLine
from tests.integration.test_import import csv_bytes

ACTOR = Actor(kind="system", label="Tester")
CASE_HEADERS = ["售后单号", "登记日期", "订单号", "供应商", "货号", "问题类型", "问题描述", "数量"]
ORDER_HEADERS = ["订单号", "行号", "供应商", "货号", "数量", "单价"]


def ledger_rows() -> list[list[Any]]:
    alike = ["", "2025-11-03", "PO-7", "宁波五金", "HOOK-3", "质量问题", "4 units defective", 4]
    return [
        alike,
        list(alike),
        ["SH-9", "2025-11-04", "PO-7", "宁波五金", "HOOK-3", "少发", "", 1],
        list(alike),
        ["SH-9", "2025-11-04", "PO-7", "宁波五金", "HOOK-3", "少发", "", 1],  # the same numbered case twice
        ["SH-10", "2025-11-05", "", "宁波五金", "", "破损", "", 2],
        ["SH-10", "2025-11-06", "", "宁波五金", "", "破损", "", 2],  # its number again, other values
    ]


def write(tmp_path: Path, name: str, headers: list[str], rows: list[list[Any]]) -> Path:
    path = tmp_path / name
    path.write_bytes(csv_bytes(headers, rows, "utf-8"))
    return path


async def test_alike_ledger_rows_become_separate_cases_and_a_second_import_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger.csv", CASE_HEADERS, ledger_rows())
    _, preview = preview_file(path, "cases")
    assert (preview.rows, preview.valid, len(preview.skipped), preview.error_rows) == (7, 5, 1, 1)
    assert [n.as_dict() for n in preview.repeats] == [
        {"row": 3, "outcome": "repeat", "reason": "Same values as row 2: a separate case unless you skip repeats."},
        {"row": 5, "outcome": "repeat", "reason": "Same values as row 2: a separate case unless you skip repeats."},
    ]
    assert [n.as_dict() for n in preview.skipped] == [
        {"row": 6, "outcome": "skipped", "reason": "Repeats row 4 (the same case number); imported once."}
    ]
    assert [e.as_dict() for e in preview.errors] == [
        {"row": 8, "column": "售后单号", "message": "Case number SH-10 is also in row 7, with other values."}
    ]
    result = await commit(preview=preview, actor=ACTOR, skip_invalid=True)
    assert (result.rows, result.created, result.unchanged, result.skipped, result.errors) == (7, 5, 0, 1, 1)
    assert await Case.count() == 5
    assert await Case.count().where(Case.description == "4 units defective") == 3
    _, again = preview_file(path, "cases")
    second = await commit(preview=again, actor=ACTOR, skip_invalid=True)
    assert (second.created, second.unchanged, second.skipped, second.errors) == (0, 5, 1, 1)
    assert [n.outcome for n in second.listed()] == ["unchanged", "unchanged", "unchanged", "unchanged", "skipped",
                                                    "unchanged"]  # fmt: skip
    assert await Case.count() == 5


async def test_repeats_can_be_skipped_and_are_then_counted_as_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger.csv", CASE_HEADERS, ledger_rows()[:4])
    _, preview = preview_file(path, "cases")
    result = await commit(preview=preview, actor=ACTOR, skip_repeats=True)
    assert (result.rows, result.created, result.skipped) == (4, 2, 2)
    assert {n.row for n in result.notes} == {3, 5} and await Case.count() == 2


async def test_an_order_line_twice_is_skipped_when_alike_and_refused_when_not(tmp_path: Path) -> None:
    line = ["PO-1", 1, "宁波五金", "HOOK-3", 10, 2]
    rows = [line, list(line), ["PO-1", 1, "宁波五金", "HOOK-3", 11, 2], ["PO-1", "", "宁波五金", "HOOK-4", 3, 1]]
    _, preview = preview_file(write(tmp_path, "orders.csv", ORDER_HEADERS, rows), "orders")
    assert [n.as_dict()["reason"] for n in preview.skipped] == ["Repeats row 2 (the same order line); imported once."]
    assert [e.as_dict()["message"] for e in preview.errors] == [
        "Order PO-1 line 1 is also in row 2, with other values."
    ]
    result = await commit(preview=preview, actor=ACTOR, skip_invalid=True)
    assert (result.rows, result.created, result.skipped, result.errors) == (4, 2, 1, 1)
    assert {line.line_key for line in await OrderLine.objects()} == {"PO-1#1", "PO-1#2"}


GOOD = {
    "cases": [
        ["", "2025-11-03", "PO-7", "宁波五金", "HOOK-3", "质量问题", "defective", 4],
        ["SH-1", "2025-11-04", "", "宁波五金", "", "少发", "", 1],
        ["", "2025/11/5", "", "深圳陶瓷厂", "MUG-1", "破损", "", 2],
    ],
    "orders": [["PO-1", 1, "宁波五金", "HOOK-3", 10, 2], ["PO-1", 2, "宁波五金", "HOOK-4", 3, "1.5"],
               ["PO-2", "", "深圳陶瓷厂", "MUG-1", 5, 1]],
}  # fmt: skip
BAD_CELLS = st.sampled_from(["abc", "-3", "2025-02-30", "", "不知道"])


@st.composite
def ledger(draw: Any, kind: str) -> list[list[Any]]:
    """Rows drawn from a few good ones (so repeats happen), blank rows, and good rows with a bad cell."""
    width = len(GOOD[kind][0])
    rows: list[list[Any]] = [list(draw(st.sampled_from(GOOD[kind])))]  # a data row right under the header
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        choice = draw(st.sampled_from(["good", "good", "blank", "bad"]))
        row = list(draw(st.sampled_from(GOOD[kind])))
        if choice == "blank":
            row = [""] * width
        elif choice == "bad":
            row[draw(st.integers(min_value=0, max_value=width - 1))] = draw(BAD_CELLS)
        rows.append(row)
    rows.append(list(GOOD[kind][0]))  # and one at the end, so no blank row trails
    return rows


@pytest.mark.parametrize("kind", ["orders", "cases"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_every_row_is_created_updated_unchanged_skipped_or_an_error(kind: str, data: Any) -> None:
    rows = data.draw(ledger(kind))
    headers = CASE_HEADERS if kind == "cases" else ORDER_HEADERS
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), f"{kind}.csv", headers, rows)
        _, preview = preview_file(path, kind)
        assert preview.rows == len(rows) == preview.valid + len(preview.skipped) + preview.error_rows
        placed = [r["row"] for r in preview.records] + [n.row for n in preview.skipped]
        placed += list(dict.fromkeys(e.row for e in preview.errors))
        assert sorted(placed) == list(range(2, len(rows) + 2))  # each row in one place only
        for twice in (False, True):
            before = await (Case.count() if kind == "cases" else OrderLine.count())
            result = await commit(preview=preview, actor=ACTOR, skip_invalid=True, skip_repeats=twice)
            outcomes = (result.created, result.updated, result.unchanged, result.skipped, result.errors)
            assert result.rows == len(rows) == sum(outcomes)
            assert len(result.notes) == result.updated + result.unchanged + result.skipped
            assert len({n.row for n in result.notes}) == len(result.notes)
            after = await (Case.count() if kind == "cases" else OrderLine.count())
            assert after - before == result.created
            if twice:
                assert result.created == 0  # the same file again writes nothing new


async def test_unmapped_columns_are_named_and_money_recovered_arrives(tmp_path: Path) -> None:
    from app.analytics.tables import Recovery

    headers = ["售后单号", "登记日期", "供应商", "问题类型", "索赔金额", "退款金额", "结案时间", "备注栏"]
    rows = [["SH-1", "2025-11-03", "宁波五金", "破损", "200", "¥150", "2025-11-20", "x"],
            ["SH-2", "2025-11-04", "宁波五金", "破损", "100", "120", "", ""]]  # fmt: skip
    _, preview = preview_file(write(tmp_path, "ledger.csv", headers, rows), "cases")
    assert preview.summary()["unmapped"] == [
        "结案时间: not imported — map it to “Closed on” if that is what it holds.",
        "备注栏: not imported — map it to a field above if it should be.",
    ]
    assert [e.as_dict() for e in preview.errors] == [
        {"row": 3, "column": "退款金额", "message": "The amount recovered is more than the amount claimed."}
    ]
    result = await commit(preview=preview, actor=ACTOR, skip_invalid=True)
    assert result.created == 1
    recovery = await Recovery.objects().first()
    assert (recovery.party, recovery.claimed_amount, recovery.recovered_amount) == ("supplier", 200, 150)
    assert recovery.currency == "CNY"


async def test_cli_value_mappings_by_field_or_header_are_kept_for_the_next_import(
    tmp_path: Path, settings: Any
) -> None:
    from app.imports.tables import ImportValueMap
    from tests.integration.test_import import run_cli

    headers = ["售后单号", "登记日期", "供应商", "问题类型", "责任方"]
    rows = [
        ["SH-1", "2025-11-03", "宁波五金", "少件啊", "供应商"],
        ["SH-2", "2025-11-04", "宁波五金", "包装压扁", "物流公司"],
        ["SH-3", "2025-11-05", "宁波五金", "少件啊", "工厂"],
    ]
    path = write(tmp_path, "ledger.csv", headers, rows)
    dry = json.loads(run_cli(tmp_path, settings, "import", "cases", str(path), "--dry-run").stdout)
    assert dry["unknown_values"] == {
        "problem_type": [{"value": "少件啊", "rows": 2, "suggested": "short_shipment"},
                         {"value": "包装压扁", "rows": 1, "suggested": "transit_damage"}],
        "responsible_party": [{"value": "物流公司", "rows": 1, "suggested": "carrier"}],
    }  # fmt: skip
    wrong = run_cli(tmp_path, settings, "import", "cases", str(path), "--map", "problem_type:少件啊=short")
    assert wrong.returncode == 2 and "'short' is not a code of problem_type" in json.loads(wrong.stdout)["refused"]
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"问题类型": {"少件啊": "short_shipment", "包装压扁": "transit_damage"}}))
    done = run_cli(tmp_path, settings, "import", "cases", str(path), "--mapping", str(mapping),
                   "--map", "责任方:物流公司=carrier")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["imported"]["created"] == 3
    assert await ImportValueMap.count() == 3
    again = json.loads(run_cli(tmp_path, settings, "import", "cases", str(path), "--dry-run").stdout)
    assert again["unknown_values"] == {} and again["valid"] == 3
    assert sorted(c.problem_type for c in await Case.objects()) == ["short_shipment", "short_shipment",
                                                                    "transit_damage"]  # fmt: skip


async def test_the_page_warns_of_repeats_and_lists_every_row_not_created(client: Any, login: Any) -> None:
    from bs4 import BeautifulSoup

    from tests.conftest import csrf_token
    from tests.integration.test_import import upload

    await login("handler")
    data = csv_bytes(CASE_HEADERS, ledger_rows(), "utf-8")
    page_url = (await upload(client, "ledger.csv", data, kind="cases")).headers["location"]
    soup = BeautifulSoup((await client.get(page_url)).text, "html.parser")
    assert [tr.select("td")[0].text for tr in soup.select("#import-repeats tbody tr")] == ["3", "5"]
    assert soup.select_one("#keep-repeats").has_attr("checked")
    assert [tr.select("td")[0].text for tr in soup.select("#import-skipped tbody tr")] == ["6"]
    assert soup.select_one("#import-summary").text == "7 rows: 5 to import, 1 skipped, 1 with errors."
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
    # Unticking "import each repeated row" skips them; the result still accounts for all seven rows.
    done = await client.post(f"{page_url}/confirm", data={"skip_invalid": "1"}, headers=hx)
    soup = BeautifulSoup(done.text, "html.parser")
    assert soup.select_one("#import-done").text == (
        "Imported: 3 new, 0 updated, 0 already there, 3 skipped, 1 with errors (7 rows)."
    )
    listed = {tr.select("td")[0].text: tr.select("td")[1].text for tr in soup.select("#import-not-created tbody tr")}
    assert listed == {
        "3": "Same values as row 2; skipped as a repeat.",
        "5": "Same values as row 2; skipped as a repeat.",
        "6": "Repeats row 4 (the same case number); imported once.",
    }
    assert await Case.count() == 3
