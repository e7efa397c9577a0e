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


WarningValueKind = Literal["plain", "date", "text", "names"]
WarningValue = tuple[str, str, WarningValueKind]  # name, value, how a page shows it


@dataclass(frozen=True)
class RuleWarning:
    """A warning kept as a catalogue message and its values, so each reader gets it in their language.

    ``message`` is English with ``%(name)s`` fields and is the msgid; each value says how a page shows it:
    ``date`` (ISO here, the reader's format on a page), ``text`` (a phrase or law name from the catalogue),
    ``names`` (law names joined by ", ", each from the catalogue) or ``plain`` (a name or number shown as it
    is). ``text`` is the English the JSON API has always given.
    """

    message: str
    values: tuple[WarningValue, ...] = ()
    at_risk: bool = False

    @property
    def text(self) -> str:
        if not self.values:
            return self.message
        return self.message % {name: value for name, value, _kind in self.values}

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "values": {name: value for name, value, _kind in self.values},
            "kinds": {name: kind for name, _value, kind in self.values},
            "at_risk": self.at_risk,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> RuleWarning:
        """The warning a stored hint kept; an unknown kind is shown plain."""
        values = raw.get("values")
        kinds = raw.get("kinds")
        values = values if isinstance(values, Mapping) else {}
        kinds = kinds if isinstance(kinds, Mapping) else {}

        def kind_of(name: object) -> WarningValueKind:
            kind = kinds.get(name)
            return "date" if kind == "date" else "text" if kind == "text" else "names" if kind == "names" else "plain"

        return cls(
            message=str(raw.get("message", "")),
            values=tuple((str(name), str(value), kind_of(name)) for name, value in values.items()),
            at_risk=bool(raw.get("at_risk")),
        )


@dataclass(frozen=True)
class DeadlineReport:
    deadlines: tuple[Deadline, ...] = ()
    warnings: tuple[RuleWarning, ...] = ()


CountRule = Literal["at_delivery", "calendar_days", "counted_days", "next_working_day", "years"]


@dataclass(frozen=True)
class _Period:
    kind: DeadlineKind
    count: CountRule
    amount: int
    basis: str
    consequence: str  # what missing the deadline costs, ending with its citation; a catalogue message


@dataclass(frozen=True)
class _Regime:
    name: str
    periods: tuple[_Period, ...]

    def period(self, kind: DeadlineKind) -> _Period | None:
        return next((p for p in self.periods if p.kind == kind), None)


_CMR_PRIMA_FACIE = N_(
    "delivery now counts as prima facie evidence that the goods arrived as described (CMR Art. 30(1))"
)
_MONTREAL_NO_ACTION = N_(
    "no action lies against the carrier, save fraud (Montreal 1999 Art. 31(4)) (Montreal 1999 Art. 31(2))"
)
_HAGUE_VISBY_PRIMA_FACIE = N_(
    "removal counts as prima facie evidence of delivery as described in the bill of lading (Hague-Visby Art. III(6))"
)
_COURIER_REFUSAL = N_("the courier may refuse the claim (courier terms of carriage)")
N_("courier")  # the courier and Hamburg "regimes" are named in warnings and countdowns
N_("Hamburg")

