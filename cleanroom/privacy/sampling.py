"""Exact two-sided geometric (discrete Laplace) noise, in integer arithmetic.

diffprivlib's ``Geometric`` inverts one 53-bit uniform: ``floor(log(u) / (-epsilon / Delta))``.
The uniform is a multiple of 2**-53, so in the tail, where ``u`` is below ``2**-53 * Delta /
epsilon``, consecutive values of it map to noise values more than one apart: the noise there
takes only some integers, the same ones whatever the true value, and an output in that region
tells the true value from its neighbour for certain. That region holds about ``2**-53 * Delta
/ epsilon`` of the probability: nothing for a people count, but a fixed-point sum's
sensitivity is ``G * R * 2**20`` quanta, so at the policy's limits (G = R = 1000, epsilon
0.001) it held 17% of the draws (``tests/privacy/test_redteam_dp.py``), a delta of 0.17.

``discrete_laplace`` draws from the exact distribution instead, by the algorithm of Canonne,
Kamath and Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020),
Algorithms 1 and 2 (the sampler OpenDP uses): only uniform integers and rational comparisons,
with the scale ``Delta / epsilon`` taken as the exact fraction of the float epsilon. Its
expected number of uniform draws is a small constant, whatever the scale.
"""

from __future__ import annotations

import secrets
from fractions import Fraction

import numpy as np
from diffprivlib.mechanisms import Geometric

Rng = np.random.RandomState | secrets.SystemRandom


def below(rng: Rng, n: int) -> int:
    """A uniform integer in [0, n), exactly, for any n >= 1: the OS's generator's own, or
    (seeded tests) a RandomState's, from 32-bit words with rejection past 2**63.

    >>> below(secrets.SystemRandom(), 1) == 0 and 0 <= below(np.random.RandomState(1), 10**30) < 10**30
    True
    """
    if n <= 1:
        return 0
    if isinstance(rng, secrets.SystemRandom):
        return rng.randrange(n)
    if n <= 2**63 - 1:
        return int(rng.randint(0, n, dtype=np.int64))
    bits = (n - 1).bit_length()
    words = -(-bits // 32)
    while True:
        value = 0
        for word in rng.randint(0, 2**32, size=words, dtype=np.uint64):
            value = (value << 32) | int(word)
        value >>= words * 32 - bits
        if value < n:
            return value


def bernoulli_exp(rng: Rng, num: int, den: int) -> bool:
    """True with probability exp(-num / den), for integers 0 <= num <= den (CKS Algorithm 1:
    K counts Bernoulli(gamma / k) successes in a row; exp(-gamma) is the chance K is odd)."""
    k = 1
    while below(rng, den * k) < num:
        k += 1
    return k % 2 == 1


def discrete_laplace(rng: Rng, epsilon: float, sensitivity: int) -> int:
    """Z with P(Z = z) proportional to exp(-|z| * epsilon / sensitivity), exactly
    (CKS Algorithm 2, scale t / s = sensitivity / epsilon, epsilon read as its exact fraction).

    >>> rng = np.random.RandomState(3)
    >>> draws = [discrete_laplace(rng, 1.0, 1) for _ in range(4000)]
    >>> abs(sum(abs(z) for z in draws) / 4000 - 0.8509) < 0.05  # E|Z| = 2a/(1-a^2), a = 1/e
    True
    """
    if not (epsilon > 0 and sensitivity >= 1):
        raise ValueError("epsilon must be positive and the sensitivity at least 1")
    scale = Fraction(int(sensitivity)) / Fraction(epsilon)
    s, t = scale.denominator, scale.numerator  # the scale is t / s
    while True:
        u = below(rng, t)
        if not bernoulli_exp(rng, u, t):
            continue
        v = 0
        while bernoulli_exp(rng, 1, 1):
            v += 1
        y = (u + t * v) // s
        negative = below(rng, 2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


# Below this scale (sensitivity / epsilon) diffprivlib's inversion of one 53-bit uniform skips
# integers only where the uniform is under 2**-53 times the scale: a chance below 2**-33 a
# draw. Counts and group selection stay there (and fast: one uniform a draw, where the exact
# sampler takes 50-150 microseconds); a fixed-point sum's scale is at least 2**20.
FAST_SCALE = 2.0**20


def geometric(rng: Rng, value: int, epsilon: float, sensitivity: int) -> int:
    """``value`` plus two-sided geometric noise of ratio exp(-epsilon / sensitivity): exact
    (``discrete_laplace``) above ``FAST_SCALE``, diffprivlib's ``Geometric`` below it."""
    if sensitivity / epsilon <= FAST_SCALE:
        mech = Geometric(epsilon=epsilon, sensitivity=int(sensitivity), random_state=rng)
        return int(mech.randomise(int(value)))
    return int(value) + discrete_laplace(rng, epsilon, int(sensitivity))
