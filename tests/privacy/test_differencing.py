"""A differencing attacker against noisy releases: does one user's presence show?

The attacker sees one release of a dataset with or without one extra user (prior 1/2 each) and
guesses which. Under epsilon-DP no test succeeds with probability above e^eps / (1 + e^eps)
(0.7311 at eps = 1); the likelihood-ratio tests below are optimal and reach it. Over 10,000 seeded
runs the standard error is sqrt(0.73 * 0.27 / 10,000) = 0.0044; the tolerance is 3 of them, 0.0133.
"""

from __future__ import annotations

import math

import numpy as np

from cleanroom.privacy.mechanisms import AggregateSpec, make_rng, noise_value, plan_noise

RUNS = 10_000
EPS = 1.0
BOUND = math.exp(EPS) / (1 + math.exp(EPS))
TOLERANCE = 3 * math.sqrt(BOUND * (1 - BOUND) / RUNS)


def test_counts_n_and_n_plus_one() -> None:
    spec = plan_noise([AggregateSpec("n", "count")], epsilon=EPS,
                      max_groups_per_user=1).entries[0].spec
    rng, worlds = make_rng(101), np.random.RandomState(102).randint(0, 2, RUNS)
    wins = 0
    for world in worlds:
        seen = noise_value(spec, 500 + int(world), rng).value
        wins += int(seen >= 501) == world
    success = wins / RUNS
    assert success < BOUND + TOLERANCE
    assert success > BOUND - TOLERANCE  # the attack is optimal: the bound is tight, not slack


def test_one_user_in_g_groups_against_the_whole_column() -> None:
    """The user adds 1 to each of G = 3 cells; every cell is noised with the column's share and
    sensitivity G, so the whole vector leaks at most eps."""
    groups = 3
    spec = plan_noise([AggregateSpec("n", "count")], epsilon=EPS,
                      max_groups_per_user=groups).entries[0].spec
    rng, worlds = make_rng(103), np.random.RandomState(104).randint(0, 2, RUNS)
    base = np.array([50, 70, 90])
    wins = 0
    for world in worlds:
        seen = np.array([noise_value(spec, int(n + world), rng).value for n in base])
        evidence = np.sum(np.abs(seen - base) - np.abs(seen - base - 1))  # log-likelihood ratio
        guess = int(evidence > 0) if evidence != 0 else int(rng.randint(0, 2))
        wins += guess == world
    assert wins / RUNS < BOUND + TOLERANCE


def test_sums_with_and_without_the_largest_contribution() -> None:
    lo, hi = 0.0, 10.0
    spec = plan_noise([AggregateSpec("s", "sum", lo, hi)], epsilon=EPS,
                      max_groups_per_user=1).entries[0].spec
    rng, worlds = make_rng(105), np.random.RandomState(106).randint(0, 2, RUNS)
    wins = 0
    for world in worlds:
        seen = noise_value(spec, 1000.0 + hi * world, rng).value
        wins += int(seen > 1000.0 + hi / 2) == world
    assert wins / RUNS < BOUND + TOLERANCE