# The table in TRADE-RULES.md, with the article each number comes from.
REGIMES: Mapping[str, _Regime] = {
    "CMR": _Regime(
        "CMR",
        (
            _Period("apparent_damage", "at_delivery", 0, "CMR Art. 30(1)", _CMR_PRIMA_FACIE),
            _Period("non_apparent_damage", "counted_days", 7, "CMR Art. 30(1)", _CMR_PRIMA_FACIE),
            _Period(
                "delay",
                "calendar_days",
                21,
                "CMR Art. 30(3)",
                N_("no compensation for delay is payable (CMR Art. 30(3))"),
            ),
            _Period(
                "time_bar",
                "years",
                1,
                "CMR Art. 32(1)",
                N_("the action is barred (3 years only for wilful misconduct) (CMR Art. 32(1))"),
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
                _MONTREAL_NO_ACTION,
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                14,
                "Montreal 1999 Art. 31(2)",
                _MONTREAL_NO_ACTION,
            ),
            _Period(
                "delay",
                "calendar_days",
                21,
                "Montreal 1999 Art. 31(2)",
                _MONTREAL_NO_ACTION,
            ),
            _Period(
                "time_bar",
                "years",
                2,
                "Montreal 1999 Art. 35(1)",
                N_("the right to damages is extinguished (Montreal 1999 Art. 35(1))"),
            ),
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
                _HAGUE_VISBY_PRIMA_FACIE,
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                3,
                "Hague-Visby Art. III(6)",
                _HAGUE_VISBY_PRIMA_FACIE,
            ),
            _Period(
                "time_bar",
                "years",
                1,
                "Hague-Visby Art. III(6)",
                N_("the carrier is discharged from all liability (Hague-Visby Art. III(6))"),
            ),
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
                N_(
                    "delivery now counts as prima facie evidence that the goods arrived as described "
                    "(Hamburg Rules Art. 19(1))"
                ),
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                15,
                "Hamburg Rules Art. 19(2)",
                N_(
                    "delivery now counts as prima facie evidence that the goods arrived as described "
                    "(Hamburg Rules Art. 19(2))"
                ),
            ),
            _Period(
                "delay",
                "calendar_days",
                60,
                "Hamburg Rules Art. 19(5)",
                N_("no compensation for delay is payable (Hamburg Rules Art. 19(5))"),
            ),
            _Period(
                "time_bar",
                "years",
                2,
                "Hamburg Rules Art. 20(1)",
                N_("the action is time-barred (Hamburg Rules Art. 20(1))"),
            ),
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
                N_(
                    "acceptance extinguishes the claim for apparent loss or damage (COTIF-CIM Art. 47(1)) "
                    "(COTIF-CIM Art. 47(2)(a))"
                ),
            ),
            _Period(
                "non_apparent_damage",
                "calendar_days",
                7,
                "COTIF-CIM Art. 47(2)(b)",
                N_("the claim is extinguished (COTIF-CIM Art. 47(1)) (COTIF-CIM Art. 47(2)(b))"),
            ),
            _Period(
                "delay",
                "calendar_days",
                60,
                "COTIF-CIM Art. 47(2)(c)",
                N_("the claim for delay is extinguished (COTIF-CIM Art. 47(2)(c))"),
            ),
            _Period(
                "time_bar",
                "years",
                1,
                "COTIF-CIM Art. 48(1)",
                N_("the action is barred (2 years in the cases of 48(1)) (COTIF-CIM Art. 48(1))"),
            ),
        ),
    ),
}

_CISG_STOP = _Period(
    "cisg_notice_stop",
    "years",
    2,
    "CISG Art. 39(2)",
    N_(
        "you lose the right to rely on the non-conformity, unless the supplier knew of it and did not "
        "disclose it (CISG Art. 40); a reasonable excuse (CISG Art. 44) saves only a late Art. 39(1) "
        "notice, not this stop (CISG Art. 39(2))"
    ),
)

