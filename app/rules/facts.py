"""The facts of a claim that the engine reasons on: their schema for intake forms, and their validation."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

from app.rules.errors import FactsError

PARTIES: tuple[str, ...] = ("supplier", "carrier", "purchaser", "undetermined")

PROBLEM_TYPES: tuple[str, ...] = (
    "quality_defect",
    "not_as_described",
    "wrong_item",
    "short_shipment",
    "missing_parts",
    "transit_damage",
    "lost_in_transit",
    "late_delivery",
    "customs_issue",
    "other",
)

INCOTERMS: tuple[str, ...] = ("EXW", "FCA", "FAS", "FOB", "CPT", "CIP", "CFR", "CIF", "DAP", "DPU", "DDP")
# POST: risk passed to the buyer before the main carriage; D: the seller carries the risk to destination.
INCOTERM_GROUPS: Mapping[str, str] = MappingProxyType(
    {term: ("D" if term in ("DAP", "DPU", "DDP") else "POST") for term in INCOTERMS}
)

TRANSPORT_MODES: tuple[str, ...] = ("sea", "air", "road", "rail", "courier", "multimodal")


def N_(message: str) -> str:
    """Marks a string for the translation catalogue; pages translate it when shown, the JSON API keeps English."""
    return message


FactKind = Literal["enum", "bool", "date", "country"]
FactValue = str | bool | date

_ALL = PROBLEM_TYPES
_DAMAGE_LIKE = ("transit_damage", "short_shipment", "missing_parts", "lost_in_transit")
_CARRIAGE = (*_DAMAGE_LIKE, "late_delivery")


@dataclass(frozen=True)
class FactSpec:
    """One fact the intake form can ask: its type, allowed values, question and where it matters."""

    name: str
    kind: FactKind
    question: str
    problem_types: tuple[str, ...]
    choices: tuple[str, ...] = ()
    transport_modes: tuple[str, ...] = TRANSPORT_MODES  # the modes under which it is worth asking

    def matters_for(self, problem_type: str | None, transport_mode: str | None = None) -> bool:
        """Worth asking for this problem type (while unknown: only the general facts) and mode (any while unknown)."""
        if problem_type is None:
            fits_problem = self.problem_types == _ALL
        else:
            fits_problem = problem_type in self.problem_types
        return fits_problem and (transport_mode is None or transport_mode in self.transport_modes)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.kind,
            "choices": list(self.choices) if self.kind == "enum" else None,
            "question": self.question,
            "problem_types": list(self.problem_types),
            "transport_modes": list(self.transport_modes),
        }


_SPECS = (
    FactSpec("problem_type", "enum", N_("What kind of problem is it?"), _ALL, PROBLEM_TYPES),
    FactSpec("incoterm", "enum", N_("Which Incoterms 2020 rule does the order use?"), _ALL, INCOTERMS),
    FactSpec("transport_mode", "enum", N_("How was the main carriage done?"), _ALL, TRANSPORT_MODES),
    FactSpec("delivered_on", "date", N_("On what date were the goods delivered to you?"), _ALL),
    FactSpec("discovered_on", "date", N_("On what date did you discover the problem?"), _ALL),
    FactSpec(
        "delivery_country",
        "country",
        N_("In which country were the goods delivered (ISO code, e.g. DE)?"),
        _CARRIAGE,
    ),
    FactSpec(
        "carrier_notice_on",
        "date",
        N_("On what date did you send the carrier written notice, if you did?"),
        _CARRIAGE,
    ),
    FactSpec(
        "supplier_notice_on",
        "date",
        N_("On what date did you notify the supplier, if you did?"),
        tuple(p for p in PROBLEM_TYPES if p not in ("late_delivery", "lost_in_transit", "customs_issue")),
    ),
    FactSpec(
        "sea_regime",
        "enum",
        N_("For sea carriage: which convention does the bill of lading apply?"),
        _CARRIAGE,
        ("hague_visby", "hamburg"),
        ("sea", "multimodal"),
    ),
    FactSpec(
        "damage_noted_on_receipt",
        "bool",
        N_("Was the damage or shortage written on the delivery receipt when you signed it?"),
        ("transit_damage", "short_shipment", "missing_parts"),
    ),
    FactSpec(
        "outer_packaging",
        "enum",
        N_("In what state did the outer packaging arrive?"),
        ("quality_defect", "transit_damage", "missing_parts"),
        ("intact", "damaged", "unknown"),
    ),
    FactSpec(
        "packaging_adequate",
        "bool",
        N_("Was the packaging suitable for this transport mode?"),
        ("transit_damage",),
    ),
    FactSpec(
        "packaging_spec_by_buyer",
        "bool",
        N_("Was the packaging made to your own specification or supplied by you?"),
        ("transit_damage",),
    ),
    FactSpec(
        "seal",
        "enum",
        N_("In what state was the container or trailer seal on arrival?"),
        ("short_shipment", "missing_parts"),
        ("intact", "broken", "mismatch"),
    ),
    FactSpec(
        "customs_exam_record",
        "bool",
        N_("Is there a customs seal or examination record for this shipment?"),
        ("transit_damage", "short_shipment", "missing_parts", "customs_issue"),
    ),
    FactSpec(
        "shock_indicator_tripped",
        "bool",
        N_("Was a shock or tilt indicator on the goods tripped?"),
        ("transit_damage",),
    ),
    FactSpec(
        "impact_marks",
        "bool",
        N_("Are there impact marks on the packaging that match the damage inside?"),
        ("transit_damage",),
    ),
    FactSpec(
        "psi",
        "enum",
        N_("What was the result of the pre-shipment inspection?"),
        ("quality_defect", "not_as_described"),
        ("passed", "failed_shipped", "none"),
    ),
    FactSpec(
        "defect_in_psi_report",
        "bool",
        N_("Is this defect already listed in the pre-shipment inspection report?"),
        ("quality_defect", "not_as_described"),
    ),
    FactSpec(
        "within_agreed_aql",
        "bool",
        N_("Is the defect rate within the AQL agreed in the contract?"),
        ("quality_defect",),
    ),
    FactSpec(
        "cartons_short_on_receipt",
        "bool",
        N_("Were fewer cartons delivered than the waybill lists, noted on the delivery receipt?"),
        ("short_shipment",),
    ),
    FactSpec(
        "container_full",
        "bool",
        N_("Was it a full container load (FCL) packed by the supplier?"),
        ("short_shipment",),
    ),
    FactSpec(
        "units_missing_in_intact_cartons",
        "bool",
        N_("Were units missing inside cartons that were not opened or tampered with?"),
        ("short_shipment", "missing_parts"),
    ),
    FactSpec(
        "handed_over_late",
        "bool",
        N_("Did the supplier hand the goods over after the agreed shipment date?"),
        ("late_delivery",),
    ),
    FactSpec(
        "buyer_failed_to_nominate_carrier",
        "bool",
        N_("Did you fail to nominate the carrier or vessel in time?"),
        ("late_delivery",),
    ),
    FactSpec(
        "import_papers_late_by_buyer",
        "bool",
        N_("Were the import documents that you had to provide late or missing?"),
        ("late_delivery", "customs_issue"),
    ),
    FactSpec(
        "label_other_consignee",
        "bool",
        N_("Does the label or waybill on the goods name another consignee?"),
        ("wrong_item", "short_shipment", "lost_in_transit", "late_delivery"),
    ),
    FactSpec(
        "damaged_during_unloading_by",
        "enum",
        N_("If the goods were damaged while being loaded or unloaded, whose people were doing it?"),
        ("transit_damage",),
        ("purchaser", "carrier", "supplier"),
    ),
)

FACTS: Mapping[str, FactSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})

# Facts computed from others, usable in rule conditions but never given by a user.
DERIVED_FACTS: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {"incoterm_group": ("incoterm", ("POST", "D"))}
)

EVIDENCE: Mapping[str, str] = MappingProxyType(
    {
        "delivery_receipt": N_(
            "The signed delivery receipt (CMR note, air waybill, delivery order) with any reservations written on it"
        ),
        "damage_photos": N_(
            "Photos of the damage and of the outer and inner packaging, taken before unpacking further"
        ),
        "cargo_survey": N_("An independent cargo survey report on when and how the damage arose"),
        "packing_photos": N_("The supplier's photos or loading report of the goods as packed and loaded"),
        "defect_evidence": N_("Photos, test results or samples showing the defect and its rate in the lot"),
        "psi_report": N_("The pre-shipment inspection report"),
        "contract_terms": N_("The sales contract's quality, AQL, packaging and delivery terms"),
        "seal_record": N_(
            "The seal number found on arrival, compared with the bill of lading, and any customs re-seal record"
        ),
        "tally_report": N_("The packing list or loading tally against the count on arrival"),
        "tracking_history": N_("The carrier's tracking and handover history with dates"),
        "customs_record": N_("The customs examination, hold or release documents"),
    }
)

# Evidence a phone's camera can show (the rest are papers): a new photo on the intake form is tagged with
# the first of these the checklist still misses.
PHOTO_EVIDENCE: frozenset[str] = frozenset({"damage_photos", "defect_evidence", "seal_record", "packing_photos"})

# What to gather when no rule decides and no missing fact would.
DEFAULT_EVIDENCE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "quality_defect": ("defect_evidence", "psi_report", "contract_terms"),
        "not_as_described": ("defect_evidence", "contract_terms"),
        "wrong_item": ("delivery_receipt", "contract_terms"),
        "short_shipment": ("tally_report", "seal_record", "delivery_receipt"),
        "missing_parts": ("tally_report", "packing_photos"),
        "transit_damage": ("damage_photos", "delivery_receipt", "cargo_survey"),
        "lost_in_transit": ("tracking_history", "delivery_receipt"),
        "late_delivery": ("tracking_history", "contract_terms"),
        "customs_issue": ("customs_record", "contract_terms"),
        "other": ("contract_terms", "delivery_receipt", "damage_photos"),
    }
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_DATE_FACTS = ("delivered_on", "discovered_on", "carrier_notice_on", "supplier_notice_on")


def relevant_facts(problem_type: str | None, transport_mode: str | None = None) -> tuple[FactSpec, ...]:
    """The facts worth asking for this problem type (only the general ones while it is unknown) and mode."""
    return tuple(spec for spec in _SPECS if spec.matters_for(problem_type, transport_mode))


@dataclass(frozen=True)
class Facts:
    """Validated facts of one claim; a fact that is absent is unknown. Build it with `parse_facts`."""

    values: Mapping[str, FactValue]

    def get(self, name: str) -> FactValue | None:
        if name == "incoterm_group":
            return self.incoterm_group
        return self.values.get(name)

    def with_fact(self, name: str, value: FactValue) -> Facts:
        """These facts with one more answered (a fact already known is replaced)."""
        return Facts(MappingProxyType({**self.values, name: value}))

    def _str(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def _bool(self, name: str) -> bool | None:
        value = self.values.get(name)
        return value if isinstance(value, bool) else None

    def _date(self, name: str) -> date | None:
        value = self.values.get(name)
        return value if isinstance(value, date) else None

    @property
    def problem_type(self) -> str | None:
        return self._str("problem_type")

    @property
    def incoterm(self) -> str | None:
        return self._str("incoterm")

    @property
    def incoterm_group(self) -> str | None:
        term = self.incoterm
        return INCOTERM_GROUPS.get(term) if term else None

    @property
    def transport_mode(self) -> str | None:
        return self._str("transport_mode")

    @property
    def sea_regime(self) -> str | None:
        return self._str("sea_regime")

    @property
    def delivery_country(self) -> str | None:
        return self._str("delivery_country")

    @property
    def outer_packaging(self) -> str | None:
        return self._str("outer_packaging")

    @property
    def damage_noted_on_receipt(self) -> bool | None:
        return self._bool("damage_noted_on_receipt")

    @property
    def delivered_on(self) -> date | None:
        return self._date("delivered_on")

    @property
    def discovered_on(self) -> date | None:
        return self._date("discovered_on")

    @property
    def carrier_notice_on(self) -> date | None:
        return self._date("carrier_notice_on")

    @property
    def supplier_notice_on(self) -> date | None:
        return self._date("supplier_notice_on")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready known facts, in schema order, dates as ISO strings."""
        out: dict[str, object] = {}
        for name in FACTS:
            value = self.values.get(name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, date) else value
        return out


