"""Business calendars: weekends and public holidays per country (TOML data), and counting days on them.

The tracking clocks count on these calendars too.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from app.rules.errors import RuleFileError

HOLIDAYS_DIR = Path(__file__).parent / "data" / "holidays"


WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


SUNDAY = 6


@dataclass(frozen=True)
class HolidayCalendar:
    """Days that do not count in "Sundays and public holidays excepted" periods, for one place."""

    name: str = "Sundays only"
    holidays: frozenset[date] = frozenset()
    rest_weekdays: frozenset[int] = frozenset({SUNDAY})
    # Official make-up working days (China's 调休) count even when they fall on a rest weekday:
    # that gives the earlier date, which is the safe side for a notice.
    working_days: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()

    def is_rest_day(self, day: date) -> bool:
        if day in self.working_days:
            return False
        return day.weekday() in self.rest_weekdays or day in self.holidays

    def add_counted_days(self, start: date, days: int) -> date:
        """The `days`-th day after `start` that is not a rest day (`start` itself never counts)."""
        current = start
        counted = 0
        while counted < days:
            current += timedelta(days=1)
            if not self.is_rest_day(current):
                counted += 1
        return current

    @classmethod
    def from_file(cls, path: Path | str) -> HolidayCalendar:
        return _load_calendar(Path(path))

    @classmethod
    def for_country(cls, code: str) -> HolidayCalendar:
        """The shipped calendar for an ISO country code; LookupError if none is shipped."""
        code = code.strip().upper()
        path = HOLIDAYS_DIR / f"{code}.toml"
        if not (len(code) == 2 and code.isalpha() and code.isascii()) or not path.is_file():
            raise LookupError(f"no holiday calendar shipped for {code!r}; shipped: {', '.join(shipped_countries())}")
        return _cached_calendar(path)


@functools.cache
def _cached_calendar(path: Path) -> HolidayCalendar:
    return _load_calendar(path)


def shipped_countries() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in HOLIDAYS_DIR.glob("*.toml")))


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def _load_calendar(path: Path) -> HolidayCalendar:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError(f"cannot read holiday file: {exc.strerror}", path=path) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError.from_toml(exc, path=path, text=text) from exc

    def fail(message: str, needle: str | None = None) -> RuleFileError:
        return RuleFileError(message, path=path, line=_line_of(text, needle) if needle else None)

    known_keys = {"country", "name", "rest_weekdays", "years", "holidays", "working_days", "source"}
    for key in data:
        if key not in known_keys:
            raise fail(f"unknown key {key!r}; expected one of {', '.join(sorted(known_keys))}", key)
    name = data.get("name", data.get("country", path.stem))
    if not isinstance(name, str):
        raise fail("name must be a string", "name")
    rest_names = data.get("rest_weekdays", ["sunday"])
    if not isinstance(rest_names, list) or not all(isinstance(d, str) and d in WEEKDAYS for d in rest_names):
        raise fail(f"rest_weekdays must be a list of {', '.join(WEEKDAYS)}", "rest_weekdays")
    years = data.get("years", [])
    if not isinstance(years, list) or not all(isinstance(y, int) and not isinstance(y, bool) for y in years):
        raise fail("years must be a list of integers", "years")
    year_set = frozenset(years)

    def dates_of(key: str) -> frozenset[date]:
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise fail(f"{key} must be an array of {{ date = ..., name = ... }} tables", key)
        found: set[date] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name", ""), str):
                raise fail(f"each {key} entry needs a date (or from/to) and a name", key)
            if "date" in entry:
                first = last = entry["date"]
            else:
                first, last = entry.get("from"), entry.get("to")
            if not isinstance(first, date) or not isinstance(last, date) or hasattr(first, "hour"):
                raise fail(f"{key} entry {entry.get('name', '?')!r} needs TOML dates (YYYY-MM-DD)", key)
            if last < first or (last - first).days > 31:
                raise fail(f"{key} range {first} to {last} is reversed or longer than a month", str(first))
            day = first
            while day <= last:
                if day.year not in year_set:
                    raise fail(f"{day} is outside the years this file declares ({sorted(year_set)})", str(first))
                found.add(day)
                day += timedelta(days=1)
        return frozenset(found)

    return HolidayCalendar(
        name=name,
        holidays=dates_of("holidays"),
        rest_weekdays=frozenset(WEEKDAYS.index(d) for d in rest_names),
        working_days=dates_of("working_days"),
        years=year_set,
    )


def add_years(start: date, years: int) -> date:
    """Same day `years` later; 29 February falls back to the 28th (the earlier, safe date)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)