KIND_WORDS: Mapping[str, str] = {
    "apparent_damage": N_("apparent damage"),
    "non_apparent_damage": N_("non-apparent damage"),
    "delay": N_("delay"),
    "time_bar": N_("time bar"),
    "cisg_notice_stop": N_("CISG two-year notice stop"),
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


def _risk_warning(deadline: Deadline, notice: date | None, consequence: str) -> RuleWarning:
    due: WarningValue = ("due", deadline.due.isoformat(), "date")
    because: WarningValue = ("because", consequence, "text")
    regime: WarningValue = ("regime", deadline.regime, "text")
    if deadline.kind == "time_bar":
        return RuleWarning(
            N_("claim at risk: %(regime)s time bar on %(due)s has passed: %(because)s"),
            (regime, due, because),
            at_risk=True,
        )
    kind: WarningValue = ("kind", KIND_WORDS[deadline.kind], "text")
    if notice is not None and notice > deadline.due:
        sent: WarningValue = ("sent", notice.isoformat(), "date")
        message = (
            N_(
                "claim at risk: supplier notice was sent on %(sent)s, after it was due on %(due)s "
                "(%(regime)s, %(kind)s): %(because)s"
            )
            if deadline.party == "supplier"
            else N_(
                "claim at risk: carrier notice was sent on %(sent)s, after it was due on %(due)s "
                "(%(regime)s, %(kind)s): %(because)s"
            )
        )
        return RuleWarning(message, (sent, due, regime, kind, because), at_risk=True)
    message = (
        N_("claim at risk: supplier notice due %(due)s has passed (%(regime)s, %(kind)s): %(because)s")
        if deadline.party == "supplier"
        else N_("claim at risk: carrier notice due %(due)s has passed (%(regime)s, %(kind)s): %(because)s")
    )
    return RuleWarning(message, (due, regime, kind, because), at_risk=True)


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
    warnings: list[RuleWarning] = field(default_factory=list)
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
    warnings: list[RuleWarning] = []
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
            RuleWarning(
                N_(
                    "delivery date unknown: deadlines are counted from the discovery date, but they really run "
                    "from delivery and may be earlier"
                )
            )
        )
    if start is None:
        if facts.problem_type is not None and facts.problem_type != "other":
            warnings.append(RuleWarning(N_("delivery date unknown: no notice deadlines computed; enter delivered_on")))
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
                RuleWarning(
                    N_(
                        "no holiday calendar for the place of delivery: only Sundays were skipped, so the real "
                        "deadline may be later"
                    )
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
                    RuleWarning(
                        N_(
                            "holiday calendar %(calendar)s has no public holidays for %(years)s: "
                            "only rest days were skipped there"
                        ),
                        (
                            ("calendar", chosen_calendar.name, "plain"),
                            ("years", ", ".join(map(str, uncovered)), "plain"),
                        ),
                    )
                )
    return DeadlineReport(tuple(builder.deadlines), tuple(dict.fromkeys([*warnings, *builder.warnings])))


def _carrier_deadlines(
    builder: _Builder,
    start: date,
    kinds: Sequence[DeadlineKind],
    windows: Mapping[str, int],
    warnings: list[RuleWarning],
) -> None:
    facts = builder.facts
    notice = facts.carrier_notice_on
    if facts.transport_mode is None:
        warnings.append(
            RuleWarning(N_("transport mode unknown: carrier notice deadlines not computed; enter transport_mode"))
        )
        return
    if facts.transport_mode == "courier":
        damage_key = "shortage" if facts.problem_type in _SHORTAGE_PROBLEMS and "shortage" in windows else "damage"
        source = N_("courier terms of carriage (default 21 days, set per carrier)")
        for kind in kinds:
            if kind == "time_bar":
                continue  # couriers set their own time bar by contract; nothing general to compute
            days = windows.get("delay" if kind == "delay" else damage_key, COURIER_DEFAULT_DAYS)
            period = _Period(kind, "calendar_days", days, source, _COURIER_REFUSAL)
            builder.add("carrier", "courier", period, start + timedelta(days=days), notice)
        return

    regimes = _regimes_for(facts)
    if facts.transport_mode == "multimodal":
        warnings.append(
            RuleWarning(
                N_(
                    "multimodal transport has no single liability regime: the notice dates shown are the earliest "
                    "of %(regimes)s; the regime of the stage where the loss happened applies"
                ),
                (("regimes", ", ".join(regimes), "names"),),
            )
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
                    RuleWarning(
                        N_("%(regime)s has no delay notice regime: check the contract of carriage for a delay clause"),
                        (("regime", regimes[0], "text"),),
                    )
                )
            continue
        due, name, period = min(candidates, key=lambda c: c[0])
        if period.count in ("counted_days", "next_working_day"):
            builder.counted_on_calendar.append((start, due))
        builder.add("carrier", name, period, due, notice)
