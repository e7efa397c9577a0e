"""SLA limits counted in the clock owner's calendar: holidays, make-up days, working hours."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.i18n import DEFAULT_TIME_ZONE, configure_company_zone
from app.tracking.policies import Limit, PolicyError, load_policy, save_override

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_three_business_days_from_the_friday_before_spring_festival() -> None:
    # Fri 2026-02-13; Sat 14 is a make-up working day (调休), 15–23 are the holiday, so: 14, 24, 25.
    calendar = load_policy().party_calendar("supplier", country="CN", zone="Asia/Shanghai")
    start = datetime(2026, 2, 13, 10, 0, tzinfo=SHANGHAI)
    due = calendar.add(start, Limit(days=3))
    assert due == datetime(2026, 2, 25, 10, 0, tzinfo=SHANGHAI)


def test_a_german_calendar_skips_the_weekend_not_the_spring_festival() -> None:
    calendar = load_policy().party_calendar("carrier", zone="Europe/Berlin")
    start = datetime(2026, 2, 13, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert calendar.add(start, Limit(days=3)) == datetime(2026, 2, 18, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_our_own_stages_run_on_the_company_zone_and_its_holidays() -> None:
    configure_company_zone("Europe/Berlin")
    try:
        ours = load_policy().party_calendar("us")
    finally:
        configure_company_zone(DEFAULT_TIME_ZONE)
    berlin = ZoneInfo("Europe/Berlin")
    assert ours.zone == berlin
    # Fri 13 Feb 2026, three working days: Berlin skips the weekend only, not the Spring Festival.
    start = datetime(2026, 2, 13, 10, 0, tzinfo=berlin)
    assert ours.add(start, Limit(days=3)) == datetime(2026, 2, 18, 10, 0, tzinfo=berlin)
    assert load_policy().party_calendar("us").zone == SHANGHAI


@pytest.mark.parametrize(
    ("zone", "after_one_day"),
    [
        # Thanksgiving (Thu 26 Nov 2026) is a US holiday: Wednesday's day ends on Friday in Chicago.
        ("America/Chicago", datetime(2026, 11, 27, 10, 0)),
        # No French holiday file: Paris keeps the working week only, never the Chinese calendar.
        ("Europe/Paris", datetime(2026, 11, 26, 10, 0)),
    ],
)
def test_the_company_zone_names_the_country_of_our_holidays(zone: str, after_one_day: datetime) -> None:
    configure_company_zone(zone)
    try:
        ours = load_policy().party_calendar("us")
    finally:
        configure_company_zone(DEFAULT_TIME_ZONE)
    start = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(zone))
    assert ours.add(start, Limit(days=1)) == after_one_day.replace(tzinfo=ZoneInfo(zone))
    # And the spring festival does not stop a Paris clock: Fri 13 Feb + 3 working days is Wed 18 Feb.
    if zone == "Europe/Paris":
        festival = datetime(2026, 2, 13, 10, 0, tzinfo=ZoneInfo(zone))
        assert ours.add(festival, Limit(days=3)) == datetime(2026, 2, 18, 10, 0, tzinfo=ZoneInfo(zone))


def test_working_hours_carry_over_to_the_next_working_day() -> None:
    calendar = load_policy().party_calendar("us")
    start = datetime(2026, 3, 6, 16, 0, tzinfo=SHANGHAI)  # a Friday, two working hours left
    assert calendar.add(start, Limit(hours=8)) == datetime(2026, 3, 9, 15, 0, tzinfo=SHANGHAI)


def test_a_start_after_hours_counts_from_the_next_opening() -> None:
    calendar = load_policy().party_calendar("us")
    start = datetime(2026, 3, 6, 23, 30, tzinfo=SHANGHAI).astimezone(UTC)
    assert calendar.add(start, Limit(days=1)) == datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)


def test_urgency_and_problem_type_change_the_limit() -> None:
    policy = load_policy()
    assert policy.limit(node="responsibility", problem_type="quality_defect", urgency="normal") == Limit(days=3)
    assert policy.limit(node="responsibility", problem_type="quality_defect", urgency="critical") == Limit(days=2)
    assert policy.limit(node="responsibility", problem_type="lost_in_transit", urgency="normal") == Limit(days=5)
    assert policy.owner(node="responsibility", problem_type="transit_damage") == "carrier"
    assert policy.owner(node="responsibility", problem_type="quality_defect") == "supplier"


def test_quiet_hours_are_the_recipients_local_night() -> None:
    policy = load_policy()
    moment = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, 16:00 in Berlin
    assert policy.in_quiet_hours(moment, "Asia/Shanghai")
    assert not policy.in_quiet_hours(moment, "Europe/Berlin")


def test_an_override_is_checked_then_stored(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        save_override(tmp_path, '[nodes.plan]\nowner = "nobody"\n')
    assert not (tmp_path / "sla_override.toml").exists()
    policy = save_override(tmp_path, "[nodes.plan]\ndays = 5\n")
    assert policy.limit(node="plan", problem_type="other", urgency="normal") == Limit(days=5)
    assert load_policy(tmp_path).limit(node="plan", problem_type="other", urgency="normal") == Limit(days=5)
