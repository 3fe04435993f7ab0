"""Differential privacy through the service: modes, the noise plan, the budget, and what an
attacker learns from a differencing pair (measured, with stated tolerances)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cleanroom.engine import ExactResult
from cleanroom.errors import QueryRejected
from cleanroom.planners.attribution import AttributionRequest, credited_ranges, plan_attribution
from cleanroom.planners.base import NoisedStep
from cleanroom.planners.sql import plan_private_query
from cleanroom.planners.verify import verify_noised
from cleanroom.policy import load_policies
from cleanroom.privacy.dp_release import noise_plan, release_dp
from cleanroom.privacy.dp_sql import DPColumn
from cleanroom.privacy.mechanisms import make_rng
from tests.canary import CanaryData
from tests.conftest import COLLAB, Harness, make_client
from tests.conftest import POLICIES as POLICIES_DIR
from tests.test_api_access import assert_error

REQUIRED = Path(__file__).parent / "fixtures" / "policies-required"
BY_CHANNEL = ("SELECT channel, COUNT(DISTINCT user_key) AS people, SUM(cost) AS spend "
              "FROM impressions GROUP BY channel ORDER BY people DESC")


def loaded_with(tmp_path: Path, canary: CanaryData, policies: Path, **settings: object) -> Harness:
    harness = make_client(tmp_path / "data", policies=policies, **settings)
    files = canary.write(tmp_path / "files")
    for name, party in (("impressions", "streamco"), ("conversions", "acme")):
        assert harness.upload(name, files[name].read_bytes(), party=party).status_code == 201
    return harness


@pytest.fixture
def required(tmp_path: Path, canary: CanaryData) -> Harness:
    return loaded_with(tmp_path, canary, REQUIRED, dp_seed=5)


def test_required_mode_never_answers_exactly(required: Harness, canary: CanaryData) -> None:
    response = required.query(BY_CHANNEL)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["epsilon_spent"] == 1.0  # the policy's max_epsilon_per_query
    assert body["suppressed_rows"] is None
    assert body["rows"] and set(body["row_status"]) == {"noised"}
    for row, intervals in zip(body["rows"], body["confidence_intervals"]):
        assert intervals[0] is None  # a group key
        low, high = intervals[1]
        assert low <= row[1] <= high
    assert canary.leaks(response.text, BY_CHANNEL) == []
    assert "CANARYCHAN7" not in response.text  # a 7-person channel is never selected


def test_noise_plan_is_shown_without_spending(required: Harness) -> None:
    response = required.client.post(f"/v1/collaborations/{COLLAB}/queries/check",
                                     json={"sql": BY_CHANNEL, "epsilon": 0.6},
                                     headers=required.auth("acme"))
    body = response.json()
    assert body["decision"] == "accepted"
    plan = body["noise"]
    assert [a["mechanism"] for a in plan["aggregates"]] == ["geometric (selection count)",
                                                            "geometric (fixed-point)"]
    # Equal shares: spend and group selection; the people count is selection's noisy count.
    assert all(math.isclose(a["epsilon"], 0.3) for a in plan["aggregates"])
    assert math.isclose(plan["group_selection"]["epsilon"], 0.3)
    assert plan["aggregates"][0]["sensitivity"] == 2  # max_groups_per_user
    assert plan["aggregates"][1]["sensitivity"] == 2 * 10 * 100  # G * R * upper bound of cost
    assert plan["contribution_bounds"] == {"max_groups_per_user": 2, "max_rows_per_user_group": 10,
                                           "metric_bounds": {"spend": [0.0, 100.0]}}
    assert "__cr_bounded" in body["sql"]
    budget = required.client.get(f"/v1/collaborations/{COLLAB}/budget", headers=required.auth("acme"))
    assert budget.json()["epsilon_spent"] == 0


def test_epsilon_rules(required: Harness, fresh: Harness) -> None:
    body = assert_error(required.query(BY_CHANNEL, epsilon=1.5), 422, "query_rejected")
    assert body["error"]["violations"][0]["rule"] == "epsilon_not_allowed"
    off = fresh.query("SELECT COUNT(*) AS n FROM visits", party="globex", epsilon=0.5,
                      collab="other-collab")
    assert_error(off, 422, "query_rejected")


def test_unsupported_shapes_are_refused_not_answered_exactly(required: Harness) -> None:
    for sql in ("SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel HAVING COUNT(*) > 5",
                "SELECT ROUND(SUM(cost), 1) AS s FROM impressions",
                "WITH t AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) "
                "SELECT SUM(n) AS total FROM t"):
        body = assert_error(required.query(sql), 422, "query_rejected")
        assert {v["rule"] for v in body["error"]["violations"]} == {"dp_unsupported"}


def test_budget_is_exhausted_and_history_listed(required: Harness) -> None:
    for _ in range(3):
        assert required.query("SELECT COUNT(*) AS n FROM conversions").status_code == 200
    assert_error(required.query("SELECT COUNT(*) AS n FROM conversions"), 429, "budget_exhausted")
    budget = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                 headers=required.auth("acme")).json()
    assert budget["epsilon_spent"] == 3.0 and budget["epsilon_remaining"] == 0
    assert [h["running_total"] for h in budget["history"]] == [1.0, 2.0, 3.0]


def test_forty_concurrent_requests_never_overspend(required: Harness) -> None:
    def ask(_: int) -> int:
        return int(required.query("SELECT COUNT(*) AS n FROM conversions", epsilon=0.25).status_code)

    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(ask, range(40)))
    assert codes.count(200) == 12 and codes.count(429) == 28  # budget 3.0 / 0.25
    spent = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                headers=required.auth("acme")).json()["epsilon_spent"]
    assert spent <= 3.0 + 1e-9


def test_optional_mode_answers_exactly_without_epsilon(loaded: Harness) -> None:
    body = loaded.query(BY_CHANNEL).json()
    assert body["epsilon_spent"] == 0 and set(body["row_status"]) == {"exact"}
    noisy = loaded.query(BY_CHANNEL, epsilon=0.5).json()
    assert set(noisy["row_status"]) <= {"noised"} and noisy["epsilon_spent"] == 0.5


COUNT_COLUMNS = (DPColumn("people", "people"),)


def attacker_success(epsilon: float, runs: int, seed: int) -> float:
    """Differencing: the analyst knows the count is n or n + 1 (with or without the target)
    and guesses by rounding the noisy answer. Returns the share of correct guesses."""
    rng = make_rng(seed)
    plan = noise_plan(COUNT_COLUMNS, epsilon=epsilon, max_groups_per_user=1, delta=1e-6)
    coins = np.random.default_rng(seed).integers(0, 2, runs)
    right = 0
    for present in coins:
        exact = ExactResult(("__cr_people",), [(100 + int(present),)])
        noisy = release_dp(exact.rows, COUNT_COLUMNS, plan, min_users=50, max_groups_per_user=1,
                           rng=rng).rows[0][0]
        right += int((noisy >= 100.5) == bool(present))
    return right / runs


def test_differencing_attack_success_is_bounded() -> None:
    """Without noise the attacker is right every time. With epsilon = 1 the best possible
    success rate is e / (1 + e) = 0.731; 4,000 runs give a standard error of 0.007, so we allow
    0.03 above the bound."""
    rate = attacker_success(1.0, 4000, seed=1)
    assert rate <= math.e / (1 + math.e) + 0.03
    assert rate >= 0.5 - 0.03  # and it is still a guess, not a coin the test rigged


def test_padding_attack_cannot_confirm_the_target() -> None:
    """Padding: the analyst builds a group of k - 1 people it knows plus the target, so an exact
    threshold of k would show the row exactly when the target is in the group. Under DP the
    row appears by noisy selection and its count is noisy. The group is large enough to clear
    the selection threshold often, so the attack has something to work with. The attacker
    guesses "present" when the row appears with a count at or above the midpoint. 4,000 runs:
    the rate must stay within 0.03 of the e^eps / (1 + e^eps) bound for the whole query's epsilon."""
    columns = (DPColumn("k", "group_key"), *COUNT_COLUMNS)
    plan = noise_plan(columns, epsilon=1.0, max_groups_per_user=1, delta=1e-6)
    k = int(plan.selection.threshold) if plan.selection else 50
    rng, coins = make_rng(3), np.random.default_rng(3).integers(0, 2, 4000)
    right = shown = 0
    for present in coins:
        exact = ExactResult(("k", "__cr_people"), [("g", k - 1 + int(present))])
        rows = release_dp(exact.rows, columns, plan, min_users=k, max_groups_per_user=1, rng=rng).rows
        shown += bool(rows)
        guess = bool(rows) and rows[0][1] >= k - 0.5
        right += int(guess == bool(present))
    assert 0.2 < shown / len(coins) < 0.8  # the row is sometimes shown, sometimes not
    assert right / len(coins) <= math.e / (1 + math.e) + 0.03


