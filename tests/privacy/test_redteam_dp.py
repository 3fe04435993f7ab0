"""Red team of the differential-privacy mode (session 23), as an outside analyst would attack
it: the analyst knows the salt (so any person's user_key), controls its own uploads, and wants
to learn whether one person is in the data or what they did.

The evidence is DP's own definition, on neighbouring datasets: ``BASE`` and ``BASE`` plus one
heavy person ``H`` (hundreds of impressions over dozens of channels, campaigns and hours, costs
past the bound, thirty conversions at or past the revenue bound).

- *Sensitivity* (``test_one_person_moves_each_column_by_at_most_its_sensitivity``): each query
  is planned and verified as the service does and its bounded SQL run in the real sandbox on
  both datasets; the exact totals the noise is added to must move, over the whole column, by
  no more than the sensitivity the plan calibrated that column's noise to (people: 1 per group
  and G groups). Each case also runs the analyst's plain SQL on the same two datasets and
  shows that H moves it past that sensitivity: without the bounding the attack would work.
- *Distinguishers*, seeded: the release's noise on both neighbours, a few hundred runs each,
  and the optimal threshold test; its success must stay under ``e^eps / (1 + e^eps)`` plus
  three standard errors, and the same test on the unbounded totals wins every time.
- *Non-noisy fields*: status, error, columns, plan, flags and the audit, read once on each
  neighbour through HTTP: equal.
- *Budget*: refusals, checks and bad epsilons spend nothing; every route charges once, before
  it runs; concurrent requests over three routes never overspend.
- *Attribution*: the same neighbours through each DP model's own bound (one credit and one
  clamped revenue per person, in at most G groups).
- *The noise's floating point*: a support attack on the integers diffprivlib's Geometric can
  draw at a sum's sensitivity (certain on 17% of draws at the policy's limits; closed by the
  exact sampler, ``privacy/sampling.py``).

docs/privacy.md, "Red team (session 23)", tabulates what was tried, what held and what is open.

A leak that is not closed here is a strict xfail whose reason starts with "leak:".
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from cleanroom.engine import DuckDBEngine, Limits, TableSpec
from cleanroom.planners.attribution import DP_MODELS, AttributionRequest, plan_attribution
from cleanroom.planners.base import NoisedStep
from cleanroom.planners.sql import column_spec, plan_private_query
from cleanroom.planners.verify import verify_noised
from cleanroom.policy import Kind, Policy, load_policies
from cleanroom.privacy.discrete import fixed_point_quantum
from cleanroom.privacy.dp_release import release_dp
from cleanroom.privacy.mechanisms import make_rng
from tests.canary import user_key
from tests.conftest import COLLAB, POLICIES, Harness, make_client, with_person_counts

REQUIRED = Path(__file__).parent.parent / "fixtures" / "policies-required"
HEAVY = 100_000  # the person index of H

# People 0..299: 1-3 impressions each in ch0..ch2, two campaigns, costs 1-7; half convert.
BASE = {
    "impressions": """
        SELECT p, TIMESTAMP '2026-09-01' + to_hours(p % 40 + r * 50) AS ts, 'ch' || ((p + r) % 3)
               AS channel, 'camp' || (p % 2) AS campaign, (p % 7) + 1.0 AS cost, 'ip' AS ip_hash
        FROM range(300) a(p), range(3) b(r) WHERE r <= p % 3""",
    "conversions": """
        SELECT p, TIMESTAMP '2026-09-03' + to_hours(p % 24) AS ts, 10.0 + p AS revenue,
               'order' AS order_id FROM range(300) a(p) WHERE p % 2 = 0"""}
# H: 420 impressions over ch0..ch2, 37 channels of their own and 210 hours, campaign 'solo'
# on most, costs at and past the bound (100; the view clamps 5000), 20 rows with no channel;
# 30 conversions at and past the revenue bound (1000).
HEAVY_ROWS = {
    "impressions": f"""
        SELECT {HEAVY} AS p, TIMESTAMP '2026-09-01' + to_hours(i % 210) AS ts,
               CASE WHEN i < 20 THEN NULL WHEN i % 2 = 0 THEN 'ch' || (i % 3)
                    ELSE 'hch' || (i % 37) END AS channel,
               CASE WHEN i % 5 = 0 THEN 'camp0' ELSE 'solo' END AS campaign,
               CASE WHEN i % 3 = 0 THEN 5000.0 ELSE 100.0 END AS cost, 'ip' AS ip_hash
        FROM range(420) a(i)""",
    "conversions": f"""
        SELECT {HEAVY} AS p, TIMESTAMP '2026-09-05' + to_hours(i) AS ts,
               CASE WHEN i % 2 = 0 THEN 98765.0 ELSE 1000.0 END AS revenue,
               'order' AS order_id FROM range(30) a(i)"""}


def _policy() -> Policy:
    return load_policies(POLICIES)["acme-streamco"]


def _required() -> Policy:
    """The required-mode policy (G = 2, k = 20): at epsilon 1 its selection threshold (84
    noisy people) lets BASE's channels (about 200 people each) through."""
    return load_policies(REQUIRED)["acme-streamco"]


def _world_sql(name: str, heavy: bool) -> str:
    sql = BASE[name]
    return f"{sql} UNION ALL {HEAVY_ROWS[name]}" if heavy else sql


