"""Carrier notice deadlines, time bars and the CISG two-year stop, counted on a holiday calendar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from app.rules.calendar import HolidayCalendar, add_years
from app.rules.facts import N_, Facts
from app.rules.regimes import (
    _CISG_STOP,
    _COURIER_REFUSAL,
    _DAMAGE_PROBLEMS,
    _NO_CISG_STOP,
    _SHORTAGE_PROBLEMS,
    CARRIER_WINDOW_KEYS,
    COURIER_DEFAULT_DAYS,
    KIND_WORDS,
    REGIMES,
    DeadlineKind,
    _Period,
)
from app.rules.warnings import RuleWarning, WarningValue

DeadlineStatus = Literal["open", "met", "passed"]


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
    warnings: tuple[RuleWarning, ...] = ()


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
