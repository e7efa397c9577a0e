"""The carriage regimes as data: each one's notice periods, time bars and what missing them costs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from app.rules.facts import N_

DeadlineKind = Literal["apparent_damage", "non_apparent_damage", "delay", "time_bar", "cisg_notice_stop"]


COURIER_DEFAULT_DAYS = 21


CARRIER_WINDOW_KEYS = ("damage", "shortage", "delay")


_DAMAGE_PROBLEMS = frozenset({"transit_damage", "short_shipment", "missing_parts"})


_SHORTAGE_PROBLEMS = frozenset({"short_shipment", "missing_parts", "lost_in_transit"})


# Art. 39(2) bars reliance on a lack of conformity; delay, total loss and clearance are other breaches.
_NO_CISG_STOP = frozenset({"late_delivery", "lost_in_transit", "customs_issue"})


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