def _write(folder: Path, heavy: bool, policy: Policy, fmt: str = "parquet") -> dict[str, Path]:
    """Both datasets of one world as files, user_keys as the service's 64-hex pseudonyms."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.create_function("uk", lambda i: user_key(int(i)), ["BIGINT"], "VARCHAR")
    paths = {}
    for name in policy.datasets:
        paths[name] = folder / f"{name}.{fmt}"
        option = "FORMAT parquet" if fmt == "parquet" else "HEADER, DELIMITER ','"
        con.execute(f"COPY (SELECT uk(p) AS user_key, * EXCLUDE (p) FROM "
                    f"({_world_sql(name, heavy)})) TO '{paths[name]}' ({option})")
    return paths


def _specs(paths: dict[str, Path], policy: Policy) -> list[TableSpec]:
    """The sandbox's views of the files, as ``pipeline.tables_for`` builds them."""
    return [TableSpec(name, paths[name], tuple(column_spec(c, col) for c, col in ds.columns.items()
                                              if col.kind is not Kind.BANNED))
            for name, ds in policy.datasets.items()]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, list[TableSpec]]:
    root = tmp_path_factory.mktemp("neighbours")
    policy = _policy()
    return {heavy: _specs(_write(root / str(heavy), heavy, policy), policy)
            for heavy in (False, True)}


def _planned(sql: str, epsilon: float = 1.0, policy: Policy | None = None) -> NoisedStep:
    """The query planned and verified as the pipeline does before it charges."""
    policy = policy or _policy()
    private = plan_private_query(policy, sql, epsilon)
    step = NoisedStep(private.query, private.plan, epsilon, tables=private.tables)
    rules = policy.query_rules
    verify_noised(step, policy_bounds=(rules.max_groups_per_user, rules.max_rows_per_user_group),
                  user_keys={n: d.user_key for n, d in policy.datasets.items()})
    return step


def _run(specs: list[TableSpec], sql: str) -> list[tuple[Any, ...]]:
    with DuckDBEngine().session(specs, Limits()) as session:
        return session.stream(sql, list)


