"""rewrite.sql: each input query and the exact SQL the sandbox runs for it; plus the checks
``verify_rewrite`` makes, on a tree that breaks them."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from cleanroom.gate import check_query
from cleanroom.gate.analyse import analyse_query
from cleanroom.gate.parse import parse_query
from cleanroom.gate.rewrite import rewrite_query, verify_rewrite
from tests.gate.corpus import Entry, load
from tests.gate.test_reject import CATALOG

REWRITES = load("rewrite.sql")


@pytest.mark.parametrize("entry", REWRITES, ids=[e.name for e in REWRITES])
def test_rewrite(entry: Entry) -> None:
    assert check_query(entry.sql, CATALOG, min_users=50).sql == entry.get("output")


def test_verify_refuses_an_unthresholded_aggregation() -> None:
    shape = analyse_query(parse_query("SELECT channel, COUNT(*) AS n FROM impressions "
                                      "GROUP BY channel"), CATALOG)
    tree, outers = rewrite_query(shape, min_users=50)
    people = next(a for a in tree.find_all(exp.Alias) if a.alias == "__cr_n")
    people.set("this", exp.Literal.number(1000))  # a count that is not COUNT(DISTINCT person)
    with pytest.raises(RuntimeError):
        verify_rewrite(tree, shape, outers, min_users=50)


def test_verify_refuses_an_unchecked_select() -> None:
    shape = analyse_query(parse_query("SELECT COUNT(*) AS n FROM impressions"), CATALOG)
    tree, outers = rewrite_query(shape, min_users=50)
    stray = sqlglot.parse_one("SELECT 1", read="duckdb")
    tree.set("where", exp.Where(this=exp.In(this=exp.Literal.number(1),
                                            query=exp.Subquery(this=stray))))
    with pytest.raises(RuntimeError):
        verify_rewrite(tree, shape, outers, min_users=50)