def test_noisy_and_exact_answers_name_columns_alike(loaded: Harness) -> None:
    sql = ("SELECT channel, COUNT(*), COUNT(DISTINCT user_key) AS people, SUM(cost) "
           "FROM impressions GROUP BY 1")
    exact = loaded.query(sql).json()["columns"]
    assert loaded.query(sql, epsilon=0.5).json()["columns"] == exact
    assert loaded.check(sql).json()["columns"] == exact


def test_the_number_of_candidate_groups_never_decides_success(tmp_path: Path,
                                                              canary: CanaryData) -> None:
    """With a row cap of 3, grouping by timestamp gives hundreds of candidate groups (mostly
    one person each). Failing on their number would be an exact, free signal: it must not."""
    from cleanroom.engine import Limits

    small = loaded_with(tmp_path, canary, REQUIRED, dp_seed=2, limits=Limits(max_rows=3))
    for sql in ("SELECT ts, COUNT(*) AS n FROM conversions GROUP BY ts",
                "SELECT ts, COUNT(*) AS n FROM conversions WHERE revenue > 777 GROUP BY ts"):
        response = small.query(sql, epsilon=0.5)
        assert response.status_code == 200, response.text
        assert len(response.json()["rows"]) <= 3


def test_a_failing_private_query_has_already_been_charged(required: Harness,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from cleanroom.engine import duckdb as engine
    from cleanroom.errors import QueryFailed

    def fail(*_: object, **__: object) -> None:
        raise QueryFailed()

    monkeypatch.setattr(engine, "run_streaming", fail)  # the engine session's streamed run
    assert_error(required.query("SELECT COUNT(*) AS n FROM conversions"), 422, "query_failed")
    budget = required.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                 headers=required.auth("acme")).json()
    assert budget["epsilon_spent"] == 1.0