def _by_key(rows: list[tuple[Any, ...]], keys: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {tuple(r[:keys]): tuple(r[keys:]) for r in rows}


def _moves(step: NoisedStep, base: list[tuple[Any, ...]], heavy: list[tuple[Any, ...]]
           ) -> dict[str, float]:
    """How far H moves each released column of the bounded totals, in the units the plan's
    sensitivity is stated in, over every group of either world (a missing group is 0):
    ``people`` the largest move of one group's people count and ``people_groups`` how many
    groups it moves; a count its rows; a sum its quanta times the quantum (a Snapping sum, as
    attribution's, its value); an average its
    centred sum (``<name>:sum``) and its count of values (``<name>:count``)."""
    keys = step.query.key_count
    a, b = _by_key(base, keys), _by_key(heavy, keys)
    width = 1 + 2 * sum(1 for c in step.query.columns if c.function in ("count", "sum", "avg"))
    zero = (0,) * width
    groups = set(a) | set(b)
    diffs = {g: [abs(_number(x) - _number(y)) for x, y in zip(a.get(g, zero), b.get(g, zero),
                                                              strict=True)]
             for g in groups}
    fixed = {e.name: e.spec.fixed_point for e in step.noise.entries}
    moved: dict[str, float] = {
        "people": max((d[0] for d in diffs.values()), default=0),
        "people_groups": sum(1 for d in diffs.values() if d[0])}
    index = 1
    for col in step.query.columns:
        if col.function not in ("count", "sum", "avg"):
            continue
        total = sum(d[index] for d in diffs.values())
        count = sum(d[index + 1] for d in diffs.values())
        if col.function == "count":
            moved[col.name] = total
        elif col.function == "sum":  # quanta, or (attribution's Snapping sums) the value
            moved[col.name] = total * (fixed_point_quantum(col.lower, col.upper)
                                       if fixed[col.name] else 1.0)
        else:
            moved[f"{col.name}:sum"] = total * fixed_point_quantum(col.lower, col.upper,
                                                                   centred=True)
            moved[f"{col.name}:count"] = count
        index += 2
    return moved


def _number(value: Any) -> float:
    """A total as a number: integers (rows, quanta) exactly, fractional credits as they are."""
    return int(value) if isinstance(value, int) else float(value or 0)


def _sensitivities(step: NoisedStep) -> dict[str, float]:
    """What the plan calibrated each column's noise to, in ``_moves``' units."""
    plan = step.noise
    grouped = step.query.key_count > 0
    # Selection noises the people of each group at sensitivity G (``dp_release._selector``,
    # from the policy; attribution's plan has no ContributionBounds).
    groups = (plan.bounds.max_groups_per_user if plan.bounds
              else _policy().query_rules.max_groups_per_user)
    found: dict[str, float] = {"people": 1, "people_groups": groups if grouped else 1}
    for entry in plan.entries:
        spec = entry.spec
        if spec.kind == "avg":
            lo, hi = float(spec.lower or 0.0), float(spec.upper or 0.0)
            found[f"{entry.name}:sum"] = spec.sensitivity * (hi - lo) / 2
            found[f"{entry.name}:count"] = spec.sensitivity
        elif entry.mechanism != "geometric (selection count)" and not (
                spec.kind == "count" and any(c.name == entry.name and c.function == "people"
                                             for c in step.query.columns)):
            found[entry.name] = spec.sensitivity
    return found


def _raw_moves(specs: dict[bool, list[TableSpec]], sql: str, keys: int) -> list[float]:
    """H's move of each aggregate column of the analyst's plain SQL, summed over groups."""
    a, b = (_by_key(_run(specs[w], sql), keys) for w in (False, True))
    width = len(next(iter(b.values())))
    zero = (0,) * width
    return [sum(abs(float(a.get(g, zero)[i] or 0) - float(b.get(g, zero)[i] or 0))
                for g in set(a) | set(b)) for i in range(width)]


# -- sensitivity: one person's move against the plan --------------------------------------------
# (id, SQL, the output columns whose plain answer H moves past the plan's sensitivity)
CASES = [
    ("control", "SELECT channel, COUNT(*) AS n, SUM(cost) AS s FROM impressions GROUP BY channel",
     ("n", "s")),
    ("self_join_fan_out",
     "SELECT i.channel, COUNT(*) AS n, SUM(j.cost) AS s FROM impressions i "
     "JOIN impressions j ON i.user_key = j.user_key GROUP BY i.channel", ("n", "s")),
    ("triple_self_join",
     "SELECT i.campaign, COUNT(*) AS n FROM impressions i JOIN impressions j "
     "ON i.user_key = j.user_key JOIN conversions k ON k.user_key = i.user_key "
     "GROUP BY i.campaign", ("n",)),
    ("join_to_conversions",
     "SELECT i.channel, SUM(c.revenue) AS r, COUNT(DISTINCT i.user_key) AS people "
     "FROM impressions i JOIN conversions c ON i.user_key = c.user_key GROUP BY i.channel",
     ("r",)),
    ("union_all_duplicates",
     "SELECT channel, COUNT(*) AS n FROM (SELECT user_key, channel FROM impressions "
     "UNION ALL SELECT user_key, channel FROM impressions UNION ALL SELECT user_key, channel "
     "FROM impressions) GROUP BY channel", ("n",)),
    ("union_distinct", "SELECT channel, COUNT(*) AS n FROM (SELECT user_key, channel FROM "
     "impressions UNION SELECT user_key, channel FROM impressions) GROUP BY channel", ()),
    ("per_person_window",
     "WITH t AS (SELECT user_key, channel, COUNT(*) OVER (PARTITION BY user_key) AS n "
     "FROM impressions) SELECT channel, SUM(LEAST(n, 100)) AS s FROM t GROUP BY channel", ("s",)),
    ("per_person_total_joined_back",
     "WITH p AS (SELECT user_key, LEAST(SUM(revenue), 1000) AS total FROM conversions "
     "GROUP BY user_key) SELECT i.channel, SUM(p.total) AS s FROM impressions i JOIN p "
     "ON i.user_key = p.user_key GROUP BY i.channel", ("s",)),
    ("one_person_fills_many_groups",
     "SELECT date_trunc('hour', ts) AS h, COUNT(*) AS n FROM impressions GROUP BY 1", ("n",)),
    ("scaled_value", "SELECT channel, SUM(cost * 100) AS s FROM impressions GROUP BY channel",
     ("s",)),
    ("case_packing",
     "SELECT campaign, SUM(CASE WHEN channel = 'ch0' THEN cost * 1000 WHEN channel IS NULL "
     "THEN cost * 1e6 ELSE cost END) AS s FROM impressions GROUP BY campaign", ()),
    ("duration",
     "SELECT i.channel, SUM(LEAST(GREATEST(date_diff('hour', i.ts, c.ts), 0), 720)) AS d "
     "FROM impressions i JOIN conversions c ON i.user_key = c.user_key GROUP BY i.channel",
     ("d",)),
    ("average_at_the_bound",
     "SELECT channel, AVG(cost) AS a, COUNT(*) AS n FROM impressions GROUP BY channel", ("n",)),
    ("ungrouped", "SELECT COUNT(*) AS n, SUM(cost) AS s, AVG(cost) AS a FROM impressions",
     ("n", "s")),
    ("ungrouped_people",
     "SELECT COUNT(DISTINCT i.user_key) AS people, COUNT(*) AS n FROM impressions i "
     "JOIN conversions c ON i.user_key = c.user_key", ("n",)),
    ("heavy_buyers_only",
     "SELECT channel, COUNT(*) AS n FROM impressions WHERE user_key IN (SELECT user_key FROM "
     "conversions GROUP BY user_key HAVING COUNT(*) > 3) GROUP BY channel", ("n",)),
    ("key_over_two_columns",
     "SELECT channel || '/' || campaign AS k, SUM(cost) AS s FROM impressions GROUP BY 1",
     ("s",)),
    ("the_persons_own_campaign",
     "SELECT campaign, COUNT(*) AS n, SUM(cost) AS s FROM impressions WHERE campaign = 'solo' "
     "GROUP BY campaign", ("n", "s")),
    ("left_join_nulls",
     "SELECT i.channel, COUNT(*) AS n FROM impressions i LEFT JOIN conversions c "
     "ON i.user_key = c.user_key AND c.revenue > 500 GROUP BY i.channel", ("n",)),
    ("full_join",
     "SELECT c.ts IS NULL AS unmatched, COUNT(*) AS n FROM conversions c FULL JOIN impressions i "
     "ON i.user_key = c.user_key GROUP BY 1", ("n",)),
    ("reach_frequency_analytic",
     "WITH per_user AS (SELECT user_key, channel AS dim_value, LEAST(COUNT(*), 10) AS frequency "
     "FROM impressions GROUP BY user_key, channel) SELECT dim_value, frequency, COUNT(*) AS "
     "people FROM per_user GROUP BY dim_value, frequency", ()),
]


@pytest.mark.parametrize(("sql", "threatened"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_person_moves_each_column_by_at_most_its_sensitivity(
        worlds: dict[bool, list[TableSpec]], sql: str, threatened: tuple[str, ...]) -> None:
    step = _planned(sql)
    base, heavy = (_run(worlds[w], step.query.sql) for w in (False, True))
    moved, allowed = _moves(step, base, heavy), _sensitivities(step)
    assert any(moved.values())  # H is in the answer
    for name, limit in allowed.items():
        assert moved.get(name, 0) <= limit * (1 + 1e-9), (name, moved, allowed)
    # The threat was real: the plain SQL moves these columns by more than the noise covers.
    names = [c.name for c in step.query.columns]
    raw = _raw_moves(worlds, sql, step.query.key_count)
    for name in threatened:
        column = names.index(name) - step.query.key_count
        assert raw[column] > allowed[name], (name, raw, allowed)


def test_the_sensitivity_check_fails_on_totals_that_are_not_bounded(
        worlds: dict[bool, list[TableSpec]]) -> None:
    """The check above can fail: the self-join's totals without the bounds (every person
    routed around the ranking, as if all were within them) move past the plan."""
    step = _planned(CASES[1][1])
    unbounded = step.query.sql.replace("HAVING COUNT(*) > 8 OR MAX(__cr_n) > 10",
                                       "HAVING FALSE")
    assert unbounded != step.query.sql
    base, heavy = (_run(worlds[w], unbounded) for w in (False, True))
    moved, allowed = _moves(step, base, heavy), _sensitivities(step)
    assert moved["n"] > allowed["n"] and moved["s"] > allowed["s"]


# -- distinguishers on the noisy release --------------------------------------------------------
RUNS = 300
EPS = 1.0
BOUND = math.exp(EPS) / (1 + math.exp(EPS))
TOLERANCE = 3 * math.sqrt(BOUND * (1 - BOUND) / RUNS)


def _success(step: NoisedStep, worlds_rows: dict[bool, list[tuple[Any, ...]]],
             score: Any, seed: int) -> float:
    """The optimal-threshold attacker on ``score`` (a number read from one release): half the
    runs with H, half without, the threshold that separates them best (the attacker's best
    guess, chosen after the fact: an upper bound on any fixed threshold's success)."""
    rng = make_rng(seed)
    rules = _required().query_rules
    scores: dict[bool, list[float]] = {False: [], True: []}
    for world in (False, True):
        for _ in range(RUNS // 2):
            release = release_dp(iter(worlds_rows[world]), step.query.columns, step.noise,
                                 min_users=rules.min_users_per_row,
                                 max_groups_per_user=rules.max_groups_per_user, rng=rng)
            scores[world].append(score(release))
    values = sorted(set(scores[False]) | set(scores[True]))
    best = 0.0
    for cut in values:
        right = (sum(s < cut for s in scores[False]) + sum(s >= cut for s in scores[True]))
        best = max(best, right / RUNS, 1 - right / RUNS)
    return best


def _cell(channel: str, column: int) -> Any:
    def read(release: Any) -> float:
        return next((row[column] for row in release.rows if row[0] == channel), 0.0)
    return read


def test_the_fan_out_join_is_no_better_than_the_bound(worlds: dict[bool, list[TableSpec]]) -> None:
    """The self-join's COUNT(*) of ch0, which H fills with 200 x 420 rows: the optimal
    threshold on the noisy cell stays at the e^eps bound; on the unbounded totals (the same
    noise, H's rows not cut) it wins every run."""
    step = _planned(CASES[1][1], EPS, _required())
    bounded = {w: _run(worlds[w], step.query.sql) for w in (False, True)}
    assert _success(step, bounded, _cell("ch0", 1), seed=31) < BOUND + TOLERANCE
    unbounded_sql = step.query.sql.replace("HAVING COUNT(*) > 2 OR MAX(__cr_n) > 10",
                                           "HAVING FALSE")
    unbounded = {w: _run(worlds[w], unbounded_sql) for w in (False, True)}
    assert _success(step, unbounded, _cell("ch0", 1), seed=32) > 0.99


def test_groups_only_the_person_holds_are_not_released(
        worlds: dict[bool, list[TableSpec]]) -> None:
    """H alone holds the campaign 'solo' and every hour after BASE's last: a released row for
    either would tell H is there. With G = 2 both are among H's candidate groups on every
    run; over 300 releases with H neither shows (a one-person group appears with probability
    below delta / G), while the groups of many people show every time."""
    for sql, own in (("SELECT campaign, COUNT(*) AS n, SUM(cost) AS s FROM impressions "
                      "GROUP BY campaign", "solo"),
                     ("SELECT ts > TIMESTAMP '2026-09-06 19:00:00' AS late, COUNT(DISTINCT "
                      "user_key) AS people FROM impressions GROUP BY 1", True)):
        step = _planned(sql, EPS, _required())
        rows = _run(worlds[True], step.query.sql)
        assert [r[1] for r in rows if r[0] == own] == [1]  # a candidate of H alone
        rng, rules = make_rng(33), _required().query_rules
        shown = others = 0
        for _ in range(RUNS):
            release = release_dp(iter(rows), step.query.columns, step.noise,
                                 min_users=rules.min_users_per_row,
                                 max_groups_per_user=rules.max_groups_per_user, rng=rng)
            shown += any(r[0] == own for r in release.rows)
            others += len(release.rows)
        assert shown == 0
        assert others == RUNS * (len(rows) - 1)


# -- non-noisy fields, through the service --------------------------------------------------------
def _harness(root: Path, heavy: bool, **settings: Any) -> Harness:
    policy = load_policies(REQUIRED)["acme-streamco"]
    files = _write(root / "files", heavy, policy, fmt="csv")
    harness = make_client(root / "data", policies=REQUIRED, **settings)
    for name, party in (("impressions", "streamco"), ("conversions", "acme")):
        response = harness.upload(name, files[name].read_bytes(), party=party)
        assert response.status_code == 201, response.text
    return harness


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, Harness]]:
    root = tmp_path_factory.mktemp("served")
    harnesses = {heavy: _harness(root / str(heavy), heavy, dp_seed=7) for heavy in (False, True)}
    yield harnesses


NOISY = {"rows", "confidence_intervals", "row_status", "query_id", "epsilon_remaining"}
FIELD_CASES = [
    ("queries", {"sql": "SELECT channel, COUNT(*) AS n, SUM(cost) AS s, AVG(cost) AS a "
                        "FROM impressions GROUP BY channel ORDER BY n DESC LIMIT 2",
                 "epsilon": 0.2}),
    ("queries", {"sql": "SELECT campaign, COUNT(DISTINCT user_key) AS people FROM impressions "
                        "GROUP BY campaign", "epsilon": 0.2}),
    ("queries", {"sql": "SELECT i.channel, COUNT(*) AS n FROM impressions i JOIN impressions j "
                        "ON i.user_key = j.user_key GROUP BY i.channel", "epsilon": 0.2}),
    ("attribution", {"model": "linear", "touchpoints": "impressions", "conversions":
                     "conversions", "dimension": "channel", "lookback_days": 30,
                     "epsilon": 0.2}),
    ("analytics/reach-frequency", {"dataset": "impressions", "dimension": "channel",
                                   "epsilon": 0.2}),
]


@pytest.mark.parametrize(("route", "body"), FIELD_CASES,
                         ids=["grouped", "people", "fan_out", "attribution", "reach"])
def test_every_field_but_the_noisy_ones_is_the_same_with_and_without_the_person(
        served: dict[bool, Harness], route: str, body: dict[str, Any]) -> None:
    """Status, columns, suppressed_rows (null), withheld cells, the noise plan, truncated,
    epsilon spent, the model's bound: read once per neighbour, equal. (The rows, their
    intervals and row_status, one per row, are the noisy release.)"""
    answers = {}
    for heavy, harness in served.items():
        response = harness.client.post(f"/v1/collaborations/{COLLAB}/{route}", json=body,
                                       headers=harness.auth("acme"))
        assert response.status_code == 200, response.text
        answers[heavy] = response.json()
    assert answers[False]["suppressed_rows"] is None
    assert set(answers[True]["row_status"]) <= {"noised"}
    fixed = [{k: v for k, v in a.items() if k not in NOISY} for a in answers.values()]
    assert fixed[0] == fixed[1]


REFUSED = [
    "SELECT channel, MAX(cost) AS m FROM impressions GROUP BY channel",
    "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel HAVING COUNT(*) > 3",
    "SELECT channel, SUM(cost) AS s FROM impressions WHERE user_key IN (SELECT user_key FROM "
    "conversions ORDER BY revenue DESC LIMIT 1) GROUP BY channel",
    "SELECT channel, COUNT(*) AS n FROM impressions i, range(1000) GROUP BY channel",
    "SELECT channel, SUM(CASE WHEN COUNT(*) OVER (PARTITION BY channel) > 300 THEN 100 ELSE 0 "
    "END) AS s FROM impressions GROUP BY channel",
    "WITH t AS (SELECT user_key, channel, ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM "
    "impressions) SELECT channel, COUNT(*) AS n FROM t WHERE rn <= 100 GROUP BY channel",
    "WITH t AS (SELECT user_key, channel FROM impressions ORDER BY ts LIMIT 200) "
    "SELECT channel, COUNT(*) AS n FROM t GROUP BY channel",
    "SELECT channel, median(cost) AS m FROM impressions GROUP BY channel",
    "SELECT channel, quantile_disc(cost, 0.9) AS m FROM impressions GROUP BY channel",
    "SELECT channel, stddev(cost) AS m FROM impressions GROUP BY channel",
    "SELECT channel, SUM(cost) / COUNT(*) AS m FROM impressions GROUP BY channel",
    "SELECT channel, COUNT(*) FILTER (WHERE cost > 99) AS n FROM impressions GROUP BY channel",
    "SELECT channel, COUNT(cost) + 1 AS n FROM impressions GROUP BY channel",
]


def test_refusals_are_the_same_and_spend_nothing(served: dict[bool, Harness]) -> None:
    """Refused before anything runs: the same error body on both neighbours, and nothing
    charged (nor by a check of an accepted query)."""
    bodies: dict[bool, list[Any]] = {False: [], True: []}
    for heavy, harness in served.items():
        before = _spent(harness)
        for sql in REFUSED:
            response = harness.query(sql, epsilon=0.5)
            assert response.status_code == 422, response.text
            bodies[heavy].append(response.json())
        check = harness.client.post(f"/v1/collaborations/{COLLAB}/queries/check",
                                    json={"sql": CASES[1][1], "epsilon": 1.0},
                                    headers=harness.auth("acme"))
        assert check.json()["decision"] == "accepted"
        assert _spent(harness) == before
    assert bodies[False] == bodies[True]


def _spent(harness: Harness) -> float:
    budget = harness.client.get(f"/v1/collaborations/{COLLAB}/budget",
                                headers=harness.auth("acme")).json()
    assert budget["epsilon_remaining"] >= 0
    return float(budget["epsilon_spent"])


def test_audit_entries_of_a_private_answer_carry_nothing_exact(served: dict[bool, Harness]
                                                               ) -> None:
    """A provider reads the entries of the queries that read its data: under DP they carry
    the noisy row count, never a suppressed count."""
    harness = served[True]
    sql = "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel"
    response = harness.query(sql, epsilon=0.1)
    assert response.status_code == 200
    entries = harness.client.get(f"/v1/collaborations/{COLLAB}/audit?limit=200",
                                 headers=harness.auth("streamco")).json()["entries"]
    mine = [e for e in entries if e["query_id"] == response.json()["query_id"]]
    assert len(mine) == 1
    detail = mine[0]["detail"]
    assert detail["suppressed_rows"] is None
    assert detail["rows"] == len(response.json()["rows"])


# -- failures after execution -----------------------------------------------------------------
@pytest.mark.xfail(strict=True, reason=(
    "leak: a private query that fails on the time limit fails because of the data it read, "
    "and one person's rows can decide it: a self-join on user_key (which attribution needs) "
    "fans one person's n rows out to n^3 before the bounds cut them, so the query with a "
    "person of 3,000 impressions ends query_failed and without them answers 200. Charging "
    "the epsilon first makes the failure cost epsilon, not epsilon-DP (a certain "
    "distinguisher). The same holds for the memory limit and in exact mode (docs/gate.md, "
    "existence oracles through the time limit). Closing it needs work bounded per person "
    "before a join, which changes what the bounded SQL means: not done"))
def test_the_time_limit_does_not_tell_one_persons_rows(tmp_path: Path) -> None:
    from cleanroom.engine import Limits as EngineLimits

    policy = load_policies(REQUIRED)["acme-streamco"]
    sql = ("SELECT i.channel, COUNT(*) AS n FROM impressions i JOIN impressions j "
           "ON i.user_key = j.user_key JOIN impressions k ON k.user_key = i.user_key "
           "GROUP BY i.channel")
    codes = {}
    for heavy in (False, True):
        root = tmp_path / str(heavy)
        files = _write(root / "files", False, policy, fmt="csv")
        if heavy:  # one more person: 3,000 impressions in ch0
            con = duckdb.connect()
            con.create_function("uk", lambda i: user_key(int(i)), ["BIGINT"], "VARCHAR")
            con.execute(f"COPY (SELECT * FROM read_csv('{files['impressions']}') UNION ALL "
                        f"SELECT uk({HEAVY}), TIMESTAMP '2026-09-01' + to_seconds(i), 'ch0', "
                        f"'camp0', 1.0, 'ip' FROM range(3000) a(i)) TO '{root / 'imp.csv'}' "
                        "(HEADER, DELIMITER ',')")
            files["impressions"] = root / "imp.csv"
        harness = make_client(root / "data", policies=REQUIRED, dp_seed=3,
                              limits=EngineLimits(timeout_s=2.0))
        for name, party in (("impressions", "streamco"), ("conversions", "acme")):
            assert harness.upload(name, files[name].read_bytes(), party=party).status_code == 201
        codes[heavy] = harness.query(sql, epsilon=0.5).status_code
    assert codes[False] == 200
    assert codes[True] == codes[False]


# -- budget ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("epsilon", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1e-400",
                                     b"-0.0", b"0.0009", b"1.0000001"])
