"""Responsibility hints for claims: rules as data, facts in, a likely party with its basis out.

Pure: no clock (pass `today`) and no I/O at call time beyond reading the rule and holiday files once.
"""

from app.rules.calendar import HolidayCalendar, add_years, shipped_countries
from app.rules.deadlines import Deadline, compute_deadlines
from app.rules.engine import READINGS, Alternative, AnswerEffect, MissingFact, PartyScore, Suggestion, suggest
from app.rules.errors import FactsError, RuleFileError, RulesError
from app.rules.facts import (
    EVIDENCE,
    FACTS,
    INCOTERM_GROUPS,
    INCOTERMS,
    PARTIES,
    PROBLEM_TYPES,
    TRANSPORT_MODES,
    Facts,
    FactSpec,
    parse_facts,
    relevant_facts,
)
from app.rules.registry import Rule, RuleRegistry, load_rule_file, load_rules

__all__ = [
    "EVIDENCE",
    "FACTS",
    "INCOTERMS",
    "INCOTERM_GROUPS",
    "PARTIES",
    "PROBLEM_TYPES",
    "READINGS",
    "TRANSPORT_MODES",
    "Alternative",
    "AnswerEffect",
    "Deadline",
    "FactSpec",
    "Facts",
    "FactsError",
    "HolidayCalendar",
    "MissingFact",
    "PartyScore",
    "Rule",
    "RuleFileError",
    "RuleRegistry",
    "RulesError",
    "Suggestion",
    "add_years",
    "compute_deadlines",
    "load_rule_file",
    "load_rules",
    "parse_facts",
    "relevant_facts",
    "shipped_countries",
    "suggest",
]