def test_tiny_epsilon_and_conditional_counts_are_refused(required: Harness) -> None:
    body = assert_error(required.query("SELECT COUNT(*) AS n FROM conversions", epsilon=1e-300),
                        422, "query_rejected")
    assert body["error"]["violations"][0]["rule"] == "epsilon_not_allowed"
    # Under DP COUNT(*) counts people; a conditional COUNT(CASE ...) would silently become that.
    conditional = ("SELECT channel, COUNT(CASE WHEN campaign LIKE '%c1' THEN 1 END) AS n "
                   "FROM impressions GROUP BY channel")
    body = assert_error(required.query(conditional), 422, "query_rejected")
    assert body["error"]["violations"][0]["rule"] == "dp_unsupported"


def test_check_warns_before_spending_when_a_cell_would_be_mostly_noise(required: Harness) -> None:
    """At epsilon 0.05 the spend's 95% half-width (about 2.4e5) exceeds all that 20 people can
    add with 10 rows of at most 100 each (2e4), and the people count's (about 240) exceeds 20:
    both are flagged in the check and again in the answer. At epsilon 1 a people count is fine."""
    def check(sql: str, epsilon: float) -> dict[str, object]:
        return dict(required.client.post(f"/v1/collaborations/{COLLAB}/queries/check",
                                         json={"sql": sql, "epsilon": epsilon},
                                         headers=required.auth("acme")).json())

    noisy = check(BY_CHANNEL, 0.05)["noise"]
    assert isinstance(noisy, dict)
    assert [w["column"] for w in noisy["warnings"]] == ["people", "spend"]
    assert all("mostly noise" in w["message"] for w in noisy["warnings"])
    fine = check("SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions "
                 "GROUP BY channel", 1.0)["noise"]
    assert isinstance(fine, dict) and fine["warnings"] == []
    answer = required.query(BY_CHANNEL, epsilon=0.05).json()
    assert answer["noise"]["warnings"] == noisy["warnings"]


