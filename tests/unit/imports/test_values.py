"""Cell values from spreadsheets: dates, amounts, counts and taxonomy names, and oversized files."""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from app.imports import values
from app.imports.columns import auto_mapping, known_headers
from app.imports.reader import MAX_ROWS, FileRefused, read_sheet


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (46086, date(2026, 3, 5)),
        (46086.75, date(2026, 3, 5)),
        ("46086", date(2026, 3, 5)),
        (datetime(2026, 3, 5, 14, 30), date(2026, 3, 5)),
        ("2026-03-05", date(2026, 3, 5)),
        ("2026/3/5", date(2026, 3, 5)),
        ("2026.3.5", date(2026, 3, 5)),
        ("2026年3月5日", date(2026, 3, 5)),
        ("20260305", date(2026, 3, 5)),
        ("5.3.2026", date(2026, 3, 5)),
        ("2026-03-05 14:30:00", date(2026, 3, 5)),
        ("2026-03-05T14:30:00+08:00", date(2026, 3, 5)),
        ("22 Mar 2025", date(2025, 3, 22)),
        ("22-Mar-25", date(2025, 3, 22)),
        ("Mar 22, 2025", date(2025, 3, 22)),
        ("March 22nd, 2025", date(2025, 3, 22)),
        ("22 August 2025", date(2025, 8, 22)),
        ("Sept 3, 2024", date(2024, 9, 3)),
        ("2025-Mar-22", date(2025, 3, 22)),
        ("22 三月 2025", date(2025, 3, 22)),
        ("十二月 5, 2025", date(2025, 12, 5)),
        ("22/03/2025", date(2025, 3, 22)),
        ("22/03/2025 9:15 AM", date(2025, 3, 22)),
        ("3/5/26", date(2026, 5, 3)),
        ("", None),
        (None, None),
    ],
)
def test_dates(raw: object, expected: date | None) -> None:
    assert values.parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [("03/04/2025", "dmy", date(2025, 4, 3)), ("03/04/2025", "mdy", date(2025, 3, 4)),
     ("5.3.2026", "mdy", date(2026, 5, 3)), ("12-31-99", "mdy", date(1999, 12, 31))],
)  # fmt: skip
def test_day_month_dates_follow_the_files_order(raw: str, order: str, expected: date) -> None:
    assert values.parse_date(raw, order=order) == expected


@pytest.mark.parametrize(
    ("cells", "found"),
    [
        (["03/04/2025", "22/03/2025"], ("dmy", True)),
        (["03/04/2025", "03/22/2025", "22/03/2025"], ("mdy", True)),
        (["03/04/2025", "05/06/2025"], (None, True)),
        (["2025-03-04", 45000, None], (None, False)),
    ],
)
def test_the_files_day_month_order_is_found_in_its_dates(cells: list[object], found: tuple[str | None, bool]) -> None:
    assert values.date_order_of(cells) == found


@pytest.mark.parametrize(
    "raw", ["2026-02-30", "next week", "03/22/2025", -4, "2026年13月1日", "Mar 2025", "Mar Apr 2025", "32 Mar 2025"]
)
def test_bad_dates_say_why(raw: object) -> None:
    with pytest.raises(values.ValueProblem):
        values.parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [
        ("¥1,234.50", Decimal("1234.50"), "CNY"),
        ("￥12", Decimal("12"), "CNY"),
        ("100元", Decimal("100"), "CNY"),
        ("1234.5 USD", Decimal("1234.5"), "USD"),
        ("€ 9.99", Decimal("9.99"), "EUR"),
        (12.3, Decimal("12.3"), None),
        (7, Decimal("7"), None),
    ],
)
def test_amounts_keep_their_currency(raw: object, amount: Decimal, currency: str | None) -> None:
    assert values.parse_amount(raw) == (amount, currency)


@pytest.mark.parametrize("raw", ["12..5", "abc", "1,2,3.4.5", "NaN", "Infinity", True])
def test_bad_amounts(raw: object) -> None:
    with pytest.raises(values.ValueProblem):
        values.parse_amount(raw)


def test_counts_and_taxonomy() -> None:
    assert values.parse_count("1,200") == 1200 and values.parse_count(12.0) == 12 and values.parse_count("5件") == 5
    with pytest.raises(values.ValueProblem):
        values.parse_count(2.5)
    assert values.parse_problem_type("破损") == "transit_damage"
    assert values.parse_problem_type("质量问题") == "quality_defect"
    assert values.parse_problem_type("Wrong item") == "wrong_item"
    assert values.parse_party("承运商") == "carrier" and values.parse_remedy("补发") == "replacement"
    assert values.parse_currency("人民币") == "CNY" and values.parse_transport_mode("海运") == "sea"
    with pytest.raises(values.ValueProblem, match="not a known problem type"):
        values.parse_problem_type("外星人")


def test_chinese_and_english_headers_are_matched() -> None:
    mapping = auto_mapping("orders", ["订单号", "Supplier code", "供应商", "SKU", "Qty", "单价", "币种", "Foo"])
    assert mapping["order_number"] == 0 and mapping["supplier_code"] == 1 and mapping["supplier_name"] == 2
    assert mapping["sku"] == 3 and mapping["quantity_ordered"] == 4 and mapping["unit_price"] == 5
    assert mapping["currency"] == 6 and mapping["category"] is None


def test_a_file_over_the_row_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("w") as handle:
        handle.write("订单号,货号,数量\n")
        handle.write("PO-1,SKU,1\n" * (MAX_ROWS + 100))
    with pytest.raises(FileRefused, match="more than 200,000 rows"):
        read_sheet(path, known_headers=known_headers("orders"))
