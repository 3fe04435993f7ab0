"""Noise mechanisms: the plan's arithmetic, and seeded statistical checks of the noise itself.

Tolerances: over N = 20,000 draws the relative standard error of a sample variance of (discrete)
Laplace noise is sqrt((kurtosis - 1) / N) = sqrt(5 / 20,000) = 1.6%, so a 5% band is about
3 standard errors; a coverage estimate near 0.95 has standard error 0.15%, so +-1.5% is ~10.
The seeds are fixed, so the tests are deterministic; the bands say how lucky a seed may be.
"""

from __future__ import annotations

import math
import secrets
from functools import cache

import numpy as np
import pytest

from cleanroom.privacy.mechanisms import (
    AggregateSpec,
    NoiseSpec,
    _alpha,
    _geometric_tail,
    _snapping_scale_step,
    _sum_mechanism,
    make_rng,
    noise_value,
    plan_noise,
)

N = 20_000
COUNT_CASES = [(1.0, 1), (0.5, 3), (0.1, 1)]  # (epsilon share, G)
SUM_CASES = [(1.0, 0.0, 10.0, 1), (0.3, 0.0, 5.0, 2), (0.7, -3.0, 4.0, 1)]  # (eps, lo, hi, G)
SUM_TRUTHS = (1000.0, 1234.56)  # one on Snapping's output grid, one off it


def count_spec(eps: float, groups: int) -> NoiseSpec:
    return plan_noise([AggregateSpec("n", "count")], epsilon=eps,
                      max_groups_per_user=groups).entries[0].spec


def sum_spec(eps: float, lo: float, hi: float, groups: int) -> NoiseSpec:
    return plan_noise([AggregateSpec("s", "sum", lo, hi)], epsilon=eps,
                      max_groups_per_user=groups).entries[0].spec


@cache
def count_draws(eps: float, groups: int) -> tuple[np.ndarray, float]:
    """Noise of N releases of the count 1000, and the share of 95% CIs covering 1000."""
    rng, spec = make_rng(20240 + groups), count_spec(eps, groups)
    released = [noise_value(spec, 1000, rng) for _ in range(N)]
    noise = np.array([r.value - 1000 for r in released])
    return noise, float(np.mean([r.ci_low <= 1000 <= r.ci_high for r in released]))


@cache
def sum_draws(
    eps: float, lo: float, hi: float, groups: int, truth: float
) -> tuple[np.ndarray, float]:
    rng, spec = make_rng(7), sum_spec(eps, lo, hi, groups)
    released = [noise_value(spec, truth, rng) for _ in range(N)]
    noise = np.array([r.value - truth for r in released])
    return noise, float(np.mean([r.ci_low <= truth <= r.ci_high for r in released]))


def test_plan_splits_epsilon_in_equal_shares_and_avg_takes_two() -> None:
    aggs = [AggregateSpec("n", "count"), AggregateSpec("s", "sum", 0, 100),
            AggregateSpec("m", "avg", 10, 20)]
    plan = plan_noise(aggs, epsilon=2.0, max_groups_per_user=4, selection_delta=1e-6)
    assert plan.shares == 5
    assert [e.epsilon for e in plan.entries] == [0.4, 0.4, 0.8]
    assert plan.selection is not None and plan.selection.epsilon == pytest.approx(0.4)
    assert sum(e.epsilon for e in plan.entries) + plan.selection.epsilon == pytest.approx(2.0)


def test_plan_sensitivity_is_the_whole_column_l1() -> None:
    aggs = [AggregateSpec("n", "count"), AggregateSpec("s", "sum", -30, 20),
            AggregateSpec("m", "avg", 10, 20)]
    plan = plan_noise(aggs, epsilon=1.0, max_groups_per_user=4)
    assert [e.sensitivity for e in plan.entries] == [4.0, 4 * 30.0, 4.0]
    assert [e.mechanism for e in plan.entries] == ["geometric", "snapping",
                                                   "geometric (fixed-point)/geometric"]
    count, total, avg = plan.entries
    alpha = math.exp(-(1 / 4) / 4)
    assert count.expected_abs_error == pytest.approx(2 * alpha / (1 - alpha**2))
    assert count.ci_half_width is not None and total.ci_half_width is not None
    assert avg.expected_abs_error is None and avg.ci_half_width is None


