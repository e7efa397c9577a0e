"""Rule files: loud, located errors; company rules added and overriding core rules; the conflict order."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from app.rules import FACTS, RuleFileError, RuleRegistry, load_rule_file, suggest
from app.rules.registry import CORE_RULES_DIR

TODAY = date(2026, 11, 26)

AQL_CASE = {"problem_type": "quality_defect", "within_agreed_aql": True, "incoterm": "FOB"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rule(rule_id: str, conditions: str, *, party: str = "supplier", extra: str = "") -> str:
    return f"""
[[rule]]
id = "{rule_id}"
party = "{party}"
confidence = 0.5
basis = ["Test basis for {rule_id}"]
explanation = "Test rule {rule_id}."
{extra}
[rule.conditions]
{conditions}
"""


# --- Errors name the file and the line -------------------------------------------------------------


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.toml", '[[rule]]\nid = "x"\nparty = supplier\n')
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    assert str(caught.value).startswith(f"{path}:3:")
    assert "TOML syntax error" in str(caught.value)
    assert caught.value.line == 3


def test_toml_error_at_end_of_file_names_the_last_line(tmp_path: Path) -> None:
    path = write(tmp_path, "open.toml", 'description = "x"\nexplanation = """never closed\n')
    with pytest.raises(RuleFileError, match=re.escape(f"{path}:2:")):
        load_rule_file(path)


def test_unknown_fact_names_file_and_line_of_the_key(tmp_path: Path) -> None:
    text = rule("acme.one", 'problem_type = "transit_damage"') + rule(
        "acme.two", 'problem_type = "transit_damage"\npackaging_colour = "red"'
    )
    path = write(tmp_path, "acme.toml", text)
    lines = text.splitlines()
    expected = lines.index('packaging_colour = "red"') + 1
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    assert str(caught.value).startswith(f"{path}:{expected}: rule acme.two: unknown fact 'packaging_colour'")


def test_unknown_fact_in_an_inline_conditions_table(tmp_path: Path) -> None:
    text = '[[rule]]\nid = "a"\nparty = "carrier"\nconfidence = 0.5\nbasis = ["b"]\nexplanation = "e"\n'
    text += 'conditions = { problem_type = "other", colour = "red" }\n'
    path = write(tmp_path, "inline.toml", text)
    with pytest.raises(RuleFileError, match=re.escape(f"{path}:7: rule a: unknown fact 'colour'")):
        load_rule_file(path)


