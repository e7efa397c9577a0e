"""Carrier notice deadlines, time bars and the CISG two-year stop, counted on a holiday calendar."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from app.rules.errors import RuleFileError
from app.rules.facts import N_, Facts

HOLIDAYS_DIR = Path(__file__).parent / "data" / "holidays"

WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SUNDAY = 6

DeadlineKind = Literal["apparent_damage", "non_apparent_damage", "delay", "time_bar", "cisg_notice_stop"]
DeadlineStatus = Literal["open", "met", "passed"]

COURIER_DEFAULT_DAYS = 21
CARRIER_WINDOW_KEYS = ("damage", "shortage", "delay")

_DAMAGE_PROBLEMS = frozenset({"transit_damage", "short_shipment", "missing_parts"})
_SHORTAGE_PROBLEMS = frozenset({"short_shipment", "missing_parts", "lost_in_transit"})
# Art. 39(2) bars reliance on a lack of conformity; delay, total loss and clearance are other breaches.
_NO_CISG_STOP = frozenset({"late_delivery", "lost_in_transit", "customs_issue"})


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


@dataclass(frozen=True)
class Deadline:
    """One date by which someone must be notified or sued; `party` is who receives the notice."""

    party: str
    regime: str
    kind: DeadlineKind
    due: date
    basis: tuple[str, ...]
    status: DeadlineStatus

    def to_dict(self) -> dict[str, object]:
        return {
            "party": self.party,
            "regime": self.regime,
            "kind": self.kind,
            "due": self.due.isoformat(),
            "basis": list(self.basis),
            "status": self.status,
        }


@dataclass(frozen=True)
class DeadlineReport:
    deadlines: tuple[Deadline, ...] = ()
    warnings: tuple[str, ...] = ()


CountRule = Literal["at_delivery", "calendar_days", "counted_days", "next_working_day", "years"]


@dataclass(frozen=True)
class _Period:
    kind: DeadlineKind
    count: CountRule
    amount: int
    basis: str
    consequence: str


@dataclass(frozen=True)
class _Regime:
    name: str
    periods: tuple[_Period, ...]

    def period(self, kind: DeadlineKind) -> _Period | None:
        return next((p for p in self.periods if p.kind == kind), None)


_PRIMA_FACIE = "delivery now counts as prima facie evidence that the goods arrived as described"

# The table in TRADE-RULES.md, with the article each number comes from.
REGIMES: Mapping[str, _Regime] = {
    "CMR": _Regime(
        "CMR",
        (
            _Period("apparent_damage", "at_delivery", 0, "CMR Art. 30(1)", f"{_PRIMA_FACIE} (CMR Art. 30(1))"),
            _Period("non_apparent_damage", "counted_days", 7, "CMR Art. 30(1)", f"{_PRIMA_FACIE} (CMR Art. 30(1))"),
            _Period("delay", "calendar_days", 21, "CMR Art. 30(3)", "no compensation for delay is payable"),
            _Period(
                "time_bar", "years", 1, "CMR Art. 32(1)", "the action is barred (3 years only for wilful misconduct)"
            ),
        ),
    ),
    "Montreal 1999": _Regime(
        "Montreal 1999",
        (
            _Period(
                "apparent_damage",
                "calendar_days",
                14,
                "Montreal 1999 Art. 31(2)",
                "no action lies against the carrier, save fraud (Montreal 1999 Art. 31(4))",
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                14,
                "Montreal 1999 Art. 31(2)",
                "no action lies against the carrier, save fraud (Montreal 1999 Art. 31(4))",
            ),
            _Period(
                "delay",
                "calendar_days",
                21,
                "Montreal 1999 Art. 31(2)",
                "no action lies against the carrier, save fraud (Montreal 1999 Art. 31(4))",
            ),
            _Period("time_bar", "years", 2, "Montreal 1999 Art. 35(1)", "the right to damages is extinguished"),
        ),
    ),
    "Hague-Visby": _Regime(
        "Hague-Visby",
        (
            _Period(
                "apparent_damage",
                "at_delivery",
                0,
                "Hague-Visby Art. III(6)",
                "removal counts as prima facie evidence of delivery as described in the bill of lading",
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                3,
                "Hague-Visby Art. III(6)",
                "removal counts as prima facie evidence of delivery as described in the bill of lading",
            ),
            _Period("time_bar", "years", 1, "Hague-Visby Art. III(6)", "the carrier is discharged from all liability"),
        ),
    ),
    "Hamburg": _Regime(
        "Hamburg",
        (
            _Period(
                "apparent_damage",
                "next_working_day",
                1,
                "Hamburg Rules Art. 19(1)",
                f"{_PRIMA_FACIE} (Hamburg Rules Art. 19(1))",
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                15,
                "Hamburg Rules Art. 19(2)",
                f"{_PRIMA_FACIE} (Hamburg Rules Art. 19(2))",
            ),
            _Period("delay", "calendar_days", 60, "Hamburg Rules Art. 19(5)", "no compensation for delay is payable"),
            _Period("time_bar", "years", 2, "Hamburg Rules Art. 20(1)", "the action is time-barred"),
        ),
    ),
    "COTIF-CIM": _Regime(
        "COTIF-CIM",
        (
            _Period(
                "apparent_damage",
                "at_delivery",
                0,
                "COTIF-CIM Art. 47(2)(a)",
                "acceptance extinguishes the claim for apparent loss or damage (COTIF-CIM Art. 47(1))",
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                7,
                "COTIF-CIM Art. 47(2)(b)",
                "the claim is extinguished (COTIF-CIM Art. 47(1))",
            ),
            _Period("delay", "calendar_days", 60, "COTIF-CIM Art. 47(2)(c)", "the claim for delay is extinguished"),
            _Period(
                "time_bar", "years", 1, "COTIF-CIM Art. 48(1)", "the action is barred (2 years in the cases of 48(1))"
            ),
        ),
    ),
}

_CISG_STOP = _Period(
    "cisg_notice_stop",
    "years",
    2,
    "CISG Art. 39(2)",
    "you lose the right to rely on the non-conformity, unless the supplier knew of it and did not "
    "disclose it (CISG Art. 40); a reasonable excuse (CISG Art. 44) saves only a late Art. 39(1) "
    "notice, not this stop",
)

_KIND_WORDS: Mapping[str, str] = {
    "apparent_damage": "apparent damage",
    "non_apparent_damage": "non-apparent damage",
    "delay": "delay",
    "time_bar": "time bar",
    "cisg_notice_stop": "CISG two-year notice stop",
}


def add_years(start: date, years: int) -> date:
    """Same day `years` later; 29 February falls back to the 28th (the earlier, safe date)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _due(period: _Period, start: date, calendar: HolidayCalendar) -> date:
    if period.count == "at_delivery":
        return start
    if period.count == "calendar_days":
        return start + timedelta(days=period.amount)
    if period.count == "years":
        return add_years(start, period.amount)
    # counted_days and next_working_day both skip the calendar's rest days and holidays.
    return calendar.add_counted_days(start, period.amount)