def test_bad_epsilons_are_refused_on_every_route_and_spend_nothing(
        served: dict[bool, Harness], epsilon: bytes) -> None:
    harness = served[False]
    before = _spent(harness)
    bodies = {
        "queries": b'{"sql": "SELECT COUNT(*) AS n FROM conversions", "epsilon": %s}',
        "attribution": b'{"model": "last_touch", "touchpoints": "impressions", "conversions": '
                       b'"conversions", "dimension": "channel", "lookback_days": 30, '
                       b'"epsilon": %s}',
        "analytics/overlap": b'{"a": "impressions", "b": "conversions", "epsilon": %s}'}
    for route, body in bodies.items():
        response = harness.client.post(f"/v1/collaborations/{COLLAB}/{route}",
                                       content=body % epsilon,
                                       headers={**harness.auth("acme"),
                                                "Content-Type": "application/json"})
        assert response.status_code == 422, (route, response.text)
    assert _spent(harness) == before


def test_required_mode_noises_and_charges_every_route_once(tmp_path: Path) -> None:
    """The same door: without an epsilon, required mode runs queries, attribution and
    analytics at max_epsilon_per_query (1.0), each charged once however many steps it has
    (overlap: three); Markov, which has no per-person bound, is refused without a charge."""
    harness = _harness(tmp_path, heavy=False, dp_seed=9)
    asks = [("queries", {"sql": "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY 1"}),
            ("attribution", {"model": "first_touch", "touchpoints": "impressions",
                             "conversions": "conversions", "dimension": "channel",
                             "lookback_days": 30}),
            ("analytics/overlap", {"a": "impressions", "b": "conversions"})]
    for i, (route, body) in enumerate(asks, start=1):
        response = harness.client.post(f"/v1/collaborations/{COLLAB}/{route}", json=body,
                                       headers=harness.auth("acme"))
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["epsilon_spent"] == 1.0 and set(answer["row_status"]) <= {"noised"}
        assert answer["suppressed_rows"] is None
        assert _spent(harness) == pytest.approx(float(i))
    markov = harness.client.post(f"/v1/collaborations/{COLLAB}/attribution", json={
        **asks[1][1], "model": "markov"}, headers=harness.auth("acme"))
    assert markov.status_code == 422
    assert _spent(harness) == pytest.approx(3.0)
    assert harness.query("SELECT COUNT(*) AS n FROM impressions").status_code == 429


