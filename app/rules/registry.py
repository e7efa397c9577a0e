"""Responsibility rules as data: the TOML loader and the registry that holds core and company rules."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from app.rules.conditions import Condition, ConditionError, parse_condition
from app.rules.errors import RuleFileError
from app.rules.facts import EVIDENCE, PARTIES, TRANSPORT_MODES, Facts

CORE_RULES_DIR = Path(__file__).parent / "data"

_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_CAUSE = re.compile(r"[a-z][a-z0-9_]*")
_RULE_KEYS = frozenset(
    {
        "id",
        "conditions",
        "party",
        "confidence",
        "cause",
        "basis",
        "basis_by_mode",
        "explanation",
        "overrides",
        "priority",
        "evidence",
    }
)
_REQUIRED = ("id", "conditions", "party", "confidence", "basis", "explanation")
_FILE_KEYS = frozenset({"rule", "description"})


@dataclass(frozen=True)
class Rule:
    """One IF-facts-THEN-party rule with its legal basis; `source` and `line` say where it was written."""

    id: str
    conditions: tuple[Condition, ...]
    party: str
    confidence: float
    basis: tuple[str, ...]
    explanation: str
    cause: str | None = None
    overrides: tuple[str, ...] = ()
    priority: int = 0
    evidence: tuple[str, ...] = ()
    basis_by_mode: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<memory>"
    line: int | None = None

    @property
    def specificity(self) -> int:
        return len(self.conditions)

    def basis_for(self, transport_mode: str | None) -> tuple[str, ...]:
        """The general basis plus the carriage convention's articles for this mode, if any."""
        return self.basis + self.basis_by_mode.get(transport_mode or "", ())

    def evaluate(self, facts: Facts) -> tuple[bool, tuple[str, ...]]:
        """(matches, facts still unknown). A failed test gives (False, ()): no fact would rescue it."""
        unknown: list[str] = []
        for condition in self.conditions:
            outcome = condition.test(facts)
            if outcome is False:
                return False, ()
            if outcome is None and condition.source_fact not in unknown:
                unknown.append(condition.source_fact)
        return not unknown, tuple(unknown)


