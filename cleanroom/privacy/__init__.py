"""Differential-privacy building blocks: noise mechanisms, group selection and the budget ledger.

The mechanisms never touch a diffprivlib ``BudgetAccountant``; :class:`BudgetLedger` does the
accounting (basic composition over each party's released answers).
"""

from cleanroom.privacy.budget import BudgetLedger, Charge
from cleanroom.privacy.mechanisms import (
    AggregateSpec,
    NoisePlan,
    NoiseSpec,
    NoisyValue,
    PlannedNoise,
    SelectionPlan,
    keep_group,
    make_rng,
    noise_value,
    noisy_user_count,
    plan_noise,
    selection_threshold,
)

__all__ = [
    "AggregateSpec",
    "BudgetLedger",
    "Charge",
    "NoisePlan",
    "NoiseSpec",
    "NoisyValue",
    "PlannedNoise",
    "SelectionPlan",
    "keep_group",
    "make_rng",
    "noise_value",
    "noisy_user_count",
    "plan_noise",
    "selection_threshold",
]
