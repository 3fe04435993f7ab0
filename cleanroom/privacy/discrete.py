"""Integer noise: the two-sided geometric distribution, fixed-point sums, and the ratio interval
of an average.

A sum under DP is computed in SQL on a fixed-point grid: each row's clamped value is rounded to
a multiple of ``quantum = max(|lower|, |upper|) / 2**FIXED_POINT_BITS`` (for an average, of its
centred value over half the range), so the exact sum is an integer number of quanta and one
person moves it by at most ``G * R * 2**FIXED_POINT_BITS`` quanta. Integer geometric noise on an
integer leaks nothing through floating-point bits, and its quantiles are exact, so the interval
covers at its stated level for every true value (Snapping's grid makes coverage oscillate
between 95% and 98% with the truth's offset; docs/privacy.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# 2**-20 of the largest bound: rounding moves a row by at most 5e-7 of it, far below any noise.
FIXED_POINT_BITS = 20
# Grid of |m| / half-range on which the ratio interval's pivot quantile is tabulated.
_PIVOT_POINTS = 129


def fixed_point_quantum(lower: float, upper: float, *, centred: bool = False) -> float:
    """The grid a metric's rows are rounded to: a power-of-two fraction of the largest value a
    row can take (its bounds', or for a centred value half the range), so the bound itself is
    an exact integer number of quanta.

    >>> fixed_point_quantum(0.0, 100.0) * 2**20, fixed_point_quantum(10.0, 20.0, centred=True) * 2**20
    (100.0, 5.0)
    """
    reach = (upper - lower) / 2 if centred else max(abs(lower), abs(upper))
    return math.ldexp(reach, -FIXED_POINT_BITS)


def alpha(epsilon: float, sensitivity: float) -> float:
    """Ratio of the two-sided geometric distribution: P(Z = k) is proportional to alpha**|k|."""
    return math.exp(-epsilon / sensitivity)


def geometric_tail(ratio: float, k: int) -> float:
    """P(|Z| > k) = 2 alpha**(k+1) / (1 + alpha) for the two-sided geometric distribution."""
    return 2 * ratio ** (k + 1) / (1 + ratio)


def geometric_half_width(ratio: float, confidence: float) -> int:
    """Smallest k with P(|Z| <= k) >= confidence.

    >>> geometric_half_width(math.exp(-1.0), 0.95)
    3
    """
    miss = 1 - confidence
    k = max(0, math.ceil(math.log(miss * (1 + ratio) / 2) / math.log(ratio)) - 1)
    while geometric_tail(ratio, k) > miss:
        k += 1
    while k > 0 and geometric_tail(ratio, k - 1) <= miss:
        k -= 1
    return k


def geometric_mean_abs(ratio: float) -> float:
    """E|Z| = 2 alpha / (1 - alpha**2)."""
    return 2 * ratio / (1 - ratio**2)


@dataclass(frozen=True)
class RatioNoise:
    """An average's two noises, in the metric's units: ``sum_scale`` of the centred sum (the
    quanta's geometric, read as Laplace), ``count_scale`` of the value count."""

    sum_scale: float
    count_scale: float
    half_range: float


def ratio_interval(noisy_sum: float, noisy_count: float, noise: RatioNoise,
                   confidence: float) -> tuple[float, float]:
    """A confidence interval for the centred mean m = S / C from noisy S~ = S + X and C~ = C + Y.

    ``S~ - m C~ = X - m Y`` exactly, whatever S and C are, and its law (Laplace plus m times
    Laplace) is known given m: the interval is every m in [-h, h] that this pivot does not reject
    (Fieller's method), so it covers at the pivot's level for every true mean.

    >>> lo, hi = ratio_interval(0.0, 1000.0, RatioNoise(10.0, 1.0, 5.0), 0.95)
    >>> round(lo, 3), round(hi, 3)
    (-0.03, 0.03)
    """
    h = noise.half_range
    grid = np.linspace(-h, h, 2 * _PIVOT_POINTS - 1)
    table = _pivot_table(noise.sum_scale, noise.count_scale, h, confidence)
    centre = min(h, max(-h, noisy_sum / noisy_count)) if noisy_count > 0 else 0.0
    points = np.unique(np.append(grid, centre))
    # Between neighbouring points both |S~ - m C~| (its kink is at the centre) and the
    # interpolated quantile (its knots are grid points) are linear: so is the slack.
    slack = np.interp(np.abs(points), grid[_PIVOT_POINTS - 1:], table) - np.abs(
        noisy_sum - points * noisy_count)
    ok = slack >= 0
    if not ok.any():
        return -h, h  # nothing fits: claim nothing beyond the bounds
    first, last = int(np.argmax(ok)), len(ok) - 1 - int(np.argmax(ok[::-1]))
    low = points[0] if first == 0 else _root(points, slack, first - 1, first)
    high = points[-1] if last == len(ok) - 1 else _root(points, slack, last + 1, last)
    return float(low), float(high)


def _root(points: np.ndarray, slack: np.ndarray, out: int, inside: int) -> float:
    """Where the (linear) slack crosses 0 between a rejected and an accepted point, nudged
    outwards by a rounding's worth (conservative)."""
    a, b = float(points[out]), float(points[inside])
    cross = b + (a - b) * float(slack[inside]) / (float(slack[inside]) - float(slack[out]))
    return cross + (a - b) * 1e-9


def ratio_half_width(noise: RatioNoise, count: float, confidence: float) -> float:
    """About how far the ratio interval reaches from the estimate for a cell of ``count`` values
    whose mean is at a bound (the widest case): the pivot's quantile over the count."""
    table = _pivot_table(noise.sum_scale, noise.count_scale, noise.half_range, confidence)
    return float(table[-1]) / max(count, 1.0)


@lru_cache(maxsize=256)
def _pivot_table(sum_scale: float, count_scale: float, half_range: float,
                 confidence: float) -> np.ndarray:
    """The ``confidence`` quantile of |X - m Y| for |m| on a grid over [0, h]. It is convex in
    |m|, so interpolating between grid points overestimates it (conservative)."""
    ms = np.linspace(0.0, half_range, _PIVOT_POINTS)
    miss = 1 - confidence
    low, high = np.zeros_like(ms), np.full_like(ms, 60.0 * (sum_scale + half_range * count_scale))
    for _ in range(80):
        mid = (low + high) / 2
        too_short = _two_laplace_tail(mid, sum_scale, ms * count_scale) > miss
        low, high = np.where(too_short, mid, low), np.where(too_short, high, mid)
    return high


def _two_laplace_tail(t: np.ndarray, a: float, c: np.ndarray) -> np.ndarray:
    """P(|X + Y| > t) for independent Laplace(a) and Laplace(c): the characteristic function
    1/((1+a²w²)(1+c²w²)) splits into a²/(a²-c²) Laplace(a) - c²/(a²-c²) Laplace(c)."""
    close = np.abs(a - c) < 1e-4 * a  # equal scales: the formula's limit
    apart = np.where(close, 0.5 * a, c)
    with np.errstate(over="ignore"):  # c = 0 (m = 0): t / 1e-300 is inf, its exp 0, as meant
        mixed = (a**2 * np.exp(-t / a) - apart**2 * np.exp(-t / np.maximum(apart, 1e-300))) / (
            a**2 - apart**2)
    b = (a + c) / 2
    equal = np.exp(-t / b) * (1 + t / (2 * b))
    return np.asarray(np.where(close, equal, mixed))
