"""SLA policies as data: node limits, clock owners, the reminder ladder and business calendars."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import get_global

from app.i18n import company_zone
from app.rules.calendar import WEEKDAYS, HolidayCalendar

DEFAULT_FILE = Path(__file__).resolve().parent / "sla.toml"
OVERRIDE_NAME = "sla_override.toml"
PARTIES = ("us", "supplier", "carrier", "customer")
COUNTERPARTIES = ("supplier", "carrier")
TRANSIT_PROBLEMS = frozenset({"transit_damage", "lost_in_transit", "late_delivery", "short_shipment"})
# A carrier row (and the company) has a time zone but no country: the zone names the holiday file to use.
# Hong Kong keeps the mainland's calendar here; other zones go by the CLDR's zone-to-territory table.
ZONE_COUNTRIES = {"Asia/Shanghai": "CN", "Asia/Hong_Kong": "CN", "Europe/Berlin": "DE", "Europe/London": "GB"}


class PolicyError(ValueError):
    """An SLA file that cannot be used; the message says which key is wrong."""


@dataclass(frozen=True)
class Limit:
    days: int = 0
    hours: int = 0

    def scaled(self, factor: float) -> Limit:
        if self.days:
            return Limit(days=max(1, math.ceil(self.days * factor)))
        return Limit(hours=max(1, math.ceil(self.hours * factor)))

    def label(self) -> str:
        return f"{self.days} business days" if self.days else f"{self.hours} working hours"


@dataclass(frozen=True)
class Step:
    level: str
    at: float
    notify: tuple[str, ...]


@dataclass(frozen=True)
class BusinessCalendar:
    """A party's working time: holidays and make-up days, the working week, hours and time zone."""

    holidays: HolidayCalendar
    zone: ZoneInfo
    day_starts: int = 9
    day_ends: int = 18

    def is_working_day(self, day: date) -> bool:
        return not self.holidays.is_rest_day(day)

    def _opening(self, moment: datetime) -> datetime:
        """``moment`` if it is working time, else when working time next begins (local)."""
        local = moment.astimezone(self.zone)
        day = local.date()
        if self.is_working_day(day) and local.time() < time(self.day_starts):
            return datetime.combine(day, time(self.day_starts), self.zone)
        if self.is_working_day(day) and local.time() < time(self.day_ends):
            return local
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, time(self.day_starts), self.zone)

    def add(self, start: datetime, limit: Limit) -> datetime:
        """When a limit that starts at ``start`` runs out (UTC-aware)."""
        opened = self._opening(start)
        if limit.days:
            due_day = self.holidays.add_counted_days(opened.date(), limit.days)
            return datetime.combine(due_day, opened.timetz().replace(tzinfo=None), self.zone)
        left = timedelta(hours=limit.hours)
        current = opened
        while True:
            closing = datetime.combine(current.date(), time(self.day_ends), self.zone)
            if current + left <= closing:
                return current + left
            left -= closing - current
            current = self._opening(closing)


@dataclass(frozen=True)
class Policy:
    nodes: dict[str, dict[str, Any]]
    urgency: dict[str, float]
    problem_types: dict[str, dict[str, dict[str, Any]]]
    ladder: tuple[Step, ...]
    working_weekdays: frozenset[int]
    day_starts: int
    day_ends: int
    quiet_from: int
    quiet_until: int
    parties: dict[str, dict[str, str]]
    customer_nodes: tuple[str, ...]
    feedback_window_days: int
    # Hours after a plan is agreed before the customer who has not answered it is reminded (once).
    plan_answer_hours: int = 48

    def limit(self, *, node: str, problem_type: str, urgency: str) -> Limit | None:
        """The limit of ``node`` for a case; None for a node without a clock."""
        base = {**self.nodes.get(node, {}), **self.problem_types.get(problem_type, {}).get(node, {})}
        if not base.get("days") and not base.get("hours"):
            return None
        limit = Limit(days=int(base.get("days", 0)), hours=0 if base.get("days") else int(base.get("hours", 0)))
        return limit.scaled(self.urgency.get(urgency, 1.0))

    def owner(self, *, node: str, problem_type: str, counterpart: str = "") -> str:
        """Who holds the node's clock; "counterpart" is the party the case works with when known
        (``counterpart``), else the carrier for transit problems and the supplier for the rest."""
        owner = str(self.nodes.get(node, {}).get("owner", "us"))
        if owner == "counterpart":
            return counterpart if counterpart in COUNTERPARTIES else counterpart_of(problem_type)
        return owner

    def calendar(self, *, country: str, zone: str) -> BusinessCalendar:
        try:
            holidays = HolidayCalendar.for_country(country)
        except LookupError:
            holidays = HolidayCalendar(name="no public holidays")
        rest = frozenset(range(7)) - self.working_weekdays
        try:
            tz = ZoneInfo(zone)
        except (KeyError, ValueError):
            tz = ZoneInfo("UTC")
        return BusinessCalendar(
            holidays=replace(holidays, rest_weekdays=rest), zone=tz, day_starts=self.day_starts, day_ends=self.day_ends
        )

    def party_calendar(self, party: str, *, country: str = "", zone: str = "") -> BusinessCalendar:
        defaults = self.parties.get(party, self.parties.get("us", {}))
        zone = zone or defaults.get("time_zone") or company_zone()
        country = country or defaults.get("country") or zone_country(zone)
        return self.calendar(country=country, zone=zone)

    def in_quiet_hours(self, moment: datetime, zone: str) -> bool:
        try:
            hour = moment.astimezone(ZoneInfo(zone)).hour
        except (KeyError, ValueError):
            hour = moment.hour
        if self.quiet_from > self.quiet_until:
            return hour >= self.quiet_from or hour < self.quiet_until
        return self.quiet_from <= hour < self.quiet_until


