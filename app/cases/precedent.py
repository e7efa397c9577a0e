"""Precedent: the company's closed cases with a confirmed party that resemble a case, for its hint panel.

Shown beside the trade rules' basis, never in its place; the engine uses the counts only to break a
close call between two parties (`app.rules.suggest(precedent=...)`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.cases.tables import Case
from app.i18n import lazy_gettext as _l
from app.rules import FACTS

SETTLED = ("supplier", "carrier", "purchaser")
# What two cases of the same problem type may share; a case is similar when it shares at least two.
ASPECTS = ("supplier", "carrier", "incoterm", "transport_mode", "evidence")
ASPECT_LABELS: Mapping[str, Any] = {
    "supplier": _l("supplier"),
    "carrier": _l("carrier"),
    "incoterm": _l("Incoterm"),
    "transport_mode": _l("transport mode"),
    "evidence": _l("findings"),
}
MINIMUM_SHARED = 2
# The most recently closed cases of the problem type that are compared, and the similar ones shown.
SCANNED = 500
SHOWN = 8
# Facts that describe the order rather than what was found; the evidence pattern leaves them out.
_ORDER_FACTS = ("problem_type", "incoterm", "transport_mode")


@dataclass(frozen=True)
class Profile:
    """What similarity looks at in one case."""

    supplier: int | None
    carrier: int | None
    incoterm: str | None
    transport_mode: str | None
    evidence: Mapping[str, object]  # the yes/no and choice facts known, other than the order's

    @classmethod
    def of(cls, supplier: Any, carrier: Any, facts: Mapping[str, Any]) -> Profile:
        pattern = {
            name: value
            for name, value in facts.items()
            if name in FACTS and FACTS[name].kind in ("bool", "enum") and name not in _ORDER_FACTS
        }
        incoterm, mode = facts.get("incoterm"), facts.get("transport_mode")
        return cls(
            supplier=supplier if isinstance(supplier, int) else None,
            carrier=carrier if isinstance(carrier, int) else None,
            incoterm=str(incoterm).upper() if incoterm else None,
            transport_mode=str(mode) if mode else None,
            evidence=pattern,
        )

    def shared(self, other: Profile) -> tuple[str, ...]:
        """The aspects both cases know and agree on. Evidence agrees when every fact both know is the same."""
        common = set(self.evidence) & set(other.evidence)
        same = {
            "supplier": self.supplier is not None and self.supplier == other.supplier,
            "carrier": self.carrier is not None and self.carrier == other.carrier,
            "incoterm": self.incoterm is not None and self.incoterm == other.incoterm,
            "transport_mode": self.transport_mode is not None and self.transport_mode == other.transport_mode,
            "evidence": bool(common) and all(self.evidence[name] == other.evidence[name] for name in common),
        }
        return tuple(aspect for aspect in ASPECTS if same[aspect])


@dataclass(frozen=True)
class Precedent:
    """Similar closed cases and the parties confirmed in them."""

    counts: Mapping[str, int]
    cases: tuple[Mapping[str, Any], ...]  # number, party, shared aspects; the most similar first

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "counts": dict(self.counts), "cases": [dict(case) for case in self.cases]}


def similar(target: Profile, candidates: Iterable[tuple[str, str, Profile]]) -> Precedent:
    """Pure: from (number, confirmed party, profile) of closed cases of the same problem type."""
    found = []
    for number, party, profile in candidates:
        shared = target.shared(profile)
        if party in SETTLED and len(shared) >= MINIMUM_SHARED:
            found.append({"number": number, "party": party, "shared": list(shared)})
    counts = Counter(case["party"] for case in found)
    found.sort(key=lambda case: -len(case["shared"]))  # stable: the most recently closed first among equals
    ordered = {party: counts[party] for party in SETTLED if counts[party]}
    return Precedent(ordered, tuple(found[:SHOWN]))


async def precedent_for(
    case: Case, facts: Mapping[str, Any], *, supplier: int | None, carrier: int | None
) -> Precedent:
    """The similar closed cases for `case`, whose engine-seen facts are `facts` (supplier and carrier: the
    case's own, else its order's)."""
    order = Case.purchase_order
    rows = (
        await Case.select(
            Case.number,
            Case.supplier,
            Case.carrier,
            order.supplier.as_alias("order_supplier"),
            order.carrier.as_alias("order_carrier"),
            order.incoterm.as_alias("order_incoterm"),
            order.transport_mode.as_alias("order_mode"),
            Case.confirmed_party,
            Case.facts,
        )
        .where(
            (Case.node == "closed")
            & Case.confirmed_party.is_in(list(SETTLED))
            & (Case.problem_type == case.problem_type)
            & (Case.id != case.id)
        )
        .order_by(Case.closed_at, ascending=False)
        .order_by(Case.id, ascending=False)
        .limit(SCANNED)
        .output(load_json=True)
    )
    target = Profile.of(supplier, carrier, facts)
    candidates = []
    for row in rows:
        # As the engine saw that case: the order's terms, then the case's own facts on top.
        own = row["facts"] if isinstance(row["facts"], Mapping) else {}
        seen = {"incoterm": row["order_incoterm"] or None, "transport_mode": row["order_mode"] or None}
        seen.update({name: value for name, value in own.items() if value is not None})
        supplier_id = row["supplier"] or row["order_supplier"]
        carrier_id = row["carrier"] or row["order_carrier"]
        candidates.append((row["number"], row["confirmed_party"], Profile.of(supplier_id, carrier_id, seen)))
    return similar(target, candidates)
