"""Every item of the reliability and security checklist has a named test, and docs/SECURITY.md says which."""

from pathlib import Path

from tests.checklist_map import DOC, checklist_map, problems, with_table


def test_every_checklist_item_has_a_test() -> None:
    assert problems(checklist_map()) == []


def test_the_table_in_security_md_matches_the_markers() -> None:
    document = DOC.read_text(encoding="utf-8")
    assert with_table(document, checklist_map()) == document, (
        "docs/SECURITY.md is out of date: run python -m tests.checklist_map --write"
    )


def test_the_map_reads_functions_classes_and_modules_and_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "tests" / "deep").mkdir(parents=True)
    (tmp_path / "tests" / "test_a.py").write_text(
        "import pytest\n"
        "pytestmark = [pytest.mark.browser, pytest.mark.checklist(3)]\n"
        "@pytest.mark.checklist(1, 2)\n"
        "async def test_one(): ...\n"
        "@pytest.mark.parametrize('x', [1])\n"
        "def test_unmarked(x): ...\n"
    )
    (tmp_path / "tests" / "deep" / "test_b.py").write_text(
        "import pytest\n"
        "@pytest.mark.checklist(4)\n"
        "class TestThings:\n"
        "    @pytest.mark.checklist(5, 36)\n"
        "    def test_inner(self): ...\n"
    )
    mapping = checklist_map(tmp_path / "tests")
    assert mapping == {
        1: ["tests/test_a.py::test_one"],
        2: ["tests/test_a.py::test_one"],
        3: ["tests/test_a.py"],
        4: ["tests/deep/test_b.py::TestThings"],
        5: ["tests/deep/test_b.py::TestThings::test_inner"],
        36: ["tests/deep/test_b.py::TestThings::test_inner"],
    }
    missing, unknown = problems(mapping)
    assert missing == "checklist items with no test: " + ", ".join(str(n) for n in range(6, 36))
    assert unknown.startswith("checklist markers naming no item: 36")
