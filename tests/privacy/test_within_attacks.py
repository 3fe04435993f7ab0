"""Attacks on the DP fast path that skips the ranking for the people whom their stored counts
put within the bounds (``dp_sql._within``, docs/privacy.md "People within the bounds skip the
ranking"): keys that try to put a person in more groups or rows than their counts say, an
error that depends on one person's data, and tampered forms the verifier must refuse."""

from __future__ import annotations

import math

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cleanroom.errors import QueryRejected
from cleanroom.planners.base import NoisedStep
from cleanroom.planners.sql import plan_private_query
from cleanroom.planners.verify import verify_noised
from cleanroom.policy import Column, Dataset, Kind, Policy, load_policies
from cleanroom.privacy.mechanisms import avg_noise
from tests.conftest import POLICIES, with_person_counts

WIDE = tuple(f"d{i}" for i in range(6))


def _policy(groups: int = 8, rows: int = 10) -> Policy:
    """The test policy, its bounds set, and a dataset ``wide`` of six VARCHAR dimensions."""
    base = load_policies(POLICIES)["acme-streamco"]
    wide = Dataset(provider="streamco", columns={
        "user_key": Column(kind=Kind.USER_KEY),
        **{d: Column(kind=Kind.DIMENSION, type="VARCHAR") for d in WIDE},
        "cost": Column(kind=Kind.METRIC, type="DOUBLE", bounds=(0.0, 100.0))})
    return base.model_copy(update={
        "datasets": {**base.datasets, "wide": wide},
        "query_rules": base.query_rules.model_copy(update={
            "max_groups_per_user": groups, "max_rows_per_user_group": rows})})


def _step(sql: str, policy: Policy | None = None) -> NoisedStep:
    private = plan_private_query(policy or _policy(), sql, 1.0)
    return NoisedStep(private.query, private.plan, 1.0, tables=private.tables)


# -- an error that depends on one person's data --------------------------------------------------
def test_a_key_over_many_columns_fails_on_nobodys_data() -> None:
    """``__cr_safe`` for a key over several counted columns multiplies the person's distinct
    values of each. As BIGINTs, one person with 1,500 distinct values in each of six columns
    (1500**6 > 2**63) made the whole query fail with an overflow, and succeed without them:
    an error oracle on one person's rows."""
    sql = f"SELECT {', '.join(WIDE)}, SUM(cost) AS s FROM wide GROUP BY {', '.join(WIDE)}"
    planned = _step(sql).query.sql
    assert "__cr_within" in planned
    everyone = " ".join(f"'a' AS {d}," for d in WIDE)
    unusual = " ".join(f"'v' || i AS {d}," for d in WIDE)
    for with_them in (False, True):
        con = duckdb.connect()
        con.execute(f"CREATE TABLE wide AS SELECT 'p' || i AS user_key, {everyone} 1.0 AS cost "
                    f"FROM range(60) r(i)" + (f" UNION ALL SELECT 'bad' AS user_key, {unusual} "
                                              "1.0 AS cost FROM range(1500) r(i)"
                                              if with_them else ""))
        with_person_counts(con, "wide", WIDE)
        rows = con.execute(planned).fetchall()  # raised OutOfRangeException with them
        # their 1500 groups of one row each are cut to G = 8
        assert sum(r[len(WIDE) + 2] for r in rows) == 60 + (8 if with_them else 0)


# -- the fast path gives what the ranking gives, on awkward keys ----------------------------------
DATA = """
    SELECT 'u' || p AS user_key, TIMESTAMP '2026-09-01' + to_hours(r) AS ts,
           CASE WHEN c = 0 THEN NULL ELSE 'ch' || c END AS channel,
           CASE WHEN r % 2 = 0 THEN NULL ELSE 'camp' || (p % 3) END AS campaign,
           CASE WHEN p = 7 AND r = 0 THEN 'nan'::DOUBLE WHEN p = 8 AND r = 0 THEN 'inf'::DOUBLE
                ELSE (p * 7 + c * 13 + r) % 150 * 1.0 END AS cost
    FROM range(120) t(p), range(4) s(c), range(12) q(r)
    WHERE c <= p % 4 AND r <= p % 12"""


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute(f"CREATE TABLE impressions AS {DATA}")
    with_person_counts(db, "impressions")
    return db