class _Locator:
    """Finds the line of a rule's table header or of one of its keys in the file's text."""

    _HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [n for n, line in enumerate(self.lines, start=1) if self._HEADER.match(line)]

    def rule_line(self, index: int) -> int | None:
        return self.headers[index] if index < len(self.headers) else None

    def key_line(self, index: int, key: str) -> int | None:
        start = self.rule_line(index)
        if start is None:
            return None
        end = self.headers[index + 1] - 1 if index + 1 < len(self.headers) else len(self.lines)
        pattern = re.compile(rf"(^|[\s{{,])[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, end + 1):
            if pattern.search(self.lines[number - 1]):
                return number
        return start


def _strings(value: object, *, allow_empty: bool = False) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return None
    if not value and not allow_empty:
        return None
    return tuple(v.strip() for v in value)


def _parse_rule(raw: object, index: int, path: Path, locator: _Locator) -> Rule:
    header = locator.rule_line(index)

    def fail(message: str, key: str | None = None) -> RuleFileError:
        line = locator.key_line(index, key) if key else header
        return RuleFileError(message, path=path, line=line)

    if not isinstance(raw, dict):
        raise fail("each rule must be a [[rule]] table")
    for key in raw:
        if key not in _RULE_KEYS:
            raise fail(f"unknown rule key {key!r}; expected one of {', '.join(sorted(_RULE_KEYS))}", key)
    for key in _REQUIRED:
        if key not in raw:
            raise fail(f"rule is missing {key!r}")

    rule_id = raw["id"]
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        raise fail("id must be lowercase letters, digits, '.', '_' or '-'", "id")
    party = raw["party"]
    if party not in PARTIES:
        raise fail(f"rule {rule_id}: unknown party {party!r}; expected one of {', '.join(PARTIES)}", "party")
    confidence = raw["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        raise fail(f"rule {rule_id}: confidence must be a number from 0 to 1", "confidence")
    cause = raw.get("cause")
    if cause is not None and (not isinstance(cause, str) or not _CAUSE.fullmatch(cause)):
        raise fail(f"rule {rule_id}: cause must be a snake_case word", "cause")
    basis = _strings(raw["basis"])
    if basis is None:
        raise fail(f"rule {rule_id}: basis must be a non-empty list of citations", "basis")
    explanation = raw["explanation"]
    if not isinstance(explanation, str) or not explanation.strip():
        raise fail(f"rule {rule_id}: explanation must be plain text", "explanation")
    overrides = _strings(raw.get("overrides", []), allow_empty=True)
    if overrides is None:
        raise fail(f"rule {rule_id}: overrides must be a list of rule ids", "overrides")
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise fail(f"rule {rule_id}: priority must be a whole number", "priority")
    evidence = _strings(raw.get("evidence", []), allow_empty=True)
    if evidence is None or any(name not in EVIDENCE for name in evidence):
        raise fail(f"rule {rule_id}: evidence must list names from: {', '.join(EVIDENCE)}", "evidence")

    by_mode_raw = raw.get("basis_by_mode", {})
    if not isinstance(by_mode_raw, dict):
        raise fail(f"rule {rule_id}: basis_by_mode must be a table of mode = [citations]", "basis_by_mode")
    by_mode: dict[str, tuple[str, ...]] = {}
    for mode, citations in by_mode_raw.items():
        parsed = _strings(citations)
        if mode not in TRANSPORT_MODES or parsed is None:
            raise fail(
                f"rule {rule_id}: basis_by_mode.{mode} must be one of {', '.join(TRANSPORT_MODES)} "
                "with a non-empty list of citations",
                mode,
            )
        by_mode[mode] = parsed

    raw_conditions = raw["conditions"]
    if not isinstance(raw_conditions, dict) or not raw_conditions:
        raise fail(f"rule {rule_id}: conditions must be a non-empty table", "conditions")
    conditions: list[Condition] = []
    for fact, value in raw_conditions.items():
        try:
            conditions.append(parse_condition(fact, value))
        except ConditionError as exc:
            raise fail(f"rule {rule_id}: {exc}", fact) from exc

    return Rule(
        id=rule_id,
        conditions=tuple(conditions),
        party=party,
        confidence=float(confidence),
        basis=basis,
        explanation=" ".join(explanation.split()),
        cause=cause,
        overrides=overrides,
        priority=priority,
        evidence=evidence,
        basis_by_mode=MappingProxyType(by_mode),
        source=str(path),
        line=header,
    )


def load_rule_file(path: Path | str) -> tuple[Rule, ...]:
    """Read and validate one TOML rule file; RuleFileError names the file and line of any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"cannot read rule file: {exc}", path=path) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError.from_toml(exc, path=path, text=text) from exc
    locator = _Locator(text)
    for key in data:
        if key not in _FILE_KEYS:
            raise RuleFileError(
                f"unknown top-level key {key!r}; a rule file has `description` and [[rule]] tables",
                path=path,
                line=next((n for n, line in enumerate(locator.lines, 1) if key in line), None),
            )
    rules = data.get("rule")
    if not isinstance(rules, list) or not rules:
        raise RuleFileError("no [[rule]] tables in this file", path=path, line=1)
    return tuple(_parse_rule(raw, index, path, locator) for index, raw in enumerate(rules))


def load_rules(path: Path | str) -> tuple[Rule, ...]:
    """Rules from one file, or from every *.toml directly inside a folder, in file-name order."""
    path = Path(path)
    if path.is_dir():
        return tuple(rule for file in sorted(path.glob("*.toml")) for rule in load_rule_file(file))
    if path.is_file():
        return load_rule_file(path)
    raise RuleFileError("no such rule file or folder", path=path)


class RuleRegistry:
    """All rules the engine may use. The core rules load through the same door as a company's."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        by_id: dict[str, Rule] = {}
        for rule in self._rules:
            if rule.id in by_id:
                first = by_id[rule.id]
                raise RuleFileError(
                    f"rule id {rule.id!r} is already defined at {first.source}:{first.line}; "
                    "to replace a core rule, give yours a new id and list the old one in `overrides`",
                    path=rule.source,
                    line=rule.line,
                )
            by_id[rule.id] = rule
        for rule in self._rules:
            for target in rule.overrides:
                if target == rule.id:
                    raise RuleFileError(f"rule {rule.id} overrides itself", path=rule.source, line=rule.line)
                if target not in by_id:
                    raise RuleFileError(
                        f"rule {rule.id} overrides unknown rule id {target!r}", path=rule.source, line=rule.line
                    )
        self._by_id = MappingProxyType(by_id)
        self._reject_override_cycles()

    def _reject_override_cycles(self) -> None:
        # A cycle would let every rule in it drop the others, leaving no winner.
        state: dict[str, int] = {}

        def visit(rule_id: str, path: list[str]) -> None:
            state[rule_id] = 1
            path.append(rule_id)
            for target in self._by_id[rule_id].overrides:
                if state.get(target) == 1:
                    cycle = [*path[path.index(target) :], target]
                    rule = self._by_id[rule_id]
                    raise RuleFileError(
                        f"overrides form a cycle: {' -> '.join(cycle)}", path=rule.source, line=rule.line
                    )
                if target not in state:
                    visit(target, path)
            path.pop()
            state[rule_id] = 2

        for rule_id in self._by_id:
            if rule_id not in state:
                visit(rule_id, [])

    @classmethod
    def core(cls) -> RuleRegistry:
        """The rules shipped in app/rules/data, read once per process."""
        return _core_registry()

    @classmethod
    def load(cls, *paths: Path | str, include_core: bool = True) -> RuleRegistry:
        """Core rules plus the rules in each given file or folder (e.g. CROSSCLAIM_RULES_DIR)."""
        rules: list[Rule] = list(cls.core()) if include_core else []
        for path in paths:
            rules.extend(load_rules(path))
        return cls(rules)

    def with_rules(self, rules: Iterable[Rule]) -> RuleRegistry:
        return RuleRegistry([*self._rules, *rules])

    def get(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"RuleRegistry({len(self._rules)} rules)"


@functools.cache
def _core_registry() -> RuleRegistry:
    return RuleRegistry(load_rules(CORE_RULES_DIR))