def impressions_csv(people: int, path: Path) -> bytes:
    """Person p: 1-4 rows in each of 4 channels (some skip a channel), cost in [0.1, 5]."""
    import duckdb

    duckdb.connect().execute(f"""COPY (
        SELECT sha256('p' || p) AS user_key, TIMESTAMP '2026-09-01' AS ts, 'ch' || c AS channel,
               'camp' AS campaign, 0.1 + ((p * 31 + c * 17 + r * 7) % 491) / 100.0 AS cost,
               'x' AS ip_hash
        FROM range({people}) t(p), range(4) s(c), range(4) q(r)
        WHERE r <= (p + c) % 4 AND (c = 0 OR (p + c) % 3 <> 0)) TO '{path}' (HEADER)""")
    return path.read_bytes()


def test_intervals_hold_through_the_service(tmp_path: Path) -> None:
    """End to end: 40 noisy answers (epsilon 1, seeded) to one grouped query over 4 channels
    of 900-1,500 people each; every interval of every aggregate is held against the plain SQL
    answer (the same service, asked exactly). 160 intervals per aggregate: standard error
    0.017, so the band [0.89, 0.99] is 3.5 of them below 0.95 and 2.3 above (the fine band of
    tests/privacy/test_coverage.py runs over 1,600 intervals without HTTP)."""
    policies = tmp_path / "policies"
    policies.mkdir()
    text = (POLICIES_DIR / "acme-streamco.yaml").read_text()
    text = text.replace("bounds: [0, 100]", "bounds: [0, 10]").replace(
        "min_users_per_row: 50", "min_users_per_row: 50\n  max_groups_per_user: 4\n"
        "  max_rows_per_user_group: 4").replace("epsilon_budget: 10.0", "epsilon_budget: 100.0")
    (policies / "acme-streamco.yaml").write_text(text)
    (policies / "other-collab.yaml").write_text((POLICIES_DIR / "other-collab.yaml").read_text())
    harness = make_client(tmp_path / "data", policies=policies, dp_seed=11)
    body = impressions_csv(2000, tmp_path / "impressions.csv")
    assert harness.upload("impressions", body, party="streamco").status_code == 201
    sql = ("SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(*) AS n, SUM(cost) AS spend,"
           " AVG(cost) AS mean FROM impressions GROUP BY channel")
    plain = {row[0]: row[1:] for row in harness.query(sql).json()["rows"]}
    assert len(plain) == 4
    hits = np.zeros(4)
    for _ in range(40):
        body = harness.query(sql, epsilon=1.0).json()
        assert len(body["rows"]) == 4
        for row, cells in zip(body["rows"], body["confidence_intervals"]):
            for j, (low, high) in enumerate(cells[1:]):
                hits[j] += low <= plain[row[0]][j] <= high
    coverage = hits / 160
    assert np.all((coverage >= 0.89) & (coverage <= 0.99)), coverage


