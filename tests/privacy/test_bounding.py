"""The contribution bound of the DP rewrite, checked on the rows it keeps: every person in at
most G groups, one row per group, values clamped, and nobody within the bound losing anything
-- also when the hash that picks who is ranked collides on purpose."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from cleanroom.pipeline import plan_private_query
from cleanroom.policy import load_policies
from tests.conftest import POLICIES

G = 3
SQL = "SELECT channel, COUNT(*) AS n, SUM(cost) AS spend FROM impressions GROUP BY channel"


def bounded_rows_sql(policy_g: int, hash_expr: str) -> str:
    policy = load_policies(POLICIES)["acme-streamco"]
    policy = policy.model_copy(update={"query_rules": policy.query_rules.model_copy(
        update={"max_groups_per_user": policy_g})})
    sql = plan_private_query(policy, SQL, 1.0).query.sql
    assert "HASH(__cr_uid)" in sql
    tree = sqlglot.parse_one(sql.replace("HASH(__cr_uid)", hash_expr), read="duckdb")
    outer = exp.select("__cr_uid", "__cr_k0", "__cr_s2").from_("__cr_bounded")
    outer.set("with_", tree.args["with_"])
    return outer.sql(dialect="duckdb")


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """People 0..199: person p has (p % 8) + 1 channels, several rows each, costs up to 500."""
    db = duckdb.connect()
    db.execute("""
        CREATE TABLE impressions AS
        SELECT 'u' || p AS user_key, TIMESTAMP '2026-09-01' AS ts, 'ch' || c AS channel,
               'camp' AS campaign, (p * 7 + c * 13 + r) % 500 * 1.0 AS cost
        FROM range(200) t(p), range(8) s(c), range(3) q(r)
        WHERE c <= p % 8""")
    return db


@pytest.mark.parametrize("hash_expr", ["HASH(__cr_uid)", "(HASH(__cr_uid) % 7)", "1"],
                         ids=["real hash", "collisions", "one bucket"])
def test_bound_holds_and_nobody_within_it_loses_a_group(con: duckdb.DuckDBPyConnection,
                                                        hash_expr: str) -> None:
    kept = con.execute(bounded_rows_sql(G, hash_expr)).fetchall()
    groups: dict[str, list[str]] = {}
    for uid, key, spend in kept:
        groups.setdefault(uid, []).append(key)
        assert 0 <= spend <= 100  # cost's bounds in the policy
    for uid, keys in groups.items():
        assert len(keys) == len(set(keys))  # one row per person and group
        have = int(uid[1:]) % 8 + 1
        assert len(keys) == min(have, G)  # at most G; all of them when within the bound
    assert len(groups) == 200