def _regimes_for(facts: Facts) -> tuple[str, ...]:
    sea = "Hamburg" if facts.sea_regime == "hamburg" else "Hague-Visby"
    return {
        "road": ("CMR",),
        "air": ("Montreal 1999",),
        "sea": (sea,),
        "rail": ("COTIF-CIM",),
        "multimodal": ("CMR", "Montreal 1999", sea, "COTIF-CIM"),
    }.get(facts.transport_mode or "", ())


def _kinds_for(facts: Facts) -> tuple[DeadlineKind, ...]:
    problem = facts.problem_type
    kinds: list[DeadlineKind] = []
    if problem in _DAMAGE_PROBLEMS:
        noted = facts.damage_noted_on_receipt
        if noted is not False or facts.outer_packaging == "damaged":
            kinds.append("apparent_damage")
        if noted is not True:
            kinds.append("non_apparent_damage")
    if problem == "late_delivery":
        kinds.append("delay")
    if problem in _DAMAGE_PROBLEMS or problem in ("late_delivery", "lost_in_transit"):
        kinds.append("time_bar")
    return tuple(kinds)


def _status(kind: DeadlineKind, due: date, notice: date | None, facts: Facts, today: date) -> DeadlineStatus:
    if kind == "time_bar":
        return "passed" if today > due else "open"
    if kind == "apparent_damage" and facts.damage_noted_on_receipt:
        return "met"
    if notice is not None:
        return "met" if notice <= due else "passed"
    return "passed" if today > due else "open"


def _risk_warning(deadline: Deadline, notice: date | None, consequence: str) -> str:
    cited = deadline.basis[0]
    because = consequence if cited in consequence else f"{consequence} ({cited})"
    if deadline.kind == "time_bar":
        return f"claim at risk: {deadline.regime} time bar on {deadline.due.isoformat()} has passed: {because}"
    who = "supplier" if deadline.party == "supplier" else "carrier"
    if notice is not None and notice > deadline.due:
        late = f"was sent on {notice.isoformat()}, after it was due on {deadline.due.isoformat()}"
    else:
        late = f"due {deadline.due.isoformat()} has passed"
    return f"claim at risk: {who} notice {late} ({deadline.regime}, {_KIND_WORDS[deadline.kind]}): {because}"


def validate_carrier_windows(carrier_windows: Mapping[str, int] | None) -> Mapping[str, int]:
    """Check a courier's notice windows in days, keyed by damage, shortage or delay."""
    if not carrier_windows:
        return {}
    for key, days in carrier_windows.items():
        if key not in CARRIER_WINDOW_KEYS:
            raise ValueError(f"unknown carrier window {key!r}; expected {', '.join(CARRIER_WINDOW_KEYS)}")
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
            raise ValueError(f"carrier window {key!r} must be a whole number of days from 0 to 3650")
    return carrier_windows