def _parse_value(spec: FactSpec, value: object) -> tuple[FactValue | None, str | None]:
    """Return (normalised value, None) or (None, error message) for one given fact."""
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value, None
        return None, f"expected true or false, got {_describe(value)}"
    if spec.kind == "date":
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value, None
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
            return None, f"expected an ISO date YYYY-MM-DD, got {_describe(value)}"
        try:
            return date.fromisoformat(value.strip()), None
        except ValueError:
            return None, f"{value.strip()!r} is not a real calendar date"
    if spec.kind == "country":
        if isinstance(value, str) and _COUNTRY.fullmatch(value.strip()):
            return value.strip().upper(), None
        return None, f"expected a two-letter ISO country code, got {_describe(value)}"
    if not isinstance(value, str):
        return None, f"expected one of {', '.join(spec.choices)}, got {_describe(value)}"
    # Incoterms are written in capitals, every other choice in snake_case; accept either case.
    normalised = value.strip().upper() if spec.name == "incoterm" else value.strip().lower()
    if normalised in spec.choices:
        return normalised, None
    label = spec.name.replace("_", " ")
    return None, f"unknown {label} {value!r}; expected one of {', '.join(spec.choices)}"


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else "a long string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def parse_facts(raw: Mapping[str, object], *, today: date) -> Facts:
    """Validate JSON-like facts; raise FactsError listing every (field, message) problem at once."""
    if not isinstance(raw, Mapping):
        raise FactsError([("", "expected a JSON object of facts")])
    errors: list[tuple[str, str]] = []
    values: dict[str, FactValue] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            errors.append((str(key), "fact names must be strings"))
            continue
        spec = FACTS.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(FACTS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append((key, f"unknown fact{hint}"))
            continue
        if value is None:
            continue
        parsed, message = _parse_value(spec, value)
        if message is not None:
            errors.append((key, message))
        elif parsed is not None:
            values[key] = parsed

    for name in _DATE_FACTS:
        when = values.get(name)
        if isinstance(when, date) and when > today:
            errors.append((name, f"{when.isoformat()} is in the future (today is {today.isoformat()})"))
    delivered = values.get("delivered_on")
    discovered = values.get("discovered_on")
    if isinstance(delivered, date) and isinstance(discovered, date) and discovered < delivered:
        # Notices are not checked against delivery: a delay notice or a PSI complaint can come first.
        errors.append(("discovered_on", f"{discovered.isoformat()} is before delivered_on {delivered.isoformat()}"))
    if errors:
        raise FactsError(errors)
    return Facts(MappingProxyType(values))


# A supplier's or carrier's own evidence item (its playbook's words, not the checklist's): files are tagged
# with ``pb:`` and a slug of those words, and the evidence checks accept such a tag like a checklist name.
FREE_PREFIX = "pb:"


def free_key(label: str) -> str:
    """The key a free evidence item is tagged with on files: ``pb:`` and a slug of its words (<= 40 chars)."""
    text = unicodedata.normalize("NFKC", label).strip().lower()
    slug = re.sub(r"[^\w]+", "_", text, flags=re.UNICODE).strip("_")
    return (FREE_PREFIX + (slug or "item"))[:40]


def is_free_key(key: str) -> bool:
    return key.startswith(FREE_PREFIX) and 3 < len(key) <= 40 and re.fullmatch(r"pb:\w+", key) is not None
