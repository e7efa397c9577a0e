"""How likely each answer to a fact is before anyone has checked: the engine's weights for unknown facts."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from app.rules.errors import RuleFileError
from app.rules.facts import FACTS

PRIORS_FILE = Path(__file__).parent / "data" / "priors" / "facts.toml"

Answer = str | bool
NOT_APPLICABLE = "not_applicable"


def _answers_of(name: str) -> tuple[Answer, ...]:
    spec = FACTS[name]
    if spec.kind == "bool":
        return (True, False)
    if spec.kind == "enum":
        return spec.choices
    return ()  # dates and countries have no short list of answers


def load_priors(path: Path | str = PRIORS_FILE) -> Mapping[str, tuple[tuple[Answer, float], ...]]:
    """Every yes/no and choice fact with its answers and their probabilities.

    The file lists weights per answer; an answer it does not list weighs 1. `not_applicable` weighs
    the chance that the question does not apply (the answers' probabilities then sum to less than 1,
    and a test on the fact fails in that share). Raises RuleFileError.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"cannot read priors file: {exc}", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise RuleFileError(f"malformed TOML: {exc}", path=path) from exc
    priors: dict[str, tuple[tuple[Answer, float], ...]] = {}
    for name, table in data.items():
        if name not in FACTS or not _answers_of(name) or not isinstance(table, dict):
            raise RuleFileError(f"{name!r} is not a yes/no or choice fact with a table of weights", path=path)
    for name in FACTS:
        answers = _answers_of(name)
        if not answers:
            continue
        table = data.get(name, {})
        spelled = {str(answer).lower(): answer for answer in answers}
        weights: dict[Answer, float] = dict.fromkeys(answers, 1.0)
        not_applicable = 0.0
        for key, weight in table.items():
            if key.lower() not in spelled and key != NOT_APPLICABLE:
                raise RuleFileError(f"{name}: {key!r} is not one of its answers", path=path)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise RuleFileError(f"{name}.{key}: a weight is a positive number", path=path)
            if key == NOT_APPLICABLE:
                not_applicable = float(weight)
            else:
                weights[spelled[key.lower()]] = float(weight)
        total = sum(weights.values()) + not_applicable
        priors[name] = tuple((answer, weight / total) for answer, weight in weights.items())
    return MappingProxyType(priors)


@functools.cache
def core_priors() -> Mapping[str, tuple[tuple[Answer, float], ...]]:
    """The shipped priors, read once per process."""
    return load_priors()
