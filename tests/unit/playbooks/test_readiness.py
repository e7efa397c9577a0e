"""The playbook's rules against a case: missing items, the notice window in calendar and working days, the minimum."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.playbooks.readiness import (
    CaseState,
    RequiredItem,
    Rules,
    readiness,
    window_end,
)
from app.rules.calendar import HolidayCalendar
from app.rules.facts import free_key, is_free_key

CN = HolidayCalendar.for_country("CN")


def test_a_working_day_window_skips_weekends_and_the_spring_festival_but_counts_make_up_days() -> None:
    rules = Rules(window_days=5, window_from="delivery", window_counting="working")
    # Thu 12 Feb 2026: Fri 13 (1), Sat 14 is a make-up working day (2), 15–23 Feb are the Spring Festival,
    # then Tue 24 (3), Wed 25 (4), Thu 26 (5).
    state = CaseState("quality_defect", delivered_on=date(2026, 2, 12))
    assert window_end(rules, state, CN) == date(2026, 2, 26)
    # Without a holiday calendar only Saturdays and Sundays are skipped: Fri 13, Mon 16 … Thu 19.
    assert window_end(rules, state, HolidayCalendar()) == date(2026, 2, 19)
    # Calendar days simply add up.
    assert window_end(Rules(window_days=5), state) == date(2026, 2, 17)


def test_the_window_counts_from_discovery_when_the_playbook_says_so() -> None:
    rules = Rules(window_days=10, window_from="discovery")
    state = CaseState("quality_defect", delivered_on=date(2026, 3, 1), discovered_on=date(2026, 3, 20))
    assert window_end(rules, state) == date(2026, 3, 30)
    assert window_end(Rules(window_days=10, window_from="delivery"), state) == date(2026, 3, 11)


def test_gaps_name_the_missing_items_the_window_and_the_minimum() -> None:
    batch = RequiredItem(free_key("Batch number photo"), "Batch number photo")
    only_transit = RequiredItem("damage_photos", problem_types=("transit_damage",))
    rules = Rules(
        items=(batch, RequiredItem("defect_evidence"), only_transit),
        window_days=30,
        minimum_value=Decimal("500"),
        minimum_currency="USD",
    )
    state = CaseState(
        "quality_defect",
        covered=frozenset({"defect_evidence"}),
        delivered_on=date(2026, 11, 10),
        claim_amount=Decimal("120"),
        currency="USD",
    )
    gaps = readiness(rules, state, today=date(2026, 12, 8))
    kinds = [(gap.kind, gap.item, gap.blocking) for gap in gaps]
    # Blocking first; the transit-only item does not apply to a quality defect; the window ends 10 Dec.
    assert kinds == [
        ("missing_item", "pb:batch_number_photo", True),
        ("below_minimum", "", True),
        ("window_closing", "", False),
    ]
    closing = gaps[-1]
    assert closing.day == date(2026, 12, 10) and closing.days == 2


def test_nothing_is_missing_when_the_case_has_it_all_and_a_closed_window_blocks() -> None:
    rules = Rules(items=(RequiredItem("defect_evidence"),), window_days=7, minimum_value=Decimal("100"))
    state = CaseState(
        "quality_defect",
        covered=frozenset({"defect_evidence"}),
        delivered_on=date(2026, 12, 1),
        claim_amount=Decimal("100"),
        currency="CNY",
    )
    assert readiness(rules, state, today=date(2026, 12, 2)) == []
    late = readiness(rules, state, today=date(2026, 12, 9))
    assert [(gap.kind, gap.day, gap.blocking) for gap in late] == [("window_closed", date(2026, 12, 8), True)]


def test_unknown_dates_amounts_and_other_currencies_warn_without_blocking() -> None:
    rules = Rules(window_days=7, minimum_value=Decimal("100"), minimum_currency="EUR")
    state = CaseState("quality_defect", claim_amount=Decimal("5"), currency="CNY")
    gaps = readiness(rules, state, today=date(2026, 12, 2))
    assert [(gap.kind, gap.blocking) for gap in gaps] == [("window_unknown", False), ("minimum_unknown", False)]


def test_free_item_keys_are_short_slugs_that_files_can_be_tagged_with() -> None:
    assert free_key("  Photo of the BATCH number! ") == "pb:photo_of_the_batch_number"
    assert free_key("批号照片") == "pb:批号照片"
    assert len(free_key("x" * 100)) == 40
    assert is_free_key("pb:batch") and not is_free_key("pb:") and not is_free_key("pb:a b") and not is_free_key("x")


def test_a_conventions_notice_due_before_the_playbooks_window_ends_is_named() -> None:
    rules = Rules(window_days=30)
    state = CaseState(
        "transit_damage",
        delivered_on=date(2026, 12, 1),
        notices=(("CISG", date(2027, 2, 1)), ("CMR", date(2026, 12, 9)), ("CMR", date(2026, 11, 30))),
    )
    gaps = readiness(rules, state, today=date(2026, 12, 2))
    # Only the open one that falls inside the window (the one already past is the hint's to warn about).
    assert [(gap.kind, gap.regime, gap.day, gap.blocking) for gap in gaps] == [
        ("notice_first", "CMR", date(2026, 12, 9), False)
    ]
    assert readiness(Rules(), state, today=date(2026, 12, 2)) == []
