"""Rates with their 95% Wilson score interval, and the tests that read them."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """Affected units out of units delivered, with a 95% Wilson interval."""

    affected: int
    units: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return min(1.0, self.affected / self.units) if self.units else None

    def above(self, overall: float | None) -> bool:
        """Significantly above: the whole interval lies above the overall rate, not just the point."""
        return overall is not None and self.units > 0 and self.low > overall

    def below(self, baseline: float | None) -> bool:
        return baseline is not None and self.units > 0 and self.high < baseline

    def as_dict(self) -> dict[str, float | int | None]:
        return {"affected": self.affected, "units": self.units, "rate": self.value, "low": self.low, "high": self.high}


def wilson(affected: int, units: int, z: float = Z95) -> Rate:
    """Wilson's score interval: well-behaved for small counts and rates near 0, unlike the normal one."""
    if units <= 0:
        return Rate(affected=affected, units=units, low=0.0, high=1.0)
    # An affected count above the units delivered (a data slip) is read as every unit affected.
    k = min(affected, units)
    p = k / units
    denominator = 1 + z * z / units
    centre = (p + z * z / (2 * units)) / denominator
    half = z * math.sqrt(p * (1 - p) / units + z * z / (4 * units * units)) / denominator
    # At k = 0 (or k = n) the bound is exactly 0 (or 1); rounding would leave a speck instead.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == units else min(1.0, centre + half)
    return Rate(affected=affected, units=units, low=low, high=high)
