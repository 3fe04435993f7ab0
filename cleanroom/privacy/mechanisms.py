"""Noise for user-level differential privacy: plan the split, add the noise, state the error.

The SQL rewriter bounds contributions before aggregation: one user appears in at most
``G = max_groups_per_user`` groups with at most ``R = max_rows_per_user_group`` rows in each, every
row clamped to ``[lower, upper]``. Every cell of one aggregate column therefore moves by at most
``s`` (1 for a people count, R for a row count, ``R * max(|lower|, |upper|)`` for a sum) and the
whole column by at most ``G * s`` in L1 when one user is added or removed. Each cell gets noise
calibrated to that whole-column L1 sensitivity with the column's epsilon share, so one column
costs its share and a query the sum of its shares (basic composition). ``docs/privacy.md`` has
the derivations.

>>> plan = plan_noise([AggregateSpec("n", "count")], epsilon=1.0, max_groups_per_user=2)
>>> plan.entries[0].mechanism, plan.entries[0].sensitivity, plan.entries[0].epsilon
('geometric', 2.0, 1.0)
>>> released = noise_value(plan.entries[0].spec, 100, make_rng(7))
>>> released.ci_low <= released.value <= released.ci_high
True
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from diffprivlib.mechanisms import Geometric, Snapping

from cleanroom.privacy.discrete import (
    RatioNoise,
    alpha,
    fixed_point_quantum,
    geometric_half_width,
    geometric_mean_abs,
    geometric_tail,
    ratio_interval,
)
from cleanroom.privacy.sampling import FAST_SCALE, geometric

Kind = Literal["count", "sum", "avg"]
# diffprivlib accepts either; None means the operating system's generator (secrets.SystemRandom).
Rng = np.random.RandomState | secrets.SystemRandom
Value = int | float | tuple[float, int]

CONFIDENCE = 0.95
# A public cap on the users in one cell. It only sets Snapping's clamping domain (which must not
# depend on data); larger caps cost a negligible amount of effective epsilon (docs/privacy.md).
MAX_CELL_USERS = 2**32
FIXED_POINT = "geometric (fixed-point)"


@dataclass(frozen=True)
class AggregateSpec:
    """One noised output column: its name, kind, and the clamp bounds of its metric."""

    name: str
    kind: Kind
    lower: float | None = None
    upper: float | None = None
    # Rows one person adds to one group (``max_rows_per_user_group``; 1 for a people count).
    rows: int = 1
    # A sum computed on the fixed-point grid (integer quanta, docs/privacy.md); averages always are.
    fixed_point: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("count", "sum", "avg"):
            raise ValueError("kind must be count, sum or avg")
        if self.kind != "count" and not _finite_bounds(self.lower, self.upper):
            raise ValueError("sum and avg need finite bounds with lower < upper")
        if self.rows < 1:
            raise ValueError("rows must be at least 1")


@dataclass(frozen=True)
class NoiseSpec:
    """What one cell's noise needs. For ``avg``, ``sensitivity`` is its count half's (``G``);
    its centred-sum half has ``sensitivity * (upper - lower) / 2``; each half gets ``epsilon / 2``.
    """

    kind: Kind
    epsilon: float
    sensitivity: float
    lower: float | None
    upper: float | None
    fixed_point: bool = False  # the exact value is an integer number of quanta (discrete.py)


@dataclass(frozen=True)
class PlannedNoise:
    """The plan for one aggregate. Errors are data-independent except for ``avg`` (None)."""

    name: str
    spec: NoiseSpec
    mechanism: str
    sensitivity: float
    epsilon: float
    expected_abs_error: float | None
    ci_half_width: float | None


@dataclass(frozen=True)
class SelectionPlan:
    """The share spent on choosing which groups appear, and the noisy user count to clear."""

    epsilon: float
    delta: float
    threshold: float


@dataclass(frozen=True)
class ContributionBounds:
    """What one person may add, as the SQL rewrite enforced it (shown with the answer)."""

    max_groups_per_user: int
    max_rows_per_user_group: int
    metric_bounds: tuple[tuple[str, float, float], ...] = ()  # (column, lower, upper)


@dataclass(frozen=True)
class NoiseWarning:
    column: str
    message: str


@dataclass(frozen=True)
class NoisePlan:
    epsilon: float
    shares: int
    entries: tuple[PlannedNoise, ...]
    selection: SelectionPlan | None = None
    bounds: ContributionBounds | None = None
    warnings: tuple[NoiseWarning, ...] = ()


@dataclass(frozen=True)
class NoisyValue:
    """A released value and its 95% confidence interval for the exact (bounded) aggregate."""

    value: float
    ci_low: float
    ci_high: float


def make_rng(seed: int | None = None) -> Rng:
    """The noise source: the OS's secure generator, or a seeded one (tests only).

    >>> type(make_rng()).__name__, type(make_rng(1)).__name__
    ('SystemRandom', 'RandomState')
    """
    return secrets.SystemRandom() if seed is None else np.random.RandomState(seed)


def plan_noise(
    aggregates: list[AggregateSpec],
    *,
    epsilon: float,
    max_groups_per_user: int,
    selection_delta: float | None = None,
) -> NoisePlan:
    """Split ``epsilon`` in equal shares: one per count or sum, two per avg, and one for group
    selection when ``selection_delta`` is given (the group keys are not public).

    >>> p = plan_noise([AggregateSpec("n", "count"), AggregateSpec("m", "avg", 0, 10)],
    ...                epsilon=1.5, max_groups_per_user=1)
    >>> p.shares, [e.epsilon for e in p.entries]
    (3, [0.5, 1.0])
    """
    if not (math.isfinite(epsilon) and epsilon > 0) or max_groups_per_user < 1:
        raise ValueError("epsilon must be positive and max_groups_per_user at least 1")
    shares = sum(2 if a.kind == "avg" else 1 for a in aggregates) + (selection_delta is not None)
    if shares == 0:
        raise ValueError("nothing to noise")
    share = epsilon / shares
    entries = tuple(_plan_one(a, share, max_groups_per_user) for a in aggregates)
    selection = None
    if selection_delta is not None:
        tau = selection_threshold(share, selection_delta, max_groups_per_user)
        selection = SelectionPlan(share, selection_delta, tau)
    return NoisePlan(epsilon, shares, entries, selection)


def _plan_one(agg: AggregateSpec, share: float, groups: int) -> PlannedNoise:
    reach = groups * agg.rows  # cells one person touches, times rows in each: the L1 factor
    if agg.kind == "count":
        spec = NoiseSpec("count", share, float(reach), None, None)
        ratio = alpha(share, reach)
        err, half = geometric_mean_abs(ratio), float(geometric_half_width(ratio, CONFIDENCE))
        return PlannedNoise(agg.name, spec, "geometric", spec.sensitivity, share, err, half)
    lo, hi = float(agg.lower or 0.0), float(agg.upper or 0.0)
    if agg.kind == "sum":
        sens = reach * max(abs(lo), abs(hi))
        spec = NoiseSpec("sum", share, sens, lo, hi, fixed_point=agg.fixed_point)
        if agg.fixed_point:
            quantum, ratio = _fixed_sum_noise(spec)
            err, half = quantum * geometric_mean_abs(ratio), quantum * geometric_half_width(
                ratio, CONFIDENCE)
            return PlannedNoise(agg.name, spec, FIXED_POINT, sens, share, err, half)
        scale, step = _snapping_scale_step(_sum_mechanism(spec, None))
        err, half = scale + step / 4, _snapping_half_width(scale, step, CONFIDENCE)
        return PlannedNoise(agg.name, spec, "snapping", sens, share, err, half)
    spec = NoiseSpec("avg", 2 * share, float(reach), lo, hi, fixed_point=True)
    return PlannedNoise(agg.name, spec, f"{FIXED_POINT}/geometric", spec.sensitivity, 2 * share,
                        None, None)


def _fixed_sum_noise(spec: NoiseSpec) -> tuple[float, float]:
    """Quantum and geometric ratio of a fixed-point sum: the sensitivity in quanta is the
    integer ``G * R * 2**FIXED_POINT_BITS``."""
    quantum = fixed_point_quantum(float(spec.lower or 0.0), float(spec.upper or 0.0))
    return quantum, alpha(spec.epsilon, round(spec.sensitivity / quantum))


def noise_value(spec: NoiseSpec, value: Value, rng: Rng | None = None) -> NoisyValue:
    """Add noise to one exact, contribution-bounded cell. ``value`` is an int for a count, a number
    for a sum, and ``(sum, count)`` for an avg. ``rng=None`` uses the OS's secure generator.

    >>> spec = NoiseSpec("sum", 1.0, 10.0, 0.0, 10.0)
    >>> v = noise_value(spec, 500.0, make_rng(3))
    >>> v.ci_low <= v.value <= v.ci_high and (v.ci_high - v.ci_low) / 2 < 60
    True
    """
    rng = make_rng() if rng is None else rng
    if spec.kind == "count":
        if isinstance(value, tuple):
            raise TypeError("a count is one integer")
        return _noise_count(spec, int(value), rng, CONFIDENCE)
    if spec.kind == "sum":
        if isinstance(value, tuple):
            raise TypeError("a sum is one number")
        if spec.fixed_point:
            return _noise_fixed_sum(spec, int(value), rng)
        return _noise_sum(spec, float(value), rng, CONFIDENCE)
    if not isinstance(value, tuple):
        raise TypeError("an avg needs (sum, count)")
    return _noise_avg(spec, int(value[0]), int(value[1]), rng)


def _noise_count(spec: NoiseSpec, value: int, rng: Rng, confidence: float) -> NoisyValue:
    sens = int(spec.sensitivity)
    noisy = geometric(rng, value, spec.epsilon, sens)
    half = geometric_half_width(alpha(spec.epsilon, sens), confidence)
    # A true count is never negative: cutting the interval at 0 loses no coverage.
    return NoisyValue(float(noisy), float(max(0, noisy - half)), float(max(0, noisy + half)))


def _noise_sum(spec: NoiseSpec, value: float, rng: Rng, confidence: float) -> NoisyValue:
    mech = _sum_mechanism(spec, rng)
    noisy = float(mech.randomise(value))
    half = _snapping_half_width(*_snapping_scale_step(mech), confidence)
    return NoisyValue(noisy, noisy - half, noisy + half)


def _noise_fixed_sum(spec: NoiseSpec, quanta: int, rng: Rng) -> NoisyValue:
    """Integer geometric noise on a sum of quanta. When the bounds fix the sum's sign, the value
    and its interval are cut to that sign: post-processing that moves them only towards every
    possible truth, so the error does not grow and the coverage does not fall."""
    quantum, ratio = _fixed_sum_noise(spec)
    sens = round(spec.sensitivity / quantum)
    noisy = geometric(rng, quanta, spec.epsilon, sens)
    half = geometric_half_width(ratio, CONFIDENCE)
    floor = 0.0 if float(spec.lower or 0.0) >= 0 else -math.inf
    ceiling = 0.0 if float(spec.upper or 0.0) <= 0 else math.inf
    def cut(x: float) -> float:
        return min(ceiling, max(floor, x))
    return NoisyValue(cut(noisy * quantum), cut((noisy - half) * quantum),
                      cut((noisy + half) * quantum))


def _noise_avg(spec: NoiseSpec, centred_quanta: int, count: int, rng: Rng) -> NoisyValue:
    """Noisy mean = mid + noisy centred sum / noisy count, clamped to the bounds; each half gets
    epsilon / 2. The interval is the ratio (Fieller) interval of ``discrete.ratio_interval``,
    cut to the bounds and widened, if need be, to hold the released value (both moves only
    add coverage)."""
    lo, hi = float(spec.lower or 0.0), float(spec.upper or 0.0)
    mid, half_eps = (lo + hi) / 2, spec.epsilon / 2
    noise = avg_noise(spec)
    quantum = fixed_point_quantum(lo, hi, centred=True)
    sum_sens = round(spec.sensitivity * (hi - lo) / 2 / quantum)
    s = geometric(rng, centred_quanta, half_eps, sum_sens) * quantum
    c = geometric(rng, count, half_eps, int(spec.sensitivity))
    value = min(hi, max(lo, mid + s / max(c, 1)))
    low, high = ratio_interval(s, c, noise, CONFIDENCE)
    return NoisyValue(value, min(value, max(lo, mid + low)), max(value, min(hi, mid + high)))


def avg_noise(spec: NoiseSpec) -> RatioNoise:
    """The Laplace scales (in the metric's units) of an avg's centred sum and count."""
    lo, hi = float(spec.lower or 0.0), float(spec.upper or 0.0)
    half_eps, half_range = spec.epsilon / 2, (hi - lo) / 2
    # b = sensitivity / epsilon, the continuous twin of the geometric's ratio written directly:
    # exp(-epsilon / sensitivity) rounds to 1 for a wide range and its log is 0.
    return RatioNoise(spec.sensitivity * half_range / half_eps, spec.sensitivity / half_eps,
                      half_range)


def _sum_mechanism(spec: NoiseSpec, rng: Rng | None) -> Snapping:
    """Snapping clamps input and output to a fixed, data-independent domain: any cell of at most
    MAX_CELL_USERS users, each adding a value in [lower, upper]."""
    lo, hi = float(spec.lower or 0.0), float(spec.upper or 0.0)
    domain = (min(lo, 0.0) * MAX_CELL_USERS, max(hi, 0.0) * MAX_CELL_USERS)
    return Snapping(epsilon=spec.epsilon, sensitivity=spec.sensitivity, lower=domain[0],
                    upper=domain[1], random_state=rng)


def _snapping_scale_step(mech: Snapping) -> tuple[float, float]:
    """Laplace scale and output grid step of a Snapping mechanism, in the value's units.

    It samples Laplace(1 / eps') on a sensitivity-1 scale, eps' a hair below epsilon, then rounds
    to the power of two at or above 1 / eps'."""
    unit_scale = 1.0 / float(mech.effective_epsilon())
    return unit_scale * mech.sensitivity, _next_power_of_2(unit_scale) * mech.sensitivity


def _next_power_of_2(x: float) -> float:
    """
    >>> _next_power_of_2(1.0), _next_power_of_2(1.01), _next_power_of_2(0.3)
    (1.0, 2.0, 0.5)
    """
    mantissa, exponent = math.frexp(x)
    return x if mantissa == 0.5 else math.ldexp(1.0, exponent)


def _snapping_half_width(scale: float, step: float, confidence: float) -> float:
    """|released - exact| <= |Laplace| + step / 2 (rounding), so the Laplace quantile plus half a
    step covers with probability >= confidence whatever the exact value (conservative)."""
    return scale * math.log(1 / (1 - confidence)) + step / 2


# Kept under their old names for callers and tests.
_alpha, _geometric_tail, _geometric_half_width = alpha, geometric_tail, geometric_half_width


def selection_threshold(epsilon: float, delta: float, max_groups_per_user: int) -> float:
    """Noisy distinct-user count a group must reach to appear (two-sided geometric noise with
    ratio alpha = exp(-epsilon / G)). A group that only one user creates appears with probability
    P(1 + Z >= tau) = alpha**(tau-1) / (1 + alpha); a user creates at most G groups, so tau is the
    smallest integer with G * alpha**(tau-1) / (1 + alpha) <= delta. This is the discrete form of
    the Laplace bound tau = 1 + (G/eps) ln(G / (2 delta)) of Wilson et al., PoPETs 2020.

    >>> selection_threshold(1.0, 1e-5, 1)
    13.0
    """
    if not (epsilon > 0 and 0 < delta < 1 and max_groups_per_user >= 1):
        raise ValueError("need epsilon > 0, 0 < delta < 1 and max_groups_per_user >= 1")
    groups = max_groups_per_user
    alpha = _alpha(epsilon, groups)
    m = max(0, math.ceil(math.log(delta * (1 + alpha) / groups) / math.log(alpha)))
    while groups * alpha**m / (1 + alpha) > delta:
        m += 1
    while m > 0 and groups * alpha ** (m - 1) / (1 + alpha) <= delta:
        m -= 1
    return float(1 + m)


def user_count_noise(
    *, epsilon: float, max_groups_per_user: int, rng: Rng | None = None
) -> Callable[[int], int]:
    """One Geometric mechanism (scale G / epsilon) for every group of a query: a query may
    have millions of candidate groups, and building a mechanism per group costs more than the
    draw itself.

    >>> noisy = user_count_noise(epsilon=1.0, max_groups_per_user=1, rng=make_rng(0))
    >>> abs(noisy(50) - 50) < 20
    True
    """
    rng = make_rng() if rng is None else rng
    sensitivity = int(max_groups_per_user)
    if sensitivity / epsilon > FAST_SCALE:  # the exact sampler (``sampling.py``)
        return lambda count: geometric(rng, count, epsilon, sensitivity)
    mech = Geometric(epsilon=epsilon, sensitivity=sensitivity, random_state=rng)
    return lambda count: int(mech.randomise(int(count)))


def noisy_user_count(
    user_count: int, *, epsilon: float, max_groups_per_user: int, rng: Rng | None = None
) -> int:
    """A group's distinct-user count plus two-sided geometric noise of scale G / epsilon.

    >>> noisy_user_count(50, epsilon=1.0, max_groups_per_user=1, rng=make_rng(0)) > 40
    True
    """
    return geometric(make_rng() if rng is None else rng, int(user_count), epsilon,
                     int(max_groups_per_user))


def keep_group(noisy_user_count: int, threshold: float) -> bool:
    """
    >>> keep_group(13, 13.0), keep_group(12, 13.0)
    (True, False)
    """
    return noisy_user_count >= threshold


def _finite_bounds(lower: float | None, upper: float | None) -> bool:
    if lower is None or upper is None:
        return False
    return math.isfinite(lower) and math.isfinite(upper) and lower < upper
