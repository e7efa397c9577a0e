"""Calibration of responsibility hints against a generated history with known outcome rates."""

from __future__ import annotations

import random

from app.analytics.calibration import BANDS, Outcome, band_of, calibration

# The true share of hints confirmed in each band, and how many hints each band gets.
TRUE_RATES = {0: 0.15, 1: 0.30, 2: 0.50, 3: 0.72, 4: 0.90}
PER_BAND = 400


def history(seed: int) -> list[Outcome]:
    rng = random.Random(seed)
    outcomes = []
    for band, rate in TRUE_RATES.items():
        low, high = BANDS[band]
        for _ in range(PER_BAND):
            hinted = rng.choice(["supplier", "carrier", "purchaser"])
            other = rng.choice([p for p in ("supplier", "carrier", "purchaser") if p != hinted])
            decided = hinted if rng.random() < rate else other
            outcomes.append(Outcome(hinted, rng.uniform(low, high - 1e-6), f"rule.band{band}", decided))
    return outcomes


def test_each_bands_known_rate_lies_within_its_interval() -> None:
    # Over several generated histories: a 95% interval may miss now and then, never for most seeds.
    misses = 0
    for seed in range(20):
        table = calibration(history(seed))
        for band, row in enumerate(table["bands"]):
            assert row["hints"] == PER_BAND
            assert abs(row["share"] - TRUE_RATES[band]) < 0.1
            misses += not row["low"] <= TRUE_RATES[band] <= row["high"]
    assert misses <= 10  # 100 intervals at 95%: about 5 expected to miss


def test_rules_are_ranked_by_how_often_staff_override_them() -> None:
    table = calibration(history(1))
    ids = [row["rule_id"] for row in table["rules"]]
    # The band-0 rule is right 15% of the time: overridden most.
    assert ids == [f"rule.band{band}" for band in range(5)]
    first = table["rules"][0]
    assert first["hints"] == PER_BAND and 0.75 < first["share"] < 0.95


def test_a_hint_without_a_named_party_is_counted_apart_and_bands_include_their_edges() -> None:
    outcomes = [
        Outcome("undetermined", 0.0, "", "supplier"),
        Outcome("supplier", 1.0, "r", "supplier"),
        Outcome("carrier", 0.2, "r", "supplier"),
    ]
    table = calibration(outcomes)
    assert table["undetermined"] == 1
    assert band_of(1.0) == 4 and band_of(0.2) == 1 and band_of(0.0) == 0
    assert [row["hints"] for row in table["bands"]] == [0, 1, 0, 0, 1]
    assert table["bands"][4]["confirmed"] == 1 and table["bands"][1]["confirmed"] == 0
    assert table["bands"][0]["share"] is None and table["bands"][0]["calibrated"] is None
    assert table["rules"] == [
        {
            "rule_id": "r",
            "hints": 2,
            "overridden": 1,
            "share": 0.5,
            "low": table["rules"][0]["low"],
            "high": table["rules"][0]["high"],
        }
    ]


def test_outcomes_are_read_from_both_decision_events() -> None:
    confirmed = Outcome.from_event(
        "responsibility_confirmed",
        {"party": "carrier", "hint": {"party": "carrier", "confidence": 0.7, "rule_ids": ["a", "b"]}},
    )
    overridden = Outcome.from_event(
        "responsibility_overridden",
        {"from": "carrier", "to": "supplier", "hint": {"party": "carrier", "confidence": 0.4}},
    )
    assert confirmed == Outcome("carrier", 0.7, "a", "carrier") and confirmed.confirmed
    assert overridden == Outcome("carrier", 0.4, "", "supplier") and not overridden.confirmed
    assert Outcome.from_event("responsibility_overridden", {"to": "supplier"}) is None