def _answer(con: duckdb.DuckDBPyConnection, sql: str, *, ranked: bool) -> dict[tuple, tuple]:
    planned = _step(sql, _policy(groups=64, rows=4)).query.sql
    assert "__cr_within" in planned
    tree = sqlglot.parse_one(planned, read="duckdb")
    if ranked:  # everyone through the ranking
        rows = next(c.this for c in tree.args["with_"].expressions if c.alias == "__cr_rows")
        next(p for p in rows.expressions if p.alias == "__cr_safe").set("this", exp.false())
    keys = sum(1 for p in tree.expressions if p.alias_or_name.startswith("__cr_k"))
    return {tuple(r[:keys]): tuple(r[keys:]) for r in con.execute(
        tree.sql(dialect="duckdb")).fetchall()}


@pytest.mark.parametrize("sql", [
    "SELECT channel, SUM(cost) AS s, COUNT(*) AS n FROM impressions GROUP BY ALL",
    "SELECT campaign, AVG(cost) AS a FROM impressions GROUP BY campaign",
    "SELECT CAST(channel IS NULL AS INTEGER) AS k, SUM(cost) AS s FROM impressions GROUP BY 1",
    "SELECT 'x' AS k, channel, COUNT(*) AS n FROM impressions GROUP BY 1, 2",
    "SELECT NULL AS k, COUNT(*) AS n FROM impressions GROUP BY 1",
    "SELECT channel || CAST(ts AS VARCHAR) AS k, COUNT(*) AS n FROM impressions GROUP BY 1",
    "SELECT channel, date_trunc('hour', ts) AS h, SUM(cost) AS s FROM impressions GROUP BY 1, 2",
    "SELECT coalesce(channel, campaign) AS k, SUM(cost) AS s FROM impressions GROUP BY 1",
    "SELECT CHANNEL, SUM(COST) AS s FROM IMPRESSIONS GROUP BY CHANNEL",
    "SELECT channel, SUM(cost) AS s FROM impressions AS conversions GROUP BY channel",
    "SELECT channel, SUM(cost) AS s FROM impressions WHERE campaign IS NOT NULL "
    "GROUP BY channel"],
    ids=["group_by_all", "null_key_avg", "cast_key", "literal_and_column", "null_literal",
         "key_with_timestamp", "column_and_timestamp", "two_columns_in_one_key", "upper_case",
         "aliased_as_other_dataset", "filtered"])
