"""Private group selection: a group only its own few users create must rarely appear.

Measured over 20,000 seeded draws with delta set large enough to see (0.05): the release rate of a
one-user group must stay below delta / G plus 4 standard errors (sqrt(p(1-p)/N) <= 0.0016).
"""

from __future__ import annotations

import math

import pytest

from cleanroom.privacy.mechanisms import (
    keep_group,
    make_rng,
    noisy_user_count,
    selection_threshold,
)

N = 20_000


def release_rate(users: int, eps: float, delta: float, groups: int, seed: int) -> float:
    tau, rng = selection_threshold(eps, delta, groups), make_rng(seed)
    kept = sum(
        keep_group(noisy_user_count(users, epsilon=eps, max_groups_per_user=groups, rng=rng), tau)
        for _ in range(N)
    )
    return kept / N


@pytest.mark.parametrize(("eps", "groups"), [(1.0, 1), (1.0, 3), (0.5, 2)])
def test_a_one_user_group_appears_with_probability_at_most_delta_over_g(
    eps: float, groups: int
) -> None:
    delta = 0.05
    tau = selection_threshold(eps, delta, groups)
    alpha = math.exp(-eps / groups)
    exact = alpha ** (tau - 1) / (1 + alpha)  # P(1 + Z >= tau)
    assert exact <= delta / groups
    measured = release_rate(1, eps, delta, groups, seed=groups)
    assert measured <= delta / groups + 4 * math.sqrt(exact * (1 - exact) / N)
    assert measured == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / N))


def test_a_large_group_is_kept() -> None:
    tau = selection_threshold(1.0, 1e-6, 2)
    assert release_rate(int(tau) + 40, 1.0, 1e-6, 2, seed=9) > 0.99


@pytest.mark.parametrize(
    ("eps", "delta", "groups"), [(1.0, 1e-5, 1), (0.5, 1e-6, 4), (2.0, 1e-9, 10)]
)
def test_threshold_tracks_the_laplace_bound_of_wilson_et_al(
    eps: float, delta: float, groups: int
) -> None:
    laplace = 1 + (groups / eps) * math.log(groups / (2 * delta))
    tau = selection_threshold(eps, delta, groups)
    assert tau == int(tau)
    # The geometric tail is a little heavier than Laplace's near zero: within one noise scale.
    assert laplace - 1 <= tau <= laplace + groups / eps + 1


def test_threshold_is_the_smallest_that_works() -> None:
    eps, delta, groups = 0.7, 1e-4, 3
    tau, alpha = selection_threshold(eps, delta, groups), math.exp(-0.7 / 3)
    assert groups * alpha ** (tau - 1) / (1 + alpha) <= delta
    assert groups * alpha ** (tau - 2) / (1 + alpha) > delta


@pytest.mark.parametrize("args", [(0.0, 1e-6, 1), (1.0, 0.0, 1), (1.0, 1.0, 1), (1.0, 1e-6, 0)])
def test_bad_selection_parameters_are_refused(args: tuple[float, float, int]) -> None:
    with pytest.raises(ValueError):
        selection_threshold(*args)
