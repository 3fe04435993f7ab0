"""The contribution bounds of the DP rewrite, checked on the rows it keeps: every person in at
most G groups with at most R rows in each, values clamped, nobody within the bounds losing
anything -- also when everyone goes through the exact ranking, and the checks fail when nobody
does -- and the choice of a person's rows independent of everyone else. The people whom their
stored counts put within the bounds skip the ranking (``dp_sql._within``): the checks of the
ranking set their test ``__cr_safe`` to FALSE (everyone ranked, in ``__cr_slow``), and the
totals and capped people counts with it as planned are those of everyone ranked."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cleanroom.pipeline import plan_private_query
from cleanroom.policy import Policy, load_policies
from cleanroom.privacy.discrete import FIXED_POINT_BITS
from tests.conftest import POLICIES, with_person_counts

G, ROWS = 3, 2
SQL = "SELECT channel, COUNT(*) AS n, SUM(cost) AS spend FROM impressions GROUP BY channel"
DATA = """
    SELECT 'u' || p AS user_key, TIMESTAMP '2026-09-01' AS ts, 'ch' || c AS channel,
           'camp' AS campaign, (p * 7 + c * 13 + r) % 500 * 1.0 AS cost
    FROM range(200) t(p), range(8) s(c), range(3) q(r)
    WHERE c <= p % 8 AND r <= p % 3"""


def policy_with(groups: int, rows: int) -> Policy:
    policy = load_policies(POLICIES)["acme-streamco"]
    return policy.model_copy(update={"query_rules": policy.query_rules.model_copy(
        update={"max_groups_per_user": groups, "max_rows_per_user_group": rows})})


def bounded_sql(table: str, columns: str, *, groups: int = G, rows: int = ROWS,
                crowded: str | None = None, ranked: bool = True, sql: str = SQL) -> str:
    """The rewrite's CTEs under a SELECT of ``columns`` from ``table``; ``crowded`` replaces
    the HAVING that picks who is ranked; ``ranked``: everyone goes through the ranking
    (``__cr_safe`` is FALSE), and ``__cr_bounded`` is read as ``__cr_slow``."""
    sql = plan_private_query(policy_with(groups, rows), sql, 1.0).query.sql
    having = f"HAVING COUNT(*) > {groups} OR MAX(__cr_n) > {rows})"
    assert sql.count(having) == 1
    if crowded is not None:
        sql = sql.replace(having, f"HAVING {crowded})")
    tree = sqlglot.parse_one(sql, read="duckdb")
    if ranked:
        table = "__cr_slow" if table == "__cr_bounded" else table
        rows_cte = next(c.this for c in tree.args["with_"].expressions if c.alias == "__cr_rows")
        safe = next(p for p in rows_cte.expressions if p.alias == "__cr_safe")
        safe.set("this", exp.false())
    outer = exp.select(*columns.split(",")).from_(table)
    outer.set("with_", tree.args["with_"])
    return outer.sql(dialect="duckdb")


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """People 0..199: person p has (p % 8) + 1 channels, (p % 3) + 1 rows in each, costs up to
    500 (the policy clamps cost to [0, 100])."""
    db = duckdb.connect()
    db.execute(f"CREATE TABLE impressions AS {DATA}")
    with_person_counts(db, "impressions")
    return db


def assert_bounded(kept: list[tuple[str, str, int, int, int]]) -> None:
    groups: dict[str, list[str]] = {}
    for uid, key, rows, quanta, values in kept:
        groups.setdefault(uid, []).append(key)
        person = int(uid[1:])
        assert rows == values == min(person % 3 + 1, ROWS)  # at most R rows; all when within
        # Each kept row clamped to [0, 100], i.e. [0, 2**20] quanta.
        assert 0 <= quanta <= rows * 2**FIXED_POINT_BITS
    for uid, keys in groups.items():
        assert len(keys) == len(set(keys))  # one row per person and group
        assert len(keys) == min(int(uid[1:]) % 8 + 1, G)  # at most G; all when within
    assert len(groups) == 200


@pytest.mark.parametrize("crowded", [None, "TRUE"], ids=["as planned", "everyone ranked"])
def test_bounds_hold_and_nobody_within_them_loses_anything(con: duckdb.DuckDBPyConnection,
                                                           crowded: str | None) -> None:
    assert_bounded(con.execute(bounded_sql("__cr_bounded", "__cr_uid,__cr_k0,__cr_n,__cr_s2,__cr_c2",
                                           crowded=crowded)).fetchall())


@pytest.mark.parametrize("crowded", ["FALSE", f"COUNT(*) > {G}", f"MAX(__cr_n) > {ROWS}"],
                         ids=["nobody ranked", "rows not tested", "groups not tested"])
def test_the_bound_checks_fail_when_someone_over_a_bound_is_not_ranked(
        con: duckdb.DuckDBPyConnection, crowded: str) -> None:
    kept = con.execute(bounded_sql("__cr_bounded", "__cr_uid,__cr_k0,__cr_n,__cr_s2,__cr_c2",
                                   crowded=crowded)).fetchall()
    with pytest.raises(AssertionError):
        assert_bounded(kept)


def test_within_the_bounds_counts_and_sums_are_the_plain_sql_answer(
        con: duckdb.DuckDBPyConnection) -> None:
    """With G = 8 and R = 3 nobody is cut: the bounded row counts are the plain COUNT(*), and
    the sums of quanta are the plain SUM of the clamped costs to within the rounding."""
    sql = bounded_sql("__cr_bounded", "__cr_k0,__cr_n,__cr_s2", groups=8, rows=3)
    bounded = {k: [0, 0] for k, in con.execute("SELECT DISTINCT channel FROM impressions").fetchall()}
    for key, rows, quanta in con.execute(sql).fetchall():
        bounded[key][0] += rows
        bounded[key][1] += quanta
    plain = con.execute("SELECT channel, COUNT(*), SUM(LEAST(cost, 100)) FROM impressions "
                        "GROUP BY channel").fetchall()
    quantum = 100 / 2**FIXED_POINT_BITS
    for key, rows, total in plain:
        assert bounded[key][0] == rows
        assert abs(bounded[key][1] * quantum - float(total)) <= rows * quantum / 2


def test_a_persons_kept_rows_do_not_depend_on_anyone_else(con: duckdb.DuckDBPyConnection) -> None:
    """Person u5 has 3 rows in each of 6 channels (R = 2 cuts one row each): the rows kept for
    them are the same alone as among 199 others."""
    con.execute("CREATE OR REPLACE TABLE alone AS SELECT * FROM impressions WHERE user_key = 'u5'")
    with_person_counts(con, "alone")
    sql = bounded_sql("__cr_kept", "__cr_uid,__cr_k0,__cr_v2")
    among = sorted(r for r in con.execute(sql).fetchall() if r[0] == "u5")
    by_itself = sorted(con.execute(sql.replace("impressions", "alone")).fetchall())
    assert len(among) == 6 * ROWS and among == by_itself


# -- the people within the bounds, summed without ranking --------------------------------------
OUTER = "__cr_k0, __cr_people, __cr_sum1, __cr_cnt1, __cr_sum2, __cr_cnt2"


def _answer(con: duckdb.DuckDBPyConnection, sql: str, *, ranked: bool, groups: int,
            rows: int) -> dict[tuple[str, ...], tuple[int, ...]]:
    """Per group: people (capped as planned), rows and quanta; ``ranked``: everyone ranked."""
    planned = plan_private_query(policy_with(groups, rows), sql, 1.0).query.sql
    tree = sqlglot.parse_one(planned, read="duckdb")
    if ranked:
        rows_cte = next(c.this for c in tree.args["with_"].expressions if c.alias == "__cr_rows")
        next(p for p in rows_cte.expressions if p.alias == "__cr_safe").set("this", exp.false())
    keys = sum(1 for p in tree.expressions if p.alias_or_name.startswith("__cr_k"))
    return {tuple(r[:keys]): tuple(int(v or 0) for v in r[keys:]) for r in con.execute(
        tree.sql(dialect="duckdb")).fetchall()}


@pytest.mark.parametrize(("groups", "rows"), [(3, 2), (8, 3), (8, 1), (8, 2), (2, 3)])
@pytest.mark.parametrize("sql", [
    SQL, SQL.replace("FROM impressions", "FROM impressions WHERE cost > 150"),
    "SELECT channel, campaign, COUNT(*) AS n FROM impressions GROUP BY channel, campaign",
    "SELECT upper(channel) AS c, SUM(cost) AS s FROM impressions GROUP BY 1",
    "SELECT COUNT(*) AS n, SUM(cost) AS s FROM impressions"],
    ids=["channel", "filtered", "two_keys", "derived_key", "no_key"])
def test_people_within_the_bounds_sum_as_the_ranking_would(
        con: duckdb.DuckDBPyConnection, sql: str, groups: int, rows: int) -> None:
    """Someone within the bounds keeps everything in the ranking too, so summing them per
    group directly changes no total; the group's people are counted up to the cap."""
    planned = plan_private_query(policy_with(groups, rows), sql, 1.0).query.sql
    assert "__cr_within" in planned and "LEAST(SUM(__cr_p), " in planned
    cap = int(planned.rsplit("LEAST(SUM(__cr_p), ", 1)[1].split(")")[0])
    direct = _answer(con, sql, ranked=False, groups=groups, rows=rows)
    ranked = _answer(con, sql, ranked=True, groups=groups, rows=rows)
    keyed = "GROUP BY" in sql
    # Channel c is held only by people with more than c channels: past the bound on groups,
    # each of them keeps some at random, so a group of only such people may be kept in one
    # run and not the other. The groups someone within the bound holds are always there.
    def sure(keys: Iterable[tuple[str, ...]]) -> set[tuple[str, ...]]:
        return {k for k in keys if not keyed or groups >= 8 or int(k[0][-1]) < groups}
    assert sure(direct) == sure(ranked) and sure(direct)
    for key, (people, *totals) in direct.items():
        # the people over G groups are each kept in G of them at random: compare per group
        # only where nobody is (person p has p % 8 + 1 channels)
        if keyed and groups >= 8:
            assert people == min(ranked[key][0], cap)
        if not keyed or groups >= 8:
            assert totals == list(ranked[key][1:]), key


def test_someone_is_within_the_bounds_and_someone_is_not(con: duckdb.DuckDBPyConnection) -> None:
    """The data has both kinds of people for the bounds above, so both branches are tried."""
    for groups, rows in [(3, 2), (8, 1), (8, 2), (2, 3)]:
        sql = bounded_sql("__cr_rows", "COUNT(*) FILTER (WHERE __cr_safe), COUNT(*) FILTER "
                          "(WHERE NOT __cr_safe)", groups=groups, rows=rows, ranked=False)
        safe, outside = con.execute(sql).fetchone() or (0, 0)
        assert safe > 0 and outside > 0, (groups, rows)