@pytest.mark.parametrize(
    ("extra", "conditions", "message", "key"),
    [
        ("", 'seal = "open"', "'open' is not a value of seal", "seal"),
        ("", "seal = true", "seal takes text values", "seal"),
        ("", 'packaging_adequate = "yes"', "packaging_adequate is true or false", "packaging_adequate"),
        ("", 'incoterm = "FOO"', "'FOO' is not a value of incoterm", "incoterm"),
        ("", 'incoterm_group = "C"', "'C' is not a value of incoterm_group", "incoterm_group"),
        ("", 'delivered_on = "2026-01-01"', "rule conditions cannot test dates", "delivered_on"),
        ("", "seal = []", "an empty list can never match", "seal"),
        ("", 'seal = { is = "intact" }', "unknown operator 'is'", "seal"),
        ("", 'seal = { known = "yes" }', "`known` takes true or false", "seal"),
        ('cause = "Customs Hold"', 'seal = "intact"', "cause must be a snake_case word", "cause"),
        ("priority = 1.5", 'seal = "intact"', "priority must be a whole number", "priority"),
        ('evidence = ["selfie"]', 'seal = "intact"', "evidence must list names", "evidence"),
        ('overrides = "x"', 'seal = "intact"', "overrides must be a list", "overrides"),
        ("colour = 1", 'seal = "intact"', "unknown rule key 'colour'", "colour"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path: Path, extra: str, conditions: str, message: str, key: str) -> None:
    text = rule("acme.bad", conditions, extra=extra)
    path = write(tmp_path, "bad.toml", text)
    expected = next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(key))
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    assert str(caught.value).startswith(f"{path}:{expected}:")
    assert message in str(caught.value)


def test_unknown_party_and_bad_confidence(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", rule("acme.p", 'seal = "intact"', party="insurer"))
    with pytest.raises(RuleFileError, match=re.escape(f"{path}:4: rule acme.p: unknown party 'insurer'")):
        load_rule_file(path)
    text = rule("acme.c", 'seal = "intact"').replace("confidence = 0.5", "confidence = 1.5")
    path = write(tmp_path, "c.toml", text)
    with pytest.raises(RuleFileError, match=re.escape(f"{path}:5: rule acme.c: confidence must be a number")):
        load_rule_file(path)


def test_missing_required_key_names_the_rule_header(tmp_path: Path) -> None:
    text = rule("acme.ok", 'seal = "intact"') + '\n[[rule]]\nid = "acme.nobasis"\nparty = "carrier"\n'
    path = write(tmp_path, "m.toml", text)
    header = [n for n, line in enumerate(text.splitlines(), 1) if line == "[[rule]]"][1]
    with pytest.raises(RuleFileError, match=re.escape(f"{path}:{header}: rule is missing 'conditions'")):
        load_rule_file(path)


def test_file_level_mistakes(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="no \\[\\[rule\\]\\] tables"):
        load_rule_file(write(tmp_path, "empty.toml", 'description = "nothing"\n'))
    with pytest.raises(RuleFileError, match="unknown top-level key 'rules'"):
        load_rule_file(write(tmp_path, "typo.toml", "[[rules]]\nid = 'x'\n"))
    with pytest.raises(RuleFileError, match="no such rule file or folder"):
        RuleRegistry.load(tmp_path / "missing")


def test_registry_rejects_duplicate_ids_unknown_overrides_and_cycles(tmp_path: Path) -> None:
    dup = write(tmp_path, "dup.toml", rule("quality.within_agreed_aql", 'seal = "intact"'))
    with pytest.raises(RuleFileError, match=r"already defined at .*quality\.toml"):
        RuleRegistry.load(dup)
    unknown = write(tmp_path, "unknown.toml", rule("acme.u", 'seal = "intact"', extra='overrides = ["quality.nope"]'))
    with pytest.raises(RuleFileError, match=re.escape(f"{unknown}:2: rule acme.u overrides unknown rule id")):
        RuleRegistry.load(unknown)
    cycle = write(
        tmp_path,
        "cycle.toml",
        rule("acme.a", 'seal = "intact"', extra='overrides = ["acme.b"]')
        + rule("acme.b", 'seal = "intact"', extra='overrides = ["acme.a"]'),
    )
    with pytest.raises(RuleFileError, match=re.escape("overrides form a cycle: acme.a -> acme.b -> acme.a")):
        RuleRegistry.load(cycle)
    selfish = write(tmp_path, "self.toml", rule("acme.s", 'seal = "intact"', extra='overrides = ["acme.s"]'))
    with pytest.raises(RuleFileError, match="overrides itself"):
        RuleRegistry.load(selfish)


# --- Company rules ---------------------------------------------------------------------------------


def test_company_rule_overriding_a_core_rule_by_id_wins(tmp_path: Path) -> None:
    assert suggest(AQL_CASE, today=TODAY).party == "purchaser"
    folder = tmp_path / "rules"
    folder.mkdir()
    write(
        folder,
        "acme.toml",
        """
description = "ACME's supplier agreement: every defect is the supplier's, AQL or not."

[[rule]]
id = "acme.zero_defects"
party = "supplier"
confidence = 0.6
basis = ["ACME supplier agreement clause 7.2 (zero defects)"]
explanation = "Our supplier agreement accepts no defects, whatever the sampling plan."
overrides = ["quality.within_agreed_aql"]
[rule.conditions]
problem_type = "quality_defect"
""",
    )
    write(folder, "README.txt", "not a rule file")
    registry = RuleRegistry.load(folder)
    assert len(registry) == len(RuleRegistry.core()) + 1

    result = suggest(AQL_CASE, today=TODAY, registry=registry)

    assert result.party == "supplier"
    assert result.rule_ids == ("acme.zero_defects",)
    assert result.basis == ("ACME supplier agreement clause 7.2 (zero defects)",)
    every_id = set(result.rule_ids) | {i for alt in result.alternatives for i in alt.rule_ids}
    assert "quality.within_agreed_aql" not in every_id
    # The core registry itself is untouched.
    assert suggest(AQL_CASE, today=TODAY).party == "purchaser"


def test_company_rule_for_a_case_the_core_leaves_open(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "acme.toml",
        rule(
            "acme.other_is_supplier",
            'problem_type = "other"\nincoterm_group = "D"',
            extra='cause = "contract_clause"',
        ),
    )
    result = suggest({"problem_type": "other", "incoterm": "DDP"}, today=TODAY, registry=RuleRegistry.load(path))
    assert (result.party, result.cause, result.rule_ids) == ("supplier", "contract_clause", ("acme.other_is_supplier",))


# --- Conflict order on rules of our own --------------------------------------------------------------


def _only(tmp_path: Path, text: str) -> RuleRegistry:
    return RuleRegistry.load(write(tmp_path, "only.toml", text), include_core=False)


def test_more_specific_rule_beats_higher_priority_and_confidence(tmp_path: Path) -> None:
    registry = _only(
        tmp_path,
        rule("t.broad", 'problem_type = "other"', party="carrier", extra="priority = 100")
        + rule("t.narrow", 'problem_type = "other"\nseal = "intact"', party="supplier"),
    )
    result = suggest({"problem_type": "other", "seal": "intact"}, today=TODAY, registry=registry)
    assert result.rule_ids == ("t.narrow",)
    assert [(a.party, a.rule_ids) for a in result.alternatives] == [("carrier", ("t.broad",))]


def test_priority_then_confidence_break_ties(tmp_path: Path) -> None:
    registry = _only(
        tmp_path,
        rule("t.a", 'problem_type = "other"', party="carrier").replace("0.5", "0.9")
        + rule("t.b", 'problem_type = "other"', party="supplier", extra="priority = 1")
        + rule("t.c", 'problem_type = "other"', party="purchaser").replace("0.5", "0.7"),
    )
    result = suggest({"problem_type": "other"}, today=TODAY, registry=registry)
    assert result.party == "supplier"
    assert [a.party for a in result.alternatives] == ["carrier", "purchaser"]


def test_rules_agreeing_with_the_winner_add_their_basis(tmp_path: Path) -> None:
    registry = _only(
        tmp_path,
        rule("t.one", 'problem_type = "other"\nseal = "intact"') + rule("t.two", 'problem_type = "other"'),
    )
    result = suggest({"problem_type": "other", "seal": "intact"}, today=TODAY, registry=registry)
    assert result.rule_ids == ("t.one", "t.two")
    assert result.basis == ("Test basis for t.one", "Test basis for t.two")


def test_not_and_known_operators(tmp_path: Path) -> None:
    registry = _only(
        tmp_path,
        rule("t.not", 'problem_type = "other"\nincoterm = { not = ["DDP", "DAP"] }')
        + rule("t.unknown", 'problem_type = "other"\nseal = { known = false }', party="carrier"),
    )
    assert suggest({"problem_type": "other", "incoterm": "FOB", "seal": "broken"}, today=TODAY,
                   registry=registry).rule_ids == ("t.not",)  # fmt: skip
    no_term = suggest({"problem_type": "other"}, today=TODAY, registry=registry)
    assert no_term.rule_ids == ("t.unknown",)
    # `not` needs the fact: the unknown incoterm is what would decide it.
    assert [m.name for m in no_term.missing_facts] == ["incoterm"]
    assert suggest({"problem_type": "other", "incoterm": "DDP", "seal": "intact"}, today=TODAY,
                   registry=registry).party == "undetermined"  # fmt: skip


# --- The core rules themselves ---------------------------------------------------------------------


def test_core_rules_load_from_one_file_per_family() -> None:
    registry = RuleRegistry.core()
    families = {Path(r.source).stem for r in registry}
    assert families == {"quality", "transit", "packaging", "shortage", "customs", "delay", "unloading"}
    assert all(Path(r.source).parent == CORE_RULES_DIR for r in registry)
    assert all(r.basis and r.line for r in registry)
    assert all(r.id.startswith(Path(r.source).stem + ".") for r in registry)


def test_core_rules_only_use_facts_relevant_to_their_problem_types() -> None:
    # The intake asks only the facts relevant to a problem type; a rule needing another would never fire.
    for core_rule in RuleRegistry.core():
        problem = next(c for c in core_rule.conditions if c.fact == "problem_type")
        for condition in core_rule.conditions:
            fact = condition.source_fact
            for problem_type in problem.values:
                assert problem_type in FACTS[fact].problem_types, (core_rule.id, fact, problem_type)


def test_priors_are_normalised_and_a_bad_priors_file_names_itself(tmp_path: Path) -> None:
    from app.rules.priors import core_priors, load_priors

    priors = core_priors()
    for answers in priors.values():
        assert 0.0 < sum(weight for _answer, weight in answers) <= 1.0 + 1e-9
    assert dict(priors["customs_exam_record"])[True] == pytest.approx(0.1)
    # `not_applicable` keeps a share where no answer holds.
    assert sum(weight for _answer, weight in priors["damaged_during_unloading_by"]) == pytest.approx(0.1)
    assert set(dict(priors["incoterm"])) == set(FACTS["incoterm"].choices)

    for text, message in [
        ("[seal]\nopen = 1\n", "'open' is not one of its answers"),
        ("[delivered_on]\ntrue = 1\n", "not a yes/no or choice fact"),
        ("[seal]\nintact = -1\n", "a weight is a positive number"),
        ("[seal\n", "malformed TOML"),
    ]:
        path = tmp_path / "priors.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(RuleFileError, match=message) as raised:
            load_priors(path)
        assert str(path) in str(raised.value)