def zone_country(zone: str) -> str:
    """The country whose holidays a clock in ``zone`` keeps: ours where we chose, else the CLDR's ("" if none)."""
    return ZONE_COUNTRIES.get(zone) or str(get_global("zone_territories").get(zone, ""))


def counterpart_of(problem_type: str) -> str:
    return "carrier" if problem_type in TRANSIT_PROBLEMS else "supplier"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_policy(data: dict[str, Any]) -> Policy:
    """Check and build a policy from TOML data; PolicyError names the bad key."""
    try:
        nodes = {str(k): dict(v) for k, v in data.get("nodes", {}).items()}
        for name, node in nodes.items():
            if node.get("owner", "us") not in (*PARTIES, "counterpart"):
                raise PolicyError(f"nodes.{name}.owner must be one of {', '.join(PARTIES)} or counterpart")
            for unit in ("days", "hours"):
                if unit in node and (not isinstance(node[unit], int) or node[unit] < 0):
                    raise PolicyError(f"nodes.{name}.{unit} must be a whole number of at least 0")
        ladder = tuple(
            Step(level=str(s["level"]), at=float(s["at"]), notify=tuple(str(n) for n in s["notify"]))
            for s in data.get("ladder", [])
        )
        roles = {"owner", "counterpart", "manager"}
        if any(s.at <= 0 for s in ladder) or any(n not in roles for s in ladder for n in s.notify):
            raise PolicyError("each ladder step needs at > 0 and notify from owner, counterpart, manager")
        calendar = data.get("calendar", {})
        weekdays = frozenset(WEEKDAYS.index(d) for d in calendar.get("working_weekdays", WEEKDAYS[:5]))
        updates = data.get("customer_updates", {})
        return Policy(
            nodes=nodes,
            urgency={str(k): float(v) for k, v in data.get("urgency", {}).items()},
            problem_types={str(k): dict(v) for k, v in data.get("problem_types", {}).items()},
            ladder=tuple(sorted(ladder, key=lambda s: s.at)),
            working_weekdays=weekdays,
            day_starts=int(calendar.get("day_starts", 9)),
            day_ends=int(calendar.get("day_ends", 18)),
            quiet_from=int(calendar.get("quiet_from", 22)),
            quiet_until=int(calendar.get("quiet_until", 7)),
            parties={str(k): dict(v) for k, v in data.get("parties", {}).items()},
            customer_nodes=tuple(updates.get("nodes", [])),
            feedback_window_days=int(updates.get("feedback_window_days", 14)),
            plan_answer_hours=int(updates.get("plan_answer_hours", 48)),
        )
    except PolicyError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise PolicyError(f"the SLA policy is malformed: {error}") from error


def load_policy(data_dir: Path | None = None) -> Policy:
    """The shipped defaults with the admin's stored override laid over them."""
    data = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    if data_dir is not None and (data_dir / OVERRIDE_NAME).is_file():
        data = _merge(data, tomllib.loads((data_dir / OVERRIDE_NAME).read_text(encoding="utf-8")))
    return parse_policy(data)


_current: dict[str, Any] = {"policy": None, "data_dir": None}


def configure_policy(data_dir: Path | None) -> Policy:
    """Called by each entry point with its data dir; the services read the policy it set."""
    _current["data_dir"] = data_dir
    _current["policy"] = load_policy(data_dir)
    return _current["policy"]  # type: ignore[no-any-return]


def current_policy() -> Policy:
    policy = _current["policy"]
    if policy is None:
        policy = configure_policy(None)
    return policy  # type: ignore[no-any-return]


def save_override(data_dir: Path, text: str) -> Policy:
    """Check an override and store it; the new policy applies to clocks started from now on."""
    try:
        override = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"not valid TOML: {error}") from error
    defaults = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    policy = parse_policy(_merge(defaults, override))
    (data_dir / OVERRIDE_NAME).write_text(text, encoding="utf-8")
    _current["data_dir"] = data_dir
    _current["policy"] = policy
    return policy


def stored_override(data_dir: Path) -> str:
    path = data_dir / OVERRIDE_NAME
    return path.read_text(encoding="utf-8") if path.is_file() else ""