def test_concurrent_requests_over_three_routes_never_overspend(tmp_path: Path) -> None:
    """24 requests of 0.25 over queries, attribution and analytics at once against a budget
    of 3.0: exactly 12 answered, the rest 429, and the ledger at 3.0, never past it."""
    harness = _harness(tmp_path, heavy=False, dp_seed=11)
    bodies = [("queries", {"sql": "SELECT COUNT(*) AS n FROM conversions", "epsilon": 0.25}),
              ("attribution", {"model": "linear", "touchpoints": "impressions", "conversions":
                               "conversions", "dimension": "channel", "lookback_days": 30,
                               "epsilon": 0.25}),
              ("analytics/overlap", {"a": "impressions", "b": "conversions", "epsilon": 0.25})]

    def ask(i: int) -> int:
        route, body = bodies[i % 3]
        return int(harness.client.post(f"/v1/collaborations/{COLLAB}/{route}", json=body,
                                       headers=harness.auth("acme")).status_code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(ask, range(24)))
    assert codes.count(200) == 12 and codes.count(429) == 12, codes
    assert _spent(harness) == pytest.approx(3.0)


def test_a_count_of_a_column_counts_its_values_not_the_rows() -> None:
    """``COUNT(x)`` counts the rows whose x is not NULL; the DP rewrite released it as
    ``COUNT(*)`` (a third of the rows more here, its interval about a number the SQL does not
    mean). Not a leak, a wrong answer: it is now planned as ``SUM(CASE WHEN x IS NULL THEN 0
    ELSE 1 END)``, whose bounded total is the SQL's count."""
    con = duckdb.connect()
    con.execute("CREATE TABLE impressions AS SELECT 'u' || p AS user_key, TIMESTAMP '2026-09-01' "
                "AS ts, 'ch' || (p % 2) AS channel, CASE WHEN p % 3 = 0 THEN NULL ELSE 'c' END "
                "AS campaign, 1.0 AS cost FROM range(300) t(p)")
    with_person_counts(con, "impressions")
    sql = "SELECT channel, COUNT(campaign) AS n, COUNT(*) AS m FROM impressions GROUP BY channel"
    step = _planned(sql)
    assert [c.function for c in step.query.columns] == ["group_key", "sum", "count"]
    explicit = _planned(sql.replace("COUNT(campaign)",
                                    "SUM(CASE WHEN campaign IS NULL THEN 0 ELSE 1 END)"))
    assert step.query.sql == explicit.query.sql
    quantum = fixed_point_quantum(0.0, 1.0)
    got = {r[0]: (r[2] * quantum, r[4]) for r in con.execute(step.query.sql).fetchall()}
    want = {r[0]: (r[1], r[2]) for r in con.execute(sql).fetchall()}
    assert got == want and all(n < m for n, m in want.values())
    # named as the analyst wrote it, also without an alias
    bare = _planned("SELECT channel, COUNT(campaign) FROM impressions GROUP BY channel")
    assert [c.name for c in bare.query.columns] == ["channel", "COUNT(campaign)"]