DERIVED = ("SELECT channel, SUM(cost * 0.4) AS weighted, AVG(LEAST(cost, 30)) AS capped "
           "FROM impressions GROUP BY channel")


def _derived_step() -> NoisedStep:
    policy = load_policies(REQUIRED)["acme-streamco"]
    private = plan_private_query(policy, DERIVED, 1.0)
    return NoisedStep(private.query, private.plan, 1.0, tables=private.tables)


def _tampered(step: NoisedStep, tamper: str) -> NoisedStep:
    q, noise = step.query, step.noise
    if tamper == "clamp":  # the SQL clamps wider than the plan's range
        return replace(step, query=replace(q, sql=q.sql.replace("> 40.0 THEN 40.0", "> 400.0 THEN 400.0")))
    if tamper == "range":  # the column and its clamp claim a narrower range than the plan noises
        narrow = tuple(replace(c, upper=4.0) if c.name == "weighted" else c for c in q.columns)
        return replace(step, query=replace(q, columns=narrow,
                                           sql=q.sql.replace("> 40.0 THEN 40.0", "> 4.0 THEN 4.0")))
    if tamper == "sensitivity":
        entries = tuple(replace(e, spec=replace(e.spec, sensitivity=e.spec.sensitivity / 10))
                        if e.name == "weighted" else e for e in noise.entries)
        return replace(step, noise=replace(noise, entries=entries))
    if tamper == "kind":  # the average noised as a sum
        entries = tuple(replace(e, spec=replace(e.spec, kind="sum")) if e.name == "capped" else e
                        for e in noise.entries)
        return replace(step, noise=replace(noise, entries=entries))
    if tamper == "reported":  # the answer would show other bounds than those used
        assert noise.bounds is not None
        bounds = replace(noise.bounds, metric_bounds=(("weighted", 0.0, 4.0),
                                                      ("capped", 0.0, 30.0)))
        return replace(step, noise=replace(noise, bounds=bounds))
    if tamper in ("crowded", "either"):  # someone over a bound is not ranked
        having = "HAVING COUNT(*) > 2 OR MAX(__cr_n) > 10)"
        assert q.sql.count(having) == 1
        worse = "HAVING COUNT(*) > 2)" if tamper == "crowded" else having.replace(" OR ", " AND ")
        return replace(step, query=replace(q, sql=q.sql.replace(having, worse)))
    assert tamper == "rows"  # more rows per person and group than planned
    return replace(step, query=replace(q, sql=q.sql.replace("> 10)", "> 100)").replace(
        "<= 10)", "<= 100)")))


def test_a_derived_value_is_verified_on_its_range() -> None:
    step = _derived_step()
    assert [(c.name, c.lower, c.upper) for c in step.query.columns[1:]] == [
        ("weighted", 0.0, 40.0), ("capped", 0.0, 30.0)]
    assert [e.sensitivity for e in step.noise.entries] == [2 * 10 * 40.0, 2 * 10]
    verify_noised(step, policy_bounds=(2, 10))  # raises if not
    with pytest.raises(QueryRejected):  # the policy's bounds are not the plan's
        verify_noised(step, policy_bounds=(2, 5))


@pytest.mark.parametrize("tamper", ["clamp", "range", "sensitivity", "kind", "reported", "rows",
                                    "crowded", "either"])
def test_a_tampered_range_or_bound_is_refused(tamper: str) -> None:
    step = _tampered(_derived_step(), tamper)
    assert step != _derived_step()
    with pytest.raises(QueryRejected) as caught:
        verify_noised(step, policy_bounds=(2, 10))
    assert {v.rule for v in caught.value.violations} == {"dp_unsupported"}