@dataclass
class _Builder:
    facts: Facts
    today: date
    calendar: HolidayCalendar
    deadlines: list[Deadline] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counted_on_calendar: list[tuple[date, date]] = field(default_factory=list)

    def add(self, party: str, regime: str, period: _Period, due: date, notice: date | None) -> None:
        status = _status(period.kind, due, notice, self.facts, self.today)
        deadline = Deadline(party, regime, period.kind, due, (period.basis,), status)
        self.deadlines.append(deadline)
        if status == "passed":
            self.warnings.append(_risk_warning(deadline, notice, period.consequence))


def compute_deadlines(
    facts: Facts,
    *,
    today: date,
    calendar: HolidayCalendar | None = None,
    carrier_windows: Mapping[str, int] | None = None,
) -> DeadlineReport:
    """Every notice deadline and time bar that applies to these facts, with "claim at risk" warnings."""
    windows = validate_carrier_windows(carrier_windows)
    warnings: list[str] = []
    chosen_calendar = calendar
    if chosen_calendar is None and facts.delivery_country:
        try:
            chosen_calendar = HolidayCalendar.for_country(facts.delivery_country)
        except LookupError:
            chosen_calendar = None
    builder = _Builder(facts, today, chosen_calendar or HolidayCalendar())

    start = facts.delivered_on
    if start is None and facts.discovered_on is not None:
        start = facts.discovered_on
        warnings.append(
            N_(
                "delivery date unknown: deadlines are counted from the discovery date, but they really run "
                "from delivery and may be earlier"
            )
        )
    if start is None:
        if facts.problem_type is not None and facts.problem_type != "other":
            warnings.append(N_("delivery date unknown: no notice deadlines computed; enter delivered_on"))
        return DeadlineReport((), tuple(warnings))

    kinds = _kinds_for(facts)
    if kinds:
        _carrier_deadlines(builder, start, kinds, windows, warnings)

    if facts.problem_type not in _NO_CISG_STOP:
        due = _due(_CISG_STOP, start, builder.calendar)
        builder.add("supplier", "CISG", _CISG_STOP, due, facts.supplier_notice_on)

    if builder.counted_on_calendar:
        if chosen_calendar is None:
            warnings.append(
                N_(
                    "no holiday calendar for the place of delivery: only Sundays were skipped, so the real "
                    "deadline may be later"
                )
            )
        else:
            uncovered = sorted(
                {
                    year
                    for first, last in builder.counted_on_calendar
                    for year in range(first.year, last.year + 1)
                    if year not in chosen_calendar.years
                }
            )
            if uncovered:
                warnings.append(
                    f"holiday calendar {chosen_calendar.name} has no public holidays for "
                    f"{', '.join(map(str, uncovered))}: only rest days were skipped there"
                )
    return DeadlineReport(tuple(builder.deadlines), tuple(dict.fromkeys([*warnings, *builder.warnings])))


def _carrier_deadlines(
    builder: _Builder,
    start: date,
    kinds: Sequence[DeadlineKind],
    windows: Mapping[str, int],
    warnings: list[str],
) -> None:
    facts = builder.facts
    notice = facts.carrier_notice_on
    if facts.transport_mode is None:
        warnings.append(N_("transport mode unknown: carrier notice deadlines not computed; enter transport_mode"))
        return
    if facts.transport_mode == "courier":
        damage_key = "shortage" if facts.problem_type in _SHORTAGE_PROBLEMS and "shortage" in windows else "damage"
        source = "courier terms of carriage (default 21 days, set per carrier)"
        for kind in kinds:
            if kind == "time_bar":
                continue  # couriers set their own time bar by contract; nothing general to compute
            days = windows.get("delay" if kind == "delay" else damage_key, COURIER_DEFAULT_DAYS)
            period = _Period(kind, "calendar_days", days, source, "the courier may refuse the claim")
            builder.add("carrier", "courier", period, start + timedelta(days=days), notice)
        return

    regimes = _regimes_for(facts)
    if facts.transport_mode == "multimodal":
        warnings.append(
            "multimodal transport has no single liability regime: the notice dates shown are the earliest "
            f"of {', '.join(regimes)}; the regime of the stage where the loss happened applies"
        )
    for kind in kinds:
        candidates: list[tuple[date, str, _Period]] = []
        for name in regimes:
            found = REGIMES[name].period(kind)
            if found is None:
                continue  # e.g. Hague-Visby has no delay regime
            candidates.append((_due(found, start, builder.calendar), name, found))
        if not candidates:
            if kind == "delay":
                warnings.append(
                    f"{regimes[0]} has no delay notice regime: check the contract of carriage for a delay clause"
                )
            continue
        due, name, period = min(candidates, key=lambda c: c[0])
        if period.count in ("counted_days", "next_working_day"):
            builder.counted_on_calendar.append((start, due))
        builder.add("carrier", name, period, due, notice)