# -- attribution: the same neighbours through the model's own bound --------------------------------
@pytest.mark.parametrize("model", sorted(DP_MODELS))
@pytest.mark.parametrize("lookback", [0.1, 30.0])
def test_attribution_moves_by_one_credit_and_one_revenue(
        worlds: dict[bool, list[TableSpec]], model: str, lookback: float) -> None:
    """H has 30 conversions (at and past the revenue bound) and 420 touches. With a lookback
    of 0.1 days H's window holds 3 channels and is admitted: H moves the conversions column
    by exactly one credit, the revenue column by one clamped revenue (1000), and the people
    of the groups credited (1 for first and last touch, else 3) by one each; with 30 days
    H's window holds 41 channels, more than G, and H is not admitted: nothing moves. Each
    within what the plan noises."""
    policy = _policy()
    plan = plan_attribution(policy, AttributionRequest(model, "impressions", "conversions",
                                                       "channel", lookback), 1.0)
    (step,) = plan.steps
    assert isinstance(step, NoisedStep)
    answers = []
    for heavy in (False, True):
        with DuckDBEngine().session(worlds[heavy], Limits()) as session:
            answers.append(session.stream(step.query.sql, list, params=step.params))
    moved, allowed = _moves(step, *answers), _sensitivities(step)
    assert moved["people"] <= 1 and moved["people_groups"] <= policy.query_rules.max_groups_per_user
    assert allowed == {"people": 1, "people_groups": 8, "conversions": 1.0, "revenue": 1000.0}
    for name in ("conversions", "revenue"):
        assert moved[name] <= allowed[name] * (1 + 1e-9), (name, moved)
    if lookback < 1:
        credited = 1 if model in ("first_touch", "last_touch") else 3
        assert moved["people_groups"] == credited
        assert moved["revenue"] == pytest.approx(1000.0)
    else:
        assert moved["people_groups"] == 0 and moved["revenue"] < 1e-6