@pytest.mark.parametrize("model", ["linear", "time_decay", "position_based"])
def test_attribution_credits_are_noised_on_their_ranges(model: str) -> None:
    """Every heuristic model, time decay included, hands out shares of one conversion per
    person: the plan noises credit on [0, 1] and credited revenue on [0, hi] (the ranges of
    ``c`` and ``c * val``), and the verifier refuses a plan that noises less."""
    policy = load_policies(REQUIRED)["acme-streamco"]
    ask = AttributionRequest(model, "impressions", "conversions", "channel", 30.0)
    (step,) = plan_attribution(policy, ask, 1.0).steps
    assert isinstance(step, NoisedStep)
    assert [(e.name, e.spec.lower, e.spec.upper, e.sensitivity) for e in step.noise.entries] == [
        ("conversions", 0.0, 1.0, 1.0), ("revenue", 0.0, 1000.0, 1000.0)]
    verify_noised(step)
    low = tuple(replace(e, spec=replace(e.spec, sensitivity=e.spec.sensitivity / 2))
                for e in step.noise.entries)
    with pytest.raises(QueryRejected):
        verify_noised(replace(step, noise=replace(step.noise, entries=low)))
    assert credited_ranges((50.0, 100.0))[1][1].lo == 0.0  # a share of a revenue of 50 or more


@pytest.mark.parametrize("sql", [
    "SELECT channel, SUM(cost * 0.01) AS s, AVG(LEAST(cost, 30)) AS a FROM impressions "
    "GROUP BY channel",
    "SELECT i.campaign, SUM(CASE WHEN c.revenue > 777 THEN c.revenue - 777 ELSE 0 END) AS s "
    "FROM impressions i JOIN conversions c ON i.user_key = c.user_key GROUP BY i.campaign",
    "SELECT i.channel, SUM(c.revenue * POWER(0.5, GREATEST(date_diff('day', i.ts, c.ts), 0) "
    "/ 0.05)) AS w FROM impressions i JOIN conversions c ON i.user_key = c.user_key "
    "GROUP BY i.channel",
])
def test_derived_values_under_dp_leak_no_canary(required: Harness, canary: CanaryData,
                                                sql: str) -> None:
    """What threshold mode refuses as packing (a difference from one person's revenue, a
    half-life of an hour) is answered under DP with noise on its range: no canary comes out,
    the rare campaign and the 7-person channel are not selected."""
    response = required.query(sql)
    assert response.status_code == 200, response.text
    assert canary.leaks(response.text, sql) == []
    assert "CANARYCAMP3" not in response.text and "CANARYCHAN7" not in response.text


def test_the_dbt_playbook_is_answered_under_dp_once_its_total_is_clamped() -> None:
    """tests/gate/published.sql's dbt attribution playbook entries, with the per-person revenue
    total clamped where it is made, plan and verify under DP on their public ranges; without
    the clamp they are refused, naming it."""
    from tests.gate.corpus import load

    policy = next(iter(load_policies(POLICIES_DIR.parent / "policies-published").values()))
    entries = {e.name: e.sql for e in load("published.sql")}
    for name in ("dbt_attribution_playbook_points_by_source",
                 "dbt_attribution_playbook_linear_revenue_by_campaign"):
        sql = entries[name]
        with pytest.raises(QueryRejected) as caught:
            plan_private_query(policy, sql, 1.0)
        assert "where it is made" in caught.value.violations[0].message
        clamped = sql.replace("sum(revenue) as revenue", "least(sum(revenue), 1000) as revenue")
        private = plan_private_query(policy, clamped, 1.0)
        step = NoisedStep(private.query, private.plan, 1.0, tables=private.tables)
        verify_noised(step)
        ranges = {c.name: (c.lower, c.upper) for c in private.query.columns
                  if c.function == "sum"}
        assert ranges["linear_points" if "points" in name else "conversions"] == (0.0, 1.0)
        assert ranges["linear_revenue" if "points" in name else "revenue"] == (0.0, 1000.0)
