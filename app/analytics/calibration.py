"""How often responsibility hints were right: per confidence band and per rule, against the parties staff settled on.

Pure: the outcomes come in (see `selectors.hint_outcomes`), the table goes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.analytics.rates import wilson

# Confidence bands, lower bound included; the last one includes 100%.
BANDS: tuple[tuple[float, float], ...] = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))
NAMED_PARTIES = ("supplier", "carrier", "purchaser")


@dataclass(frozen=True)
class Outcome:
    """One case's decision: the hint as it stood when staff settled the party, and the party settled on."""

    hinted: str
    confidence: float
    rule_id: str  # the hint's deciding rule, "" when it had none
    decided: str

    @property
    def confirmed(self) -> bool:
        return self.hinted == self.decided

    @classmethod
    def from_event(cls, kind: str, data: Mapping[str, Any]) -> Outcome | None:
        """From a `responsibility_confirmed` or `responsibility_overridden` event's data; None if malformed."""
        hint = data.get("hint")
        if not isinstance(hint, Mapping):
            return None
        decided = data.get("party") if kind == "responsibility_confirmed" else data.get("to")
        rule_ids = hint.get("rule_ids")
        confidence = hint.get("confidence")
        if not isinstance(decided, str) or isinstance(confidence, bool) or not isinstance(confidence, int | float):
            return None
        rule_id = str(rule_ids[0]) if isinstance(rule_ids, list) and rule_ids else ""
        return cls(str(hint.get("party") or ""), float(confidence), rule_id, decided)


def band_of(confidence: float) -> int:
    for index, (_low, high) in enumerate(BANDS):
        if confidence < high:
            return index
    return len(BANDS) - 1


def calibration(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Per band: hints given with a named party, the share staff confirmed (95% Wilson) and the band's mean
    confidence, `calibrated` when that mean lies inside the interval. Per rule: how often staff overrode it."""
    given: list[list[Outcome]] = [[] for _ in BANDS]
    by_rule: dict[str, list[Outcome]] = {}
    unnamed = 0
    for outcome in outcomes:
        if outcome.hinted not in NAMED_PARTIES:
            unnamed += 1
            continue
        given[band_of(outcome.confidence)].append(outcome)
        if outcome.rule_id:
            by_rule.setdefault(outcome.rule_id, []).append(outcome)
    bands = []
    for (low, high), rows in zip(BANDS, given, strict=True):
        rate = wilson(sum(row.confirmed for row in rows), len(rows))
        mean = sum(row.confidence for row in rows) / len(rows) if rows else None
        bands.append(
            {
                "from": low,
                "to": high,
                "hints": len(rows),
                "confirmed": rate.affected,
                "share": rate.value,
                "low": rate.low,
                "high": rate.high,
                "mean_confidence": mean,
                "calibrated": None if mean is None else rate.low <= mean <= rate.high,
            }
        )
    overrides = {
        rule_id: wilson(sum(not row.confirmed for row in rows), len(rows)) for rule_id, rows in by_rule.items()
    }
    # The rules staff disagree with most (the whole interval highest) first.
    order = sorted(overrides, key=lambda rule_id: (-overrides[rule_id].low, -overrides[rule_id].units, rule_id))
    rules = [
        {
            "rule_id": rule_id,
            "hints": overrides[rule_id].units,
            "overridden": overrides[rule_id].affected,
            "share": overrides[rule_id].value,
            "low": overrides[rule_id].low,
            "high": overrides[rule_id].high,
        }
        for rule_id in order
    ]
    return {"bands": bands, "rules": rules, "undetermined": unnamed}