# -- metadata -------------------------------------------------------------------------------------
@pytest.mark.xfail(strict=True, reason=(
    "leak: GET /v1/collaborations/{c} gives every party each dataset's exact row count, in "
    "required mode too: the analyst reads streamco's impressions at 600 rows without H and "
    "1,020 with them (and, from one version to the next, exactly how many rows an upload "
    "added). CONTRACT.md section 4 lists the field, so closing it (null, or a noisy count, "
    "when differential privacy is required) is a contract decision: not done"))
def test_the_collaboration_route_does_not_count_one_persons_rows(
        served: dict[bool, Harness]) -> None:
    rows = {}
    for heavy, harness in served.items():
        body = harness.client.get(f"/v1/collaborations/{COLLAB}",
                                  headers=harness.auth("acme")).json()
        rows[heavy] = body["datasets"]["impressions"]["rows"]
    assert rows[False] == rows[True]


# -- the noise's own floating point ---------------------------------------------------------------
def _diffprivlib_can_draw(scale: float, noise: int) -> bool:
    """Whether diffprivlib's ``Geometric`` (ratio exp(scale), scale < 0) can add ``noise``: it
    draws ``u = (k * 2**-53 - 0.5) * (1 + e^scale)`` and adds ``sign(u) * floor(log|u| /
    scale)``; the |u| that give |noise| lie near one value, so a few k decide it."""
    if noise == 0:
        return True
    mult = 1 + np.exp(scale)
    near = math.exp(abs(noise) * scale) / (float(mult) * 2.0**-53)
    if near > 2**51:
        return True
    for d in range(max(1, int(near) - 3), int(near) + 4):
        k = 2**52 - d if noise < 0 else 2**52 + d
        if np.floor(np.log(abs((k * 2.0**-53 - 0.5) * mult)) / scale) == abs(noise):
            return True
    return False


