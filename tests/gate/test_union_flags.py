"""A final ``UNION ALL`` whose branches read a CTE that a threshold changed inside the query
(``rewrite.final_branches``, ``reach.final_cell_taints``), against raw DuckDB on the canary
tables (k = 50).

A value withheld inside the query (an aggregate of the CTE standing on too few people, turned
NULL there) or a relation that lost a group of 25 to 49 people must flag every output cell
computed from it, in every branch (CONTRACT.md §3: never a number the threshold changed
presented as exact, nor a NULL as if raw DuckDB had it): each released cell that is not listed
in ``withheld_cells`` must equal raw DuckDB's, each listed one is NULL in a ``partial`` row, and
the keys read from thresholded rows stay exact."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import ask
from tests.gate.test_rowwise import BIG, _raw, assert_exact_or_withheld

# Per channel: its people, and those of them who saw the 3-person campaign (NULL inside the
# query: 0 or 3 people stand behind it).
RARE = ("a AS (SELECT channel, COUNT(DISTINCT user_key) AS n, COUNT(DISTINCT user_key) "
        "FILTER (WHERE campaign = 'CANARYCAMP3') AS r FROM impressions GROUP BY channel)")

FORMS = {
    "two_branches_over_one_cte": f"WITH {RARE} SELECT channel, r FROM a "
                                 "UNION ALL SELECT channel, n FROM a",
    "a_cte_of_the_cte": f"WITH {RARE}, b AS (SELECT channel, r FROM a) "
                        "SELECT * FROM b UNION ALL SELECT * FROM b",
    "star_of_the_cte": f"WITH {RARE} SELECT * FROM a UNION ALL SELECT * FROM a",
    "three_branches_with_labels": f"WITH {RARE} SELECT 'r' AS what, channel, r AS v FROM a "
                                  "UNION ALL SELECT 'n', channel, n FROM a "
                                  "UNION ALL SELECT 'r+1', channel, r + 1 FROM a",
    "computed_in_a_branch": f"WITH {RARE}, b AS (SELECT channel, n, r FROM a) "
                            "SELECT channel, n + r AS v FROM b UNION ALL SELECT channel, n FROM b",
    "beside_a_constant_row": f"WITH {RARE}, b AS (SELECT channel, r FROM a) "
                             "SELECT channel, r FROM b UNION ALL SELECT 'none', 0",
    "beside_an_aggregate_of_the_cte": f"WITH {RARE}, b AS (SELECT channel, r FROM a) "
                                      "SELECT channel, r FROM b "
                                      "UNION ALL SELECT 'sum', SUM(r) FROM b",
    "a_subquery_branch": f"WITH {RARE} SELECT channel, r FROM (SELECT channel, r FROM a) s "
                         "UNION ALL SELECT channel, n FROM a",
    # ``big`` drops email (47 people): a sum over its rows misses them.
    "a_total_over_a_relation_that_lost_a_group": f"WITH {BIG}, b AS (SELECT channel, buyers "
                                                 "FROM big) SELECT channel, buyers FROM b "
                                                 "UNION ALL SELECT 'total', SUM(buyers) FROM b",
}


def _check(body: dict[str, Any], truth: list[list[Any]]) -> int:
    assert "rows" in body, body
    withheld = assert_exact_or_withheld(body, truth)
    cells = {(r, c) for r, c in body["withheld_cells"]}
    for r, status in enumerate(body["row_status"]):
        assert (status == "partial") == any(rr == r for rr, _ in cells), (r, status)
    assert 0 <= body["suppressed_rows"] <= len(truth) - len(body["rows"])
    return withheld


@pytest.mark.parametrize("name", list(FORMS))
def test_a_union_over_a_threshold_inside_the_query_flags_what_it_changed(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    sql = FORMS[name]
    truth = _raw(raw, sql)
    body = ask(loaded, canary, sql)
    assert body.get("rows"), body
    assert _check(body, truth) > 0  # something inside was withheld, and it says so


def test_the_keys_and_untouched_cells_of_a_union_stay_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """Only cells computed from a withheld value are flagged: the channel (a group key) and
    the people of a CTE whose rows lost nothing are released as raw DuckDB has them."""
    sql = (f"WITH {RARE}, c AS (SELECT channel, COUNT(DISTINCT user_key) AS people "
           "FROM impressions GROUP BY channel) SELECT channel, r FROM a "
           "UNION ALL SELECT channel, people FROM c")
    body = ask(loaded, canary, sql)
    _check(body, _raw(raw, sql))
    cells = {(r, c) for r, c in body["withheld_cells"]}
    assert not any(c == 0 for _, c in cells)  # no key withheld
    people = [row[1] for r, row in enumerate(body["rows"]) if (r, 1) not in cells]
    assert len(people) >= 5 and all(p is not None and p >= 50 for p in people), body


def test_a_union_of_a_cte_that_dropped_only_small_groups_is_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """The 7-person channel is dropped inside (fewer than ceil(k/2) people, uncounted, as
    ``suppressed_rows`` leaves it): the rows that stand are raw DuckDB's, unflagged."""
    sql = ("WITH a AS (SELECT channel, COUNT(DISTINCT user_key) AS n FROM impressions "
           "GROUP BY channel) SELECT channel, n FROM a UNION ALL SELECT channel, n + 1 FROM a")
    body = ask(loaded, canary, sql)
    assert _check(body, _raw(raw, sql)) == 0
    assert len(body["rows"]) == 10 and set(body["row_status"]) == {"exact"}
    assert "CANARYCHAN7" not in {row[0] for row in body["rows"]}
