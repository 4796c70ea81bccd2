"""The difference between two randomised groups, with its 95 % confidence interval.

Plain maths, no Django: per customer outcomes of the treated (got the message) and of the
control group (held out at random). The difference of the means is unbiased because the
groups were drawn at random from the same audience; its standard error is Welch's
(unequal variances), sqrt(s_t²/n_t + s_c²/n_c), and the interval is ±1.96 of it (normal
approximation, sound for the group sizes a campaign has; below MIN_GROUP customers per group
the interval is not reported at all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
MIN_GROUP = 10


@dataclass(frozen=True)
class Difference:
    treated_mean: float
    control_mean: float
    diff: float  # treated − control, per customer
    half_width: float  # of the 95 % interval; nan when a group is too small
    n_treated: int
    n_control: int

    @property
    def low(self) -> float:
        return self.diff - self.half_width

    @property
    def high(self) -> float:
        return self.diff + self.half_width

    @property
    def known(self) -> bool:
        return not math.isnan(self.half_width)

    @property
    def significant(self) -> bool:
        """The interval excludes 0: more than chance would give (at the 5 % level)."""
        return self.known and (self.low > 0 or self.high < 0)

    def total(self) -> tuple[float, float]:
        """Incremental total over the treated and its half-width: what the campaign added."""
        return self.diff * self.n_treated, self.half_width * self.n_treated


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    mean = math.fsum(values) / n
    if n == 1:
        return mean, 0.0
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, var


def difference(treated: Sequence[float], control: Sequence[float]) -> Difference:
    n_t, n_c = len(treated), len(control)
    mean_t, var_t = _mean_var(treated)
    mean_c, var_c = _mean_var(control)
    if n_t < MIN_GROUP or n_c < MIN_GROUP:
        half = math.nan
    else:
        half = Z95 * math.sqrt(var_t / n_t + var_c / n_c)
    return Difference(mean_t, mean_c, mean_t - mean_c, half, n_t, n_c)