def test_awkward_keys_sum_as_the_ranking_would(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Nobody here is over G = 64 groups (the ranking's only random cut), and R = 4 cuts
    rows of some (by a hash, the same in both runs): the people (capped), rows, sums and
    counts of values (NULL, NaN and infinite ones clamped) are those of everyone ranked."""
    direct, ranked = _answer(con, sql, ranked=False), _answer(con, sql, ranked=True)
    assert direct == ranked and direct


# -- tampered forms the verifier must refuse -----------------------------------------------------
SQL = "SELECT channel, SUM(cost) AS spend, AVG(cost) AS mean FROM impressions GROUP BY channel"
TAMPERS = {
    # each row's quanta: a wrong scale, centre or an extra factor lets one row count for more
    "scale_tenfold": ("* 10485.76 AS INT", "* 104857.6 AS INT"),
    "sum_centred": ("END - 0.0) * 10485.76", "END - -100.0) * 10485.76"),
    "avg_centre_moved": ("END - 50.0)", "END - 0.0)"),
    "extra_factor": ("* 10485.76 AS INT) AS __cr_v1", "* 10485.76 AS BIGINT) * 1000 AS __cr_v1"),
    # the rows of another dataset than the one the gate checked
    "other_dataset": ('FROM "__cr_t_impressions"', 'FROM "__cr_t_conversions"'),
    # rows repeated before they are summed: the stored counts no longer bound them
    "rows_unnested": ("AS __cr_safe FROM", "AS __cr_safe, UNNEST(range(100)) AS __cr_dup FROM"),
    "rows_generated": ("AS __cr_safe FROM",
                       "AS __cr_safe, generate_subscripts(range(100), 1) AS __cr_dup FROM"),
    "key_unnested": ("channel AS __cr_k0", "UNNEST([channel, channel]) AS __cr_k0"),
    # the person: a constant or another column merges or splits people (__cr_few counts them)
    "uid_constant": ('SELECT "impressions"."user_key" AS __cr_uid', "SELECT 1 AS __cr_uid"),
    "uid_other_column": ('SELECT "impressions"."user_key" AS __cr_uid',
                         'SELECT "impressions"."campaign" AS __cr_uid'),
    "rows_distinct": ("SELECT \"impressions\".\"user_key\" AS __cr_uid",
                      "SELECT DISTINCT \"impressions\".\"user_key\" AS __cr_uid"),
}


@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_tampered_form_is_refused(tamper: str) -> None:
    step = _step(SQL)
    keys = {name: d.user_key for name, d in _policy().datasets.items()}
    verify_noised(step, user_keys=keys)
    planned, wrong = TAMPERS[tamper]
    assert step.query.sql.count(planned) == 1, planned
    bad = NoisedStep(step.query.__class__(**{**step.query.__dict__,
                                            "sql": step.query.sql.replace(planned, wrong)}),
                     step.noise, 1.0, tables=step.tables)
    with pytest.raises(QueryRejected) as caught:
        verify_noised(bad, user_keys=keys)
    assert {v.rule for v in caught.value.violations} == {"dp_unsupported"}


# -- bounds too small for the fixed-point grid -------------------------------------------------
@pytest.mark.parametrize("factor", ["1e-310", "1e-320"])
def test_a_range_too_small_for_the_grid_is_refused_before_it_runs(factor: str) -> None:
    """A quantum below the smallest normal double: its reciprocal was written as ``* inf``
    (a binder error at run time, after the budget was charged), or the noise plan divided by
    a quantum of 0 (an internal error)."""
    with pytest.raises(QueryRejected) as caught:
        plan_private_query(_policy(), f"SELECT channel, SUM(cost * {factor}) AS s "
                           "FROM impressions GROUP BY channel", 1.0)
    assert {v.rule for v in caught.value.violations} == {"dp_unsupported"}


def test_an_average_of_a_huge_range_is_refused_not_an_internal_error() -> None:
    with pytest.raises(QueryRejected):
        plan_private_query(_policy(), "SELECT channel, AVG(cost * 1e300) AS a "
                           "FROM impressions GROUP BY channel", 1.0)


def test_an_average_of_a_wide_range_has_finite_noise_advice() -> None:
    """exp(-epsilon / sensitivity) rounds to 1 for a range of 1e23: the advice's Laplace scales
    are written as sensitivity / epsilon, finite and proportional to the range."""
    plan = plan_private_query(_policy(), "SELECT channel, AVG(cost * 1e20) AS a "
                              "FROM impressions GROUP BY channel", 1.0)
    spec = next(e.spec for e in plan.plan.entries if e.spec.kind == "avg")
    noise = avg_noise(spec)
    assert math.isclose(noise.sum_scale, noise.count_scale * noise.half_range)
    assert math.isfinite(noise.sum_scale) and noise.sum_scale > 1e20


def test_the_capped_people_count_is_min_people_cap_at_its_edges() -> None:
    """Groups around the cap (``people_cap``) whose people within the bounds have R rows each,
    fewer, or one; and people over R in one of them (ranked): each group's people count is
    min(its people, cap) as with everyone ranked, whether or not ``__cr_few`` counts it."""
    sql = "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel"
    planned = _step(sql, _policy(groups=8, rows=2)).query.sql
    cap = int(planned.rsplit("LEAST(SUM(__cr_p), ", 1)[1].split(")")[0])
    groups = {  # channel: (people, rows each), plus one person of one row
        "over": (cap + 5, 2), "at": (cap, 2), "below": (cap - 1, 2), "single": (2 * cap - 1, 1)}
    parts = [f"SELECT '{ch}-' || p AS user_key, '{ch}' AS channel FROM range({n}) a(p), "
             f"range({r}) b(r)" for ch, (n, r) in groups.items()]
    parts += ["SELECT 'below-extra' AS user_key, 'below' AS channel",
              "SELECT 'heavy-' || p AS user_key, 'over' AS channel FROM range(3) a(p), range(5)"]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE impressions AS SELECT user_key, channel, 'c' AS campaign, "
                f"TIMESTAMP '2026-09-01' AS ts, 1.0 AS cost FROM ({' UNION ALL '.join(parts)})")
    with_person_counts(con, "impressions")
    tree = sqlglot.parse_one(planned, read="duckdb")
    direct = dict(con.execute(f"SELECT __cr_k0, __cr_people FROM ({planned})").fetchall())
    rows = next(c.this for c in tree.args["with_"].expressions if c.alias == "__cr_rows")
    next(p for p in rows.expressions if p.alias == "__cr_safe").set("this", exp.false())
    ranked = dict(con.execute(
        f"SELECT __cr_k0, __cr_people FROM ({tree.sql(dialect='duckdb')})").fetchall())
    people = {"over": cap + 8, "at": cap, "below": cap, "single": 2 * cap - 1}
    assert direct == ranked == {ch: min(n, cap) for ch, n in people.items()}