def _support_attack(draw: Any, scale: float, runs: int = 2000) -> tuple[float, float]:
    """Neighbouring sums of quanta v = 0 and v = 1: the attacker knows which integers the
    sampler can add and guesses the v whose offset it can draw (at random when both or
    neither). Its success, and how often it was certain."""
    rng = np.random.RandomState(41)
    wins = certain = 0
    for world in (0, 1):
        for _ in range(runs // 2):
            seen = draw(world)
            fits = [_diffprivlib_can_draw(scale, seen - v) for v in (0, 1)]
            guess = fits.index(True) if fits.count(True) == 1 else int(rng.randint(0, 2))
            wins += guess == world
            certain += fits.count(True) == 1
    return wins / runs, certain / runs


def test_the_sum_noise_takes_every_integer_of_its_tail() -> None:
    """A fixed-point sum's sensitivity is G x R x 2**20 quanta. diffprivlib's Geometric
    inverts one 53-bit uniform, so where the uniform is below 2**-53 x sensitivity / epsilon it
    skips integers, the same ones whatever the truth: at the policy's limits (G = R = 1000,
    epsilon 0.001 on one SUM) that is 17% of its draws, and an attacker who knows them told
    neighbouring sums apart for certain there (success 0.59, where DP allows 0.5000). The
    service now draws such noise exactly (``privacy/sampling.py``): the same attack is a
    coin toss."""
    from diffprivlib.mechanisms import Geometric

    from cleanroom.privacy.mechanisms import AggregateSpec, plan_noise
    from cleanroom.privacy.sampling import geometric

    spec = plan_noise([AggregateSpec("s", "sum", 0.0, 1.0, rows=1000, fixed_point=True)],
                      epsilon=1e-3, max_groups_per_user=1000).entries[0].spec
    quanta = round(spec.sensitivity / fixed_point_quantum(0.0, 1.0))
    assert quanta == 1000 * 1000 * 2**20
    old = Geometric(epsilon=spec.epsilon, sensitivity=quanta, random_state=make_rng(42))
    success, certain = _support_attack(old.randomise, -spec.epsilon / quanta)
    assert success > 0.55 and certain > 0.1  # the leak, as it was
    rng = make_rng(43)
    success, _ = _support_attack(lambda v: geometric(rng, v, spec.epsilon, quanta),
                                 -spec.epsilon / quanta)
    assert success < 0.5 + 3 * math.sqrt(0.25 / 2000)
