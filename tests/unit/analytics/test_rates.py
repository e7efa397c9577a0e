"""The Wilson interval against published values and its edge cases."""

import pytest

from app.analytics.rates import wilson


def test_wilson_matches_the_textbook_values() -> None:
    # Newcombe (1998), example: 81 of 263 → 0.2553 to 0.3662.
    rate = wilson(81, 263)
    assert rate.low == pytest.approx(0.2553, abs=5e-4)
    assert rate.high == pytest.approx(0.3662, abs=5e-4)


def test_zero_affected_still_has_an_upper_bound() -> None:
    rate = wilson(0, 100)
    assert rate.low == 0.0 and 0.03 < rate.high < 0.04
    assert rate.value == 0.0


def test_no_units_means_no_rate() -> None:
    rate = wilson(3, 0)
    assert rate.value is None and (rate.low, rate.high) == (0.0, 1.0)
    assert not rate.above(0.01)


def test_above_and_below_read_the_whole_interval() -> None:
    small, large = wilson(3, 40), wilson(400, 10_000)
    assert small.value is not None and large.value is not None and small.value > large.value
    assert large.above(0.02) and not wilson(2, 40).above(0.02)
    assert wilson(10, 10_000).below(0.004) and not wilson(30, 10_000).below(0.004)
