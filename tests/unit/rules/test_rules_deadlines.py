"""Notice deadlines and time bars: month ends, Sundays, public holidays, leap years, couriers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.rules import Deadline, HolidayCalendar, RuleFileError, add_years, parse_facts, shipped_countries, suggest
from app.rules.deadlines import compute_deadlines
from app.rules.warnings import RuleWarning

TODAY = date(2026, 11, 26)


def deadlines(
    facts: Mapping[str, object],
    *,
    today: date = TODAY,
    calendar: HolidayCalendar | None = None,
    carrier_windows: dict[str, int] | None = None,
) -> dict[str, Deadline]:
    report = compute_deadlines(
        parse_facts(facts, today=today), today=today, calendar=calendar, carrier_windows=carrier_windows
    )
    return {d.kind: d for d in report.deadlines}


def warnings(facts: Mapping[str, object], *, today: date = TODAY, **kwargs: object) -> tuple[str, ...]:
    return tuple(warning.text for warning in suggest(facts, today=today, **kwargs).warnings)  # type: ignore[arg-type]


def concealed(mode: str, delivered: str, **extra: object) -> dict[str, object]:
    return {
        "problem_type": "transit_damage",
        "transport_mode": mode,
        "delivered_on": delivered,
        "damage_noted_on_receipt": False,
        **extra,
    }


# --- CMR: 7 days, Sundays and public holidays excepted -------------------------------------------


def test_cmr_seven_days_over_chinese_national_day_2026() -> None:
    # Tue 29 Sep: Wed 30 (1), 1-7 Oct holidays, Thu 8 (2), Fri 9 (3), Sat 10 (4, make-up working day),
    # Sun 11 skipped, Mon 12 (5), Tue 13 (6), Wed 14 (7).
    cn = HolidayCalendar.for_country("CN")
    due = deadlines(concealed("road", "2026-09-29"), calendar=cn)["non_apparent_damage"]
    assert (due.regime, due.due) == ("CMR", date(2026, 10, 14))
    assert due.basis == ("CMR Art. 30(1)",)


def test_cmr_counts_a_chinese_make_up_sunday_as_a_working_day() -> None:
    # Fri 26 Sep 2025: Sat 27 (1), Sun 28 is an official working day (2), Mon 29 (3), Tue 30 (4),
    # 1-8 Oct holidays, Thu 9 (5), Fri 10 (6), Sat 11 (7).
    cn = HolidayCalendar.for_country("CN")
    assert cn.add_counted_days(date(2025, 9, 26), 7) == date(2025, 10, 11)
    assert HolidayCalendar().add_counted_days(date(2025, 9, 26), 7) == date(2025, 10, 4)


def test_cmr_seven_days_over_christmas_in_germany() -> None:
    # Tue 22 Dec 2026: Wed 23 (1), Thu 24 (2), Fri 25 and Sat 26 holidays, Sun 27, Mon 28 (3) ... Thu 31 (6),
    # Fri 1 Jan holiday, Sat 2 Jan (7).
    de = HolidayCalendar.for_country("DE")
    assert deadlines(concealed("road", "2026-12-22"), calendar=de, today=date(2027, 1, 5))[
        "non_apparent_damage"
    ].due == date(2027, 1, 2)
    # Tue 23 Dec 2025: Wed 24 (1), 25/26 holidays, Sat 27 (2), Sun 28, Mon 29 (3), Tue 30 (4), Wed 31 (5),
    # Thu 1 Jan holiday, Fri 2 (6), Sat 3 (7).
    assert de.add_counted_days(date(2025, 12, 23), 7) == date(2026, 1, 3)


def test_delivery_country_picks_the_shipped_calendar() -> None:
    facts = concealed("road", "2026-12-22", delivery_country="de")
    assert deadlines(facts, today=date(2027, 1, 5))["non_apparent_damage"].due == date(2027, 1, 2)


def test_without_a_calendar_only_sundays_are_skipped_and_the_user_is_told() -> None:
    facts = concealed("road", "2026-12-22", incoterm="FOB")
    assert deadlines(facts, today=date(2027, 1, 5))["non_apparent_damage"].due == date(2026, 12, 30)
    assert any("no holiday calendar" in w for w in warnings(facts, today=date(2027, 1, 5)))


def test_counting_past_the_calendar_years_is_flagged() -> None:
    facts = concealed("road", "2027-12-28")
    found = warnings(facts, today=date(2028, 1, 20), calendar=HolidayCalendar.for_country("DE"))
    assert any("2028" in w and "holiday calendar" in w for w in found)


def test_cmr_delay_is_21_calendar_days_across_the_year_end() -> None:
    facts = {"problem_type": "late_delivery", "transport_mode": "road", "delivered_on": "2026-12-20"}
    due = deadlines(facts, today=date(2027, 1, 2))["delay"]
    assert (due.regime, due.due, due.basis) == ("CMR", date(2027, 1, 10), ("CMR Art. 30(3)",))


# --- Other regimes, across month ends ------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "kind", "regime", "due"),
    [
        (concealed("air", "2026-01-25"), "non_apparent_damage", "Montreal 1999", date(2026, 2, 8)),
        ({**concealed("air", "2026-01-25"), "damage_noted_on_receipt": None}, "apparent_damage",
         "Montreal 1999", date(2026, 2, 8)),
        (concealed("sea", "2026-01-30"), "non_apparent_damage", "Hague-Visby", date(2026, 2, 2)),
        (concealed("sea", "2026-04-20", sea_regime="hamburg"), "non_apparent_damage", "Hamburg",
         date(2026, 5, 5)),
        (concealed("rail", "2026-06-28"), "non_apparent_damage", "COTIF-CIM", date(2026, 7, 5)),
        ({"problem_type": "late_delivery", "transport_mode": "rail", "delivered_on": "2026-11-01"}, "delay",
         "COTIF-CIM", date(2026, 12, 31)),
        ({"problem_type": "late_delivery", "transport_mode": "sea", "sea_regime": "hamburg",
          "delivered_on": "2026-09-01"}, "delay", "Hamburg", date(2026, 10, 31)),
        ({"problem_type": "late_delivery", "transport_mode": "air", "delivered_on": "2026-02-10"}, "delay",
         "Montreal 1999", date(2026, 3, 3)),
        (concealed("road", "2026-01-31"), "time_bar", "CMR", date(2027, 1, 31)),
        (concealed("air", "2026-01-31"), "time_bar", "Montreal 1999", date(2028, 1, 31)),
        (concealed("sea", "2026-01-31", sea_regime="hamburg"), "time_bar", "Hamburg", date(2028, 1, 31)),
        (concealed("rail", "2026-01-31"), "time_bar", "COTIF-CIM", date(2027, 1, 31)),
        (concealed("sea", "2026-01-31"), "cisg_notice_stop", "CISG", date(2028, 1, 31)),
    ],
)  # fmt: skip
def test_regime_periods(facts: dict[str, object], kind: str, regime: str, due: date) -> None:
    found = deadlines(facts, today=date(2026, 12, 31))[kind]
    assert (found.regime, found.due) == (regime, due)


def test_hamburg_apparent_damage_is_due_the_next_working_day() -> None:
    # Sat 3 Oct 2026 is German Unity Day; Sunday 4 is a rest day, so Monday 5 is the next working day.
    facts = {
        "problem_type": "transit_damage",
        "transport_mode": "sea",
        "sea_regime": "hamburg",
        "delivered_on": "2026-10-02",
    }
    found = deadlines(facts, calendar=HolidayCalendar.for_country("DE"))["apparent_damage"]
    assert (found.due, found.basis) == (date(2026, 10, 5), ("Hamburg Rules Art. 19(1)",))


def test_hague_visby_has_no_delay_notice() -> None:
    facts = {"problem_type": "late_delivery", "transport_mode": "sea", "delivered_on": "2026-11-01"}
    assert "delay" not in deadlines(facts)
    assert any("no delay notice regime" in w for w in warnings(facts))


# --- Leap years --------------------------------------------------------------------------------


def test_leap_day_periods() -> None:
    leap_today = date(2030, 3, 10)
    # Fri 25 Feb 2028: Sat 26 (1), Sun 27 skipped, Mon 28 (2), Tue 29 Feb (3), Wed 1 Mar (4) ... Sat 4 (7).
    assert deadlines(concealed("road", "2028-02-25"), today=leap_today)["non_apparent_damage"].due == date(2028, 3, 4)
    assert deadlines(concealed("air", "2028-02-20"), today=leap_today)["non_apparent_damage"].due == date(2028, 3, 5)
    assert deadlines(concealed("air", "2027-02-20"), today=leap_today)["non_apparent_damage"].due == date(2027, 3, 6)
    from_leap_day = deadlines(concealed("road", "2028-02-29"), today=leap_today)
    assert from_leap_day["time_bar"].due == date(2029, 2, 28)
    assert from_leap_day["cisg_notice_stop"].due == date(2030, 2, 28)
    assert deadlines(concealed("air", "2026-02-28"), today=leap_today)["time_bar"].due == date(2028, 2, 28)


def test_add_years() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)
    assert add_years(date(2026, 12, 31), 2) == date(2028, 12, 31)


# --- Couriers ------------------------------------------------------------------------------------


def test_courier_defaults_to_21_days_and_can_be_overridden_per_carrier() -> None:
    facts = concealed("courier", "2026-11-20")
    assert deadlines(facts)["non_apparent_damage"].due == date(2026, 12, 11)
    short = deadlines(facts, carrier_windows={"damage": 14})["non_apparent_damage"]
    assert (short.regime, short.due) == ("courier", date(2026, 12, 4))
    assert "time_bar" not in deadlines(facts)


def test_courier_shortage_and_delay_windows() -> None:
    shortage = {"problem_type": "short_shipment", "transport_mode": "courier", "delivered_on": "2026-11-20"}
    assert deadlines(shortage, carrier_windows={"damage": 14, "shortage": 7})["non_apparent_damage"].due == date(
        2026, 11, 27
    )
    # Without its own shortage window, a shortage follows the damage window.
    assert deadlines(shortage, carrier_windows={"damage": 10})["non_apparent_damage"].due == date(2026, 11, 30)
    late = {"problem_type": "late_delivery", "transport_mode": "courier", "delivered_on": "2026-11-20"}
    assert deadlines(late, carrier_windows={"delay": 5})["delay"].due == date(2026, 11, 25)


def test_courier_window_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown carrier window"):
        deadlines(concealed("courier", "2026-11-20"), carrier_windows={"dammage": 14})
    with pytest.raises(ValueError, match="whole number"):
        deadlines(concealed("courier", "2026-11-20"), carrier_windows={"damage": -1})


# --- Multimodal ----------------------------------------------------------------------------------


def test_multimodal_uses_the_earliest_notice_and_says_so() -> None:
    facts = concealed("multimodal", "2026-11-02")
    found = deadlines(facts)
    assert (found["non_apparent_damage"].regime, found["non_apparent_damage"].due) == (
        "Hague-Visby",
        date(2026, 11, 5),
    )
    assert found["time_bar"].due == date(2027, 11, 2)
    assert any("no single liability regime" in w for w in warnings(facts))
    hamburg = deadlines(concealed("multimodal", "2026-11-02", sea_regime="hamburg"))
    assert (hamburg["non_apparent_damage"].regime, hamburg["non_apparent_damage"].due) == (
        "COTIF-CIM",
        date(2026, 11, 9),
    )
    late = deadlines({"problem_type": "late_delivery", "transport_mode": "multimodal", "delivered_on": "2026-11-02"})
    assert (late["delay"].regime, late["delay"].due) == ("CMR", date(2026, 11, 23))


# --- Claim at risk -------------------------------------------------------------------------------


def test_passed_cmr_notice_puts_the_claim_at_risk() -> None:
    facts = concealed("road", "2026-10-20", incoterm="FOB", delivery_country="DE")
    found = deadlines(facts)["non_apparent_damage"]
    assert found.status == "passed"
    assert any(w.startswith(f"claim at risk: carrier notice due {found.due.isoformat()} has passed") for w in
               warnings(facts))  # fmt: skip


def test_missed_montreal_notice_bars_the_action() -> None:
    facts = concealed("air", "2026-10-01")
    found = warnings(facts)
    assert any("claim at risk" in w and "2026-10-15" in w and "no action lies against the carrier" in w for w in found)


def test_notice_sent_in_time_is_met_and_late_notice_is_flagged() -> None:
    in_time = deadlines(concealed("sea", "2026-11-02", carrier_notice_on="2026-11-05"))
    assert in_time["non_apparent_damage"].status == "met"
    late = concealed("sea", "2026-11-02", carrier_notice_on="2026-11-06")
    assert deadlines(late)["non_apparent_damage"].status == "passed"
    assert any("was sent on 2026-11-06, after it was due on 2026-11-05" in w for w in warnings(late))


def test_a_late_notice_warning_keeps_its_values_for_the_readers_language() -> None:
    late = concealed("sea", "2026-11-02", carrier_notice_on="2026-11-06")
    risk = next(w for w in suggest(late, today=TODAY).warnings if w.at_risk)
    assert risk.message.startswith("claim at risk: carrier notice was sent on %(sent)s")
    values = {name: (value, kind) for name, value, kind in risk.values}
    assert values["sent"] == ("2026-11-06", "date") and values["due"] == ("2026-11-05", "date")
    assert values["regime"] == ("Hague-Visby", "text") and values["kind"] == ("non-apparent damage", "text")
    # What a stored hint keeps comes back as the same warning; a kind it does not know is shown plain.
    stored = json.loads(json.dumps(risk.to_dict()))
    assert RuleWarning.from_dict(stored) == risk
    stored["kinds"]["sent"] = "colour"
    assert dict((name, kind) for name, _, kind in RuleWarning.from_dict(stored).values)["sent"] == "plain"
    fixed = next(w for w in suggest({"problem_type": "transit_damage"}, today=TODAY).warnings)
    assert fixed.values == () and not fixed.at_risk and fixed.text == fixed.message


def test_open_notice_before_its_due_date() -> None:
    found = deadlines(concealed("road", "2026-11-25", delivery_country="DE"))["non_apparent_damage"]
    assert found.status == "open"


def test_noted_damage_meets_the_apparent_damage_notice() -> None:
    facts = {
        "problem_type": "transit_damage",
        "transport_mode": "road",
        "delivered_on": "2026-10-01",
        "damage_noted_on_receipt": True,
    }
    found = deadlines(facts)
    assert found["apparent_damage"].status == "met"
    assert "non_apparent_damage" not in found


def test_visible_damage_not_noted_on_receipt_is_flagged() -> None:
    facts = concealed("road", "2026-11-20", outer_packaging="damaged")
    found = deadlines(facts)
    assert found["apparent_damage"].due == date(2026, 11, 20)
    assert found["apparent_damage"].status == "passed"


def test_cisg_two_year_stop_mentions_articles_40_and_44() -> None:
    facts = {"problem_type": "quality_defect", "delivered_on": "2024-11-01", "discovered_on": "2026-11-20"}
    found = deadlines(facts)["cisg_notice_stop"]
    assert (found.party, found.due, found.status) == ("supplier", date(2026, 11, 1), "passed")
    risk = [w for w in warnings(facts) if "CISG Art. 39(2)" in w]
    assert risk and "claim at risk" in risk[0] and "Art. 40" in risk[0] and "Art. 44" in risk[0]
    notified = deadlines({**facts, "supplier_notice_on": "2026-10-30"})["cisg_notice_stop"]
    assert notified.status == "met"


def test_time_bar_passed_is_flagged() -> None:
    facts = concealed("road", "2025-10-01", carrier_notice_on="2025-10-02")
    assert any("CMR time bar on 2026-10-01 has passed" in w for w in warnings(facts))


def test_without_a_delivery_date_the_discovery_date_is_used_with_a_warning() -> None:
    facts = {"problem_type": "transit_damage", "transport_mode": "air", "discovered_on": "2026-11-10"}
    assert deadlines(facts)["non_apparent_damage"].due == date(2026, 11, 24)
    assert any("counted from the discovery date" in w for w in warnings(facts))
    assert deadlines({"problem_type": "transit_damage", "transport_mode": "air"}) == {}


# --- Holiday data --------------------------------------------------------------------------------


def _easter(year: int) -> date:
    # Anonymous Gregorian computus, to check the shipped Easter-based holidays independently.
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_shipped_easter_holidays_match_the_computus(year: int) -> None:
    easter = _easter(year)
    de, gb = HolidayCalendar.for_country("DE"), HolidayCalendar.for_country("GB")
    for offset in (-2, 1):
        assert easter + timedelta(days=offset) in de.holidays
        assert easter + timedelta(days=offset) in gb.holidays
    assert easter + timedelta(days=39) in de.holidays  # Ascension
    assert easter + timedelta(days=50) in de.holidays  # Whit Monday


def test_shipped_calendars() -> None:
    assert set(shipped_countries()) >= {"CN", "DE", "GB", "US"}
    cn = HolidayCalendar.for_country("cn")
    assert date(2026, 2, 17) in cn.holidays  # Spring Festival 2026
    assert all(date(2026, 10, day) in cn.holidays for day in range(1, 8))
    assert date(2026, 9, 20) in cn.working_days
    us = HolidayCalendar.for_country("US")
    assert date(2026, 7, 3) in us.holidays and date(2027, 12, 31) in us.holidays
    gb = HolidayCalendar.for_country("GB")
    assert date(2026, 12, 28) in gb.holidays
    for calendar in (cn, us, gb, HolidayCalendar.for_country("DE")):
        assert calendar.years == frozenset({2025, 2026, 2027})
        assert calendar.rest_weekdays == frozenset({6})
    with pytest.raises(LookupError):
        HolidayCalendar.for_country("ZZ")


def test_holiday_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "XX.toml"
    broken.write_text('country = "XX"\nyears = [2026]\nholidays = [\n  { date = 2026-13-01, name = "x" },\n]\n')
    with pytest.raises(RuleFileError, match=r"XX\.toml:4:"):
        HolidayCalendar.from_file(broken)
    outside = tmp_path / "YY.toml"
    outside.write_text('country = "YY"\nyears = [2026]\nholidays = [\n  { date = 2027-01-01, name = "x" },\n]\n')
    with pytest.raises(RuleFileError, match=r"YY\.toml:4: 2027-01-01 is outside the years"):
        HolidayCalendar.from_file(outside)
    custom = tmp_path / "ZZ.toml"
    custom.write_text(
        'country = "ZZ"\nrest_weekdays = ["friday"]\nyears = [2026]\n'
        'holidays = [{ from = 2026-03-20, to = 2026-03-22, name = "Eid" }]\n'
    )
    calendar = HolidayCalendar.from_file(custom)
    # Thu 19 Mar 2026: 20-22 holidays (20 is also Friday), Mon 23 (1).
    assert calendar.add_counted_days(date(2026, 3, 19), 1) == date(2026, 3, 23)