@pytest.mark.parametrize("bad", [
    lambda: AggregateSpec("s", "sum"),
    lambda: AggregateSpec("s", "sum", 5, 5),
    lambda: AggregateSpec("s", "avg", 0, math.inf),
    lambda: AggregateSpec("s", "median", 0, 1),  # type: ignore[arg-type]
    lambda: plan_noise([], epsilon=1.0, max_groups_per_user=1),
    lambda: plan_noise([AggregateSpec("n", "count")], epsilon=0.0, max_groups_per_user=1),
    lambda: plan_noise([AggregateSpec("n", "count")], epsilon=1.0, max_groups_per_user=0),
])
def test_invalid_specs_are_refused(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize(("eps", "groups"), COUNT_CASES)
def test_geometric_noise_has_the_theoretical_variance_and_zero_mean(
    eps: float, groups: int
) -> None:
    noise, _ = count_draws(eps, groups)
    alpha = _alpha(eps, groups)
    variance = 2 * alpha / (1 - alpha) ** 2
    assert noise.var() / variance == pytest.approx(1.0, abs=0.05)
    # Mean: 4 standard errors.
    assert abs(noise.mean()) < 4 * math.sqrt(variance / N)
    assert np.all(noise == np.round(noise))


@pytest.mark.parametrize(("eps", "groups"), COUNT_CASES)
def test_count_ci_covers_at_its_exact_discrete_level(eps: float, groups: int) -> None:
    _, coverage = count_draws(eps, groups)
    plan = plan_noise([AggregateSpec("n", "count")], epsilon=eps, max_groups_per_user=groups)
    half = int(plan.entries[0].ci_half_width or 0)
    exact = 1 - _geometric_tail(_alpha(eps, groups), half)  # >= 0.95 by construction
    assert exact >= 0.95
    assert coverage == pytest.approx(exact, abs=0.006)  # 4 standard errors


def test_count_ci_is_95_percent_when_the_noise_is_fine_grained() -> None:
    _, coverage = count_draws(0.1, 1)
    assert coverage == pytest.approx(0.95, abs=0.015)


@pytest.mark.parametrize("truth", SUM_TRUTHS)
@pytest.mark.parametrize(("eps", "lo", "hi", "groups"), SUM_CASES)
def test_snapping_noise_scale_is_sensitivity_over_epsilon(
    eps: float, lo: float, hi: float, groups: int, truth: float
) -> None:
    noise, _ = sum_draws(eps, lo, hi, groups, truth)
    spec = sum_spec(eps, lo, hi, groups)
    assert spec.sensitivity == groups * max(abs(lo), abs(hi))
    scale, step = _snapping_scale_step(_sum_mechanism(spec, None))
    # Snapping spends a few parts per million of epsilon on floating-point safety.
    assert scale == pytest.approx(spec.sensitivity / eps, rel=1e-4)
    # Laplace(scale) plus rounding to a grid of `step`: between the Laplace variance and that
    # plus a uniform rounding error's step**2 / 12, with the 5% sampling band either side.
    assert 0.95 * 2 * scale**2 < noise.var() < 1.05 * (2 * scale**2 + step**2 / 12)
    # Off the grid, rounding is slightly biased (docs/privacy.md); 4 standard errors on top.
    assert abs(noise.mean()) < rounding_bias_bound(scale, step) + 4 * math.sqrt(noise.var() / N)


def rounding_bias_bound(scale: float, step: float) -> float:
    """Largest |E[round(c + L)] - c| over c, for L ~ Laplace(scale) and a grid of `step`: the
    Fourier series of the rounding error, weighted by Laplace's characteristic function."""
    return sum(step / (math.pi * k * (1 + (2 * math.pi * k * scale / step) ** 2))
               for k in range(1, 10_000))


@pytest.mark.parametrize("truth", SUM_TRUTHS)
@pytest.mark.parametrize(("eps", "lo", "hi", "groups"), SUM_CASES)
def test_sum_ci_covers_at_least_95_percent(
    eps: float, lo: float, hi: float, groups: int, truth: float
) -> None:
    _, coverage = sum_draws(eps, lo, hi, groups, truth)
    # The half-width adds half a grid step to the Laplace quantile, so coverage is >= 95% at
    # any true value and exactly 95% when the truth sits on the grid.
    assert 0.95 - 0.005 <= coverage <= 0.95 + 0.035


def test_rows_per_group_multiply_the_sensitivity() -> None:
    """R rows per person and group: a row count moves by G * R, a sum by G * R * max |bound|,
    an average's count by G * R (its centred sum by G * R * half the range)."""
    aggs = [AggregateSpec("n", "count", rows=5), AggregateSpec("s", "sum", -30, 20, rows=5,
                                                                 fixed_point=True),
            AggregateSpec("m", "avg", 10, 20, rows=5)]
    plan = plan_noise(aggs, epsilon=1.0, max_groups_per_user=4)
    assert [e.sensitivity for e in plan.entries] == [20.0, 20 * 30.0, 20.0]
    assert plan.entries[1].mechanism == "geometric (fixed-point)"
    # The fixed-point sum's error is a geometric's at 2**20 quanta per bound, in units.
    assert plan.entries[1].expected_abs_error == pytest.approx(600 / 0.25, rel=1e-3)


def test_avg_is_clamped_and_holds_its_released_value() -> None:
    spec = plan_noise([AggregateSpec("m", "avg", 0, 10)], epsilon=1.0,
                      max_groups_per_user=1).entries[0].spec
    rng = make_rng(11)
    for users in (3, 40, 400):
        centred = round((3.3 - 5) * users * 2**20 / 5)
        released = [noise_value(spec, (centred, users), rng) for _ in range(300)]
        assert all(0 <= r.ci_low <= r.value <= r.ci_high <= 10 for r in released)
    wide = np.mean([r.ci_high - r.ci_low for r in released])
    assert wide < 0.5  # 400 users: the interval is informative, not just [lo, hi]


def test_seeded_noise_is_reproducible_and_default_noise_is_secure() -> None:
    spec = count_spec(1.0, 1)
    first = [noise_value(spec, 10, make_rng(5)).value for _ in range(3)]
    assert first == [noise_value(spec, 10, make_rng(5)).value for _ in range(3)]
    assert isinstance(make_rng(), secrets.SystemRandom)
    assert noise_value(spec, 10).ci_high >= 0  # rng=None: the OS generator


def test_values_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(TypeError):
        noise_value(count_spec(1.0, 1), (1.0, 2), make_rng(0))
    with pytest.raises(TypeError):
        noise_value(sum_spec(1.0, 0, 1, 1), (1.0, 2), make_rng(0))
    with pytest.raises(TypeError):
        noise_value(NoiseSpec("avg", 1.0, 1.0, 0.0, 1.0), 3.0, make_rng(0))
