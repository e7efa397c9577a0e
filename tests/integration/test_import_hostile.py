"""Spreadsheets made to take the process down are refused before they are read, with a reason, and stay refused."""

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.imports import jobs
from app.imports.reader import FileRefused, xlsx_extent
from tests.integration.test_import import ORDER_HEADERS, order_rows, run_cli, upload, xlsx_bytes

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _sheet(cells: list[str]) -> str:
    rows = "".join(
        f'<row r="{ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row>'
        for ref in cells
    )
    head = f'<?xml version="1.0"?><worksheet xmlns="{_MAIN}"><dimension ref="A1:B2"/>'
    return f"{head}<sheetData>{rows}</sheetData></worksheet>"


def sparse_xlsx(far_cell: str, *, hidden_in_second_file: bool = False) -> bytes:
    """Two cells, A1 and ``far_cell``, under a <dimension> that claims A1:B2: about 1.5 KB zipped.

    With ``hidden_in_second_file`` the workbook's first sheet is stored as sheet2.xml and a harmless
    sheet1.xml sits beside it, so a reader that judged by file names would look at the wrong one.
    """
    first = "worksheets/sheet2.xml" if hidden_in_second_file else "worksheets/sheet1.xml"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/{first}" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId7"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{_RELS}"><Relationship Id="rId7" '
            f'Type="{_DOC}/worksheet" Target="{first}"/></Relationships>'
        ),
        f"xl/{first}": _sheet(["A1", far_cell]),
    }
    if hidden_in_second_file:
        parts["xl/worksheets/sheet1.xml"] = _sheet(["A1", "B2"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.checklist(1)
@pytest.mark.parametrize(
    ("far_cell", "hidden", "reason"),
    [
        ("XFD1000000", False, "more than 200,000 rows"),
        ("XFD1000000", True, "more than 200,000 rows"),
        ("XFD100", False, "cells out to column 16384; keep the table within 1000 columns"),
        ("ALL150000", False, "150,000 rows by 1000 columns, more than 10,000,000 cells"),
    ],
)
def test_the_sparse_sheet_bomb_is_refused_by_the_cli_with_exit_2(
    tmp_path: Path, settings: Any, far_cell: str, hidden: bool, reason: str
) -> None:
    data = sparse_xlsx(far_cell, hidden_in_second_file=hidden)
    assert len(data) < 2000
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(data)
    # In a child process: were the check missing, the reader's abort would end the test run itself.
    done = run_cli(tmp_path, settings, "import", "orders", str(path), "--dry-run")
    assert done.returncode == 2, done.stderr
    assert reason in json.loads(done.stdout)["errors"][0]["message"]


def test_the_extent_is_the_cells_reach_not_the_dimension_claimed(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(sparse_xlsx("XFD1000000"))
    extent = xlsx_extent(path)
    assert (extent.rows, extent.columns) == (1_000_000, 16384)
    path.write_bytes(sparse_xlsx("AB7"))
    assert (xlsx_extent(path).rows, xlsx_extent(path).columns) == (7, 28)


def test_references_spelled_to_hide_from_the_scan_are_refused(tmp_path: Path) -> None:
    data = sparse_xlsx("XFD100")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    for spelled in (b'r = "XFD100"', b'r="&#88;FD100"'):
        sheet = parts["xl/worksheets/sheet1.xml"].replace(b'r="XFD100"', spelled)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in {**parts, "xl/worksheets/sheet1.xml": sheet}.items():
                archive.writestr(name, content)
        path = tmp_path / "hidden.xlsx"
        path.write_bytes(buffer.getvalue())
        with pytest.raises(FileRefused, match="cannot be opened"):
            xlsx_extent(path)


async def test_a_refused_upload_shows_its_reason_and_is_not_read_again(client: Any, login: Any, settings: Any) -> None:
    await login("handler")
    response = await upload(client, "bomb.xlsx", sparse_xlsx("XFD1000000"))
    page_url = response.headers["location"]
    for _ in range(2):
        page = await client.get(page_url)
        assert page.status_code == 200
        refusal = BeautifulSoup(page.text, "html.parser").select_one("#import-refused").text
        assert "more than 200,000 rows" in refusal
    job = jobs.job_get(data_dir=settings.data_dir, token=page_url.rsplit("/", 1)[1])
    assert job.state()["refused"]["msgid"].startswith("The file has more than")


async def test_an_upload_that_stopped_the_process_while_read_is_not_read_again(
    client: Any, login: Any, settings: Any
) -> None:
    await login("handler")
    response = await upload(client, "orders.xlsx", xlsx_bytes(ORDER_HEADERS, order_rows()))
    page_url = response.headers["location"]
    job = jobs.job_get(data_dir=settings.data_dir, token=page_url.rsplit("/", 1)[1])
    job.save_state(reading=True)  # as a process that died under the reader leaves it
    for _ in range(2):
        page = BeautifulSoup((await client.get(page_url)).text, "html.parser")
        assert "stopped the server the last time" in page.select_one("#import-refused").text
        assert page.select_one("#import-form") is None
