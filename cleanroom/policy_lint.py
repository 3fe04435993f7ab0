"""Findings about a valid policy: settings that are weak or contradict each other
(``cleanroom policy lint``, CONTRACT.md §4). An invalid policy never gets here: loading it
fails (``policy.parse_policy``). Findings advise; none of them refuses a policy.

>>> from importlib.resources import files
>>> from cleanroom.policy import parse_policy
>>> example = files("cleanroom").joinpath("examples/acme-streamco.yaml").read_text()
>>> text = example.replace("min_users_per_row: 50", "min_users_per_row: 5")
>>> [f.rule for f in lint_policy(parse_policy(text, source="x"))]
['low_threshold']
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.policy import Policy

LOW_THRESHOLD = 10  # rows standing on fewer people than this are easy to single out
HIGH_EPSILON = 2.0  # per query: above this the noise hides little
LARGE_BUDGET = 20.0  # over a policy's life


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # warning | info
    message: str
    path: str | None = None


def lint_policy(policy: Policy) -> list[Finding]:
    return _threshold(policy) + _privacy(policy) + _roles(policy)


def _threshold(policy: Policy) -> list[Finding]:
    k = policy.query_rules.min_users_per_row
    if k >= LOW_THRESHOLD:
        return []
    return [Finding("low_threshold", "warning", f"a row may stand on {k} people; fewer than "
                    f"{LOW_THRESHOLD} are easy to single out", "query_rules.min_users_per_row")]


def _privacy(policy: Policy) -> list[Finding]:
    privacy = policy.privacy
    if privacy.differential_privacy == "off":
        return [Finding("no_noise", "info", "differential privacy is off: the threshold alone "
                        "does not stop two queries that differ by one person",
                        "privacy.differential_privacy")]
    found = []
    if privacy.max_epsilon_per_query > privacy.epsilon_budget:
        found.append(Finding("epsilon_over_budget", "warning", "max_epsilon_per_query is over "
                             "the whole epsilon_budget: no query can spend it",
                             "privacy.max_epsilon_per_query"))
    elif privacy.max_epsilon_per_query > HIGH_EPSILON:
        found.append(Finding("high_epsilon", "warning", f"an epsilon over {HIGH_EPSILON:g} per "
                             "query adds little noise", "privacy.max_epsilon_per_query"))
    if privacy.epsilon_budget > LARGE_BUDGET:
        found.append(Finding("large_budget", "warning", f"an epsilon_budget over "
                             f"{LARGE_BUDGET:g} lets an analyst average the noise away",
                             "privacy.epsilon_budget"))
    return found


def _roles(policy: Policy) -> list[Finding]:
    found = []
    if not any("analyst" in p.roles for p in policy.parties):
        found.append(Finding("no_analyst", "warning", "no party has the analyst role: nobody "
                             "can ask a question", "parties"))
    if not any("compliance" in p.roles for p in policy.parties):
        found.append(Finding("no_compliance", "info", "no party has the compliance role: "
                             "nobody reads the audit log", "parties"))
    return found
