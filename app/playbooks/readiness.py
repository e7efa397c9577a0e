"""What a playbook asks that a case lacks: missing evidence, the notice window, the minimum claim (pure: no I/O,
``today`` and the party's calendar are inputs)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from app.rules.calendar import HolidayCalendar
from app.rules.facts import FREE_PREFIX

WINDOW_FROM = ("delivery", "discovery")
WINDOW_COUNTING = ("calendar", "working")
# Saturday and Sunday: a "working day" window skips them and the party's public holidays.
WEEKEND = frozenset({5, 6})
# "window ends in N days" is shown from this many calendar days before its end.
WARN_DAYS = 3


@dataclass(frozen=True)
class RequiredItem:
    """One evidence item the party wants: a checklist name or a free item (``pb:…`` with its own words)."""

    key: str
    label: str = ""
    problem_types: tuple[str, ...] = ()  # empty: every problem type

    @property
    def free(self) -> bool:
        return self.key.startswith(FREE_PREFIX)

    def applies(self, problem_type: str) -> bool:
        return not self.problem_types or problem_type in self.problem_types


@dataclass(frozen=True)
class Rules:
    """The parts of a playbook that are checked against a case."""

    items: tuple[RequiredItem, ...] = ()
    window_days: int | None = None
    window_from: str = "delivery"
    window_counting: str = "calendar"
    minimum_value: Decimal | None = None
    minimum_currency: str = ""

    def required(self, problem_type: str) -> list[RequiredItem]:
        return [item for item in self.items if item.applies(problem_type)]


@dataclass(frozen=True)
class CaseState:
    """What of a case the rules are checked against."""

    problem_type: str
    covered: frozenset[str] = frozenset()  # evidence keys shown by accepted files
    delivered_on: date | None = None
    discovered_on: date | None = None
    claim_amount: Decimal | None = None
    currency: str = ""
    # Open notice deadlines the carriage conventions or the CISG set for this party: (regime, due).
    notices: tuple[tuple[str, date], ...] = ()


@dataclass(frozen=True)
class Gap:
    """One thing the playbook asks that the case lacks; ``blocking`` ones need a written reason to send anyway."""

    # missing_item, window_closed, window_closing, window_unknown, below_minimum, minimum_unknown, notice_first
    kind: str
    blocking: bool
    item: str = ""
    regime: str = ""
    label: str = ""
    day: date | None = None
    days: int = 0
    amount: Decimal | None = None
    currency: str = ""

    def record(self) -> dict[str, str | int | bool]:
        """The gap as the timeline keeps it (JSON)."""
        out: dict[str, str | int | bool] = {"kind": self.kind, "blocking": self.blocking}
        if self.item:
            out["item"] = self.item
        if self.day:
            out["day"] = self.day.isoformat()
        if self.amount is not None:
            out["amount"] = str(self.amount)
            out["currency"] = self.currency
        return out


def window_end(rules: Rules, state: CaseState, calendar: HolidayCalendar | None = None) -> date | None:
    """The last day of the party's notice window for this case; None without a window or a day to count from.

    Working days skip Saturdays, Sundays and the calendar's public holidays (its make-up working days count);
    the start day itself never counts.
    """
    if not rules.window_days:
        return None
    start = state.discovered_on if rules.window_from == "discovery" else state.delivered_on
    if start is None:
        return None
    if rules.window_counting == "working":
        base = calendar or HolidayCalendar()
        return replace(base, rest_weekdays=WEEKEND).add_counted_days(start, rules.window_days)
    return start + timedelta(days=rules.window_days)


def readiness(rules: Rules, state: CaseState, *, today: date, calendar: HolidayCalendar | None = None) -> list[Gap]:
    """Everything the playbook asks that the case lacks, blocking gaps first."""
    gaps: list[Gap] = [
        Gap("missing_item", True, item=item.key, label=item.label)
        for item in rules.required(state.problem_type)
        if item.key not in state.covered
    ]
    if rules.window_days:
        end = window_end(rules, state, calendar)
        if end is None:
            gaps.append(Gap("window_unknown", False, days=rules.window_days))
        elif end < today:
            gaps.append(Gap("window_closed", True, day=end))
        elif (end - today).days <= WARN_DAYS:
            gaps.append(Gap("window_closing", False, day=end, days=(end - today).days))
        # A convention's notice that falls due before the playbook's window ends is the real limit.
        gaps.extend(
            Gap("notice_first", False, day=due, regime=regime, days=(due - today).days)
            for regime, due in sorted(state.notices, key=lambda notice: notice[1])
            if end is not None and today <= due < end
        )
    if rules.minimum_value is not None and rules.minimum_value > 0:
        currency = rules.minimum_currency or state.currency
        if state.claim_amount is None or currency != state.currency:
            gaps.append(Gap("minimum_unknown", False, amount=rules.minimum_value, currency=currency))
        elif state.claim_amount < rules.minimum_value:
            gaps.append(Gap("below_minimum", True, amount=rules.minimum_value, currency=currency))
    return sorted(gaps, key=lambda gap: not gap.blocking)
