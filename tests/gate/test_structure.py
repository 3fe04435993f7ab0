"""Structural idioms (issue 8): what the relaxations must not open, checked against the truth.

A constant list joined to people's rows is a lookup (cleanroom/gate/constants.py): a person's
row takes the first entry it matches, so no entry list can weigh one person above the rest,
even one whose keys the gate cannot tell apart (DuckDB casts '777.77' and '0777.770' to the
same DOUBLE, and a raw join would count the target's revenue three times)."""

from __future__ import annotations

import duckdb
import pytest

from cleanroom.errors import QueryRejected
from cleanroom.gate import check_query
from tests.conftest import Harness
from tests.gate.test_reject import CATALOG

PLAIN = "SELECT SUM(c.revenue) AS s, COUNT(*) AS n FROM conversions c"
FAN_OUT = ("SELECT SUM(c.revenue) AS s, COUNT(*) AS n FROM conversions c "
           "LEFT JOIN (VALUES ('777.77', 'a'), ('0777.770', 'b'), ('777.7700', 'c')) v(r, t) "
           "ON c.revenue = v.r")


def _answer(loaded: Harness, sql: str) -> list[list[float]]:
    response = loaded.query(sql)
    assert response.status_code == 200, response.text
    rows: list[list[float]] = response.json()["rows"]
    return rows


def test_cast_equal_keys_do_not_multiply_a_person(loaded: Harness,
                                                  raw: duckdb.DuckDBPyConnection) -> None:
    # The raw join does multiply the target's row: the attack is real ...
    raw_sum, raw_n = raw.execute(FAN_OUT).fetchone()  # type: ignore[misc]
    plain_sum, plain_n = raw.execute(PLAIN).fetchone()  # type: ignore[misc]
    assert raw_n == plain_n + 2 and raw_sum == pytest.approx(plain_sum + 2 * 777.77)
    # ... and through the gate the person counts once.
    assert _answer(loaded, FAN_OUT) == _answer(loaded, PLAIN)


def test_lookup_label_is_the_case_it_stands_for(loaded: Harness) -> None:
    lookup = ("SELECT v.g AS g, COUNT(*) AS n FROM impressions i JOIN (VALUES ('search', 'p'), "
              "('social', 'p'), ('email', 'o')) v(c, g) ON i.channel = v.c GROUP BY v.g ORDER BY g")
    case = ("SELECT CASE WHEN channel IN ('search', 'social') THEN 'p' ELSE 'o' END AS g, "
            "COUNT(*) AS n FROM impressions WHERE channel IN ('search', 'social', 'email') "
            "GROUP BY 1 ORDER BY g")
    assert _answer(loaded, lookup) == _answer(loaded, case)


@pytest.mark.parametrize(("lookup", "case"), [
    ("SELECT SUM(v.w) FROM impressions i JOIN (VALUES ('search', 5)) v(c, w) ON i.channel = v.c",
     "SELECT SUM(CASE WHEN channel = 'search' THEN 5 END) FROM impressions "
     "WHERE channel = 'search'"),
    ("SELECT SUM(v.w) FROM impressions i JOIN (VALUES ('search', 5), ('email', 1)) v(c, w) "
     "ON i.channel = v.c", "SELECT SUM(CASE WHEN channel = 'search' THEN 5 WHEN channel = "
     "'email' THEN 1 END) FROM impressions WHERE channel IN ('search', 'email')"),
])
def test_lookup_values_follow_the_case_rules(loaded: Harness, lookup: str, case: str) -> None:
    """A looked-up weight is the CASE it stands for: accepted on the same terms (one part per
    looked-up value), with the same answer."""
    rows = _answer(loaded, lookup)
    assert rows == _answer(loaded, case)
    assert rows and rows[0][0] is not None


def test_lookup_of_a_user_key_is_refused() -> None:
    with pytest.raises(QueryRejected):
        check_query("SELECT COUNT(*) FROM impressions i JOIN (VALUES ('k')) v(k) "
                    "ON i.user_key = v.k", CATALOG, min_users=50)
