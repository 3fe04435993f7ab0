"""Review attacks, round 3 (threshold mode, k = 50; DP where named), by a reviewer who did not
write the gate. Written as in ``test_review_attacks.py``: each attack first decodes the hidden
truth on raw DuckDB (so the attack is real), then goes over HTTP, and the decoded value must
not be the truth. ``xfail(strict=True, reason="leak: ...")`` marks a leak the gate still lets
through; the others pin doors that this round closed or found shut."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from tests.canary import CanaryData
from tests.conftest import Harness
from tests.gate.test_review_attacks import TARGET, ask, first, one_row

Bit = Callable[[float, float], bool | None]


def _bisect(bit: Bit, lo: float = 700.0, hi: float = 800.0, steps: int = 14) -> tuple[float, float]:
    """Halve [lo, hi) ``steps`` times by ``bit(lo, mid)`` (True: the value is in [lo, mid));
    stops where the bit is unknown (the service answered nothing)."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        found = bit(lo, mid)
        if found is None:
            break
        lo, hi = (lo, mid) if found else (mid, hi)
    return lo, hi


def _raw_fails(raw: duckdb.DuckDBPyConnection, sql: str) -> bool:
    try:
        raw.execute(sql).fetchall()
    except duckdb.Error:
        return True
    return False


def _service_fails(loaded: Harness, canary: CanaryData, sql: str) -> bool:
    return ask(loaded, canary, sql).get("error", {}).get("code") == "query_failed"


def _assert_not_bisected(bit_on: Callable[[duckdb.DuckDBPyConnection | None], Bit],
                         raw: duckdb.DuckDBPyConnection) -> None:
    """The same bit on raw DuckDB finds the target's revenue (the attack is real); through the
    service it must not."""
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    lo, hi = _bisect(bit_on(raw))
    assert lo <= truth < hi and hi - lo < 0.01, (lo, hi, truth)
    lo, hi = _bisect(bit_on(None))
    assert not (lo <= truth < hi and hi - lo < 0.01), (lo, hi, truth)


# -- error oracles: `x IS TRUE` casts a VARCHAR to BOOLEAN row by row ------------------------
def _is_true_sql(lo: float, hi: float, test: str) -> str:
    return (f"WITH u AS (SELECT user_key, CASE WHEN revenue >= {lo} AND revenue < {hi} THEN "
            f"'bad' ELSE 'true' END AS x FROM conversions) SELECT COUNT(*) AS n FROM u "
            f"WHERE x {test}")


@pytest.mark.parametrize("test", ["IS TRUE", "IS NOT FALSE", "IS FALSE"])
def test_is_true_over_text_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, test: str) -> None:
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool:
            sql = _is_true_sql(lo, hi, test)
            return _raw_fails(con, sql) if con is not None else _service_fails(loaded, canary, sql)
        return bit
    _assert_not_bisected(bit_on, raw)


# -- error oracles: a bare text column used as a condition is cast to BOOLEAN row by row ----
BARE_CONDITIONS = {
    "where": "SELECT COUNT(*) AS n FROM u WHERE x",
    "where_not": "SELECT COUNT(*) AS n FROM u WHERE NOT x",
    "where_paren_and": "SELECT COUNT(*) AS n FROM u WHERE (x) AND revenue > 0",
    "filter": "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE x) AS m FROM u",
    "join_on": "SELECT COUNT(*) AS n FROM u JOIN conversions c ON u.user_key = c.user_key AND u.x",
    "where_function": "SELECT COUNT(*) AS n FROM u WHERE lower(x)",
    "where_coalesce_and": "SELECT COUNT(*) AS n FROM u WHERE revenue > 0 AND COALESCE(x, 'true')",
    "filter_case": "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE CASE WHEN revenue > 0 THEN x "
                   "END) AS m FROM u",
    "where_if": "SELECT COUNT(*) AS n FROM u WHERE IF(revenue > 0, x, 'true')",
}


@pytest.mark.parametrize("name", sorted(BARE_CONDITIONS))
def test_a_bare_text_condition_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool:
            sql = (f"WITH u AS (SELECT user_key, revenue, CASE WHEN revenue >= {lo} AND revenue "
                   f"< {hi} THEN 'bad' ELSE 'true' END AS x FROM conversions) "
                   + BARE_CONDITIONS[name])
            return _raw_fails(con, sql) if con is not None else _service_fails(loaded, canary, sql)
        return bit
    _assert_not_bisected(bit_on, raw)


# -- error oracles: window arguments that DuckDB checks or casts row by row ----------------
WINDOW_ARGUMENTS = {
    "ntile": "NTILE(k) OVER (PARTITION BY user_key ORDER BY ts)",
    "lag_default": "LAG(revenue, 1, x) OVER (PARTITION BY user_key ORDER BY ts)",
    "lead_default": "LEAD(revenue, 1, x) OVER (PARTITION BY user_key ORDER BY ts)",
}


@pytest.mark.parametrize("name", sorted(WINDOW_ARGUMENTS))
def test_a_window_argument_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool:
            inside = f"revenue >= {lo} AND revenue < {hi}"
            sql = (f"WITH u AS (SELECT user_key, ts, revenue, CASE WHEN {inside} THEN 'bad' "
                   f"ELSE '5' END AS x, CASE WHEN {inside} THEN 0 ELSE 1 END AS k FROM "
                   f"conversions) SELECT COUNT(*) AS n FROM (SELECT user_key, "
                   f"{WINDOW_ARGUMENTS[name]} AS p FROM u) WHERE p IS NOT NULL")
            return _raw_fails(con, sql) if con is not None else _service_fails(loaded, canary, sql)
        return bit
    _assert_not_bisected(bit_on, raw)


@pytest.mark.parametrize("inner", ["MIN(ts, k)", "MAX(revenue, k)", "arg_max(ts, revenue, k)",
                                   "min_by(ts, revenue, k)"])
def test_a_top_n_count_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, inner: str) -> None:
    """DuckDB's top-n forms raise on a count <= 0 (and return lists)."""
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool:
            sql = (f"WITH u AS (SELECT user_key, ts, revenue, CASE WHEN revenue >= {lo} AND "
                   f"revenue < {hi} THEN 0 ELSE 1 END AS k FROM conversions) SELECT COUNT(*) "
                   f"AS n FROM (SELECT user_key, {inner} AS p FROM u GROUP BY user_key) "
                   "WHERE p IS NOT NULL")
            return _raw_fails(con, sql) if con is not None else _service_fails(loaded, canary, sql)
        return bit
    _assert_not_bisected(bit_on, raw)


# -- error oracles: an implicit cast beside a scalar subquery (DuckDB refuses TRY there) ----
# Where the comparison stands: each reads the text ``x`` that one person's row made unreadable
# beside a scalar subquery's count (``guard._lift_subqueries``).
SUBQUERY_COMPARISONS = {
    "where": "SELECT COUNT(*) AS n FROM u WHERE x = (SELECT COUNT(*) FROM impressions)",
    "in_list": "SELECT COUNT(*) AS n FROM u WHERE x IN ((SELECT COUNT(*) FROM impressions), 1)",
    "filter": "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE x = (SELECT COUNT(*) FROM "
              "impressions)) AS m FROM u",
    "case_in_a_cte": "SELECT COUNT(*) AS n FROM (SELECT CASE WHEN x = (SELECT COUNT(*) FROM "
                     "impressions) THEN 1 ELSE 0 END AS y FROM u) WHERE y = 1",
}


@pytest.mark.parametrize("form", list(SUBQUERY_COMPARISONS))
def test_a_comparison_with_a_scalar_subquery_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, form: str) -> None:
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool:
            sql = (f"WITH u AS (SELECT user_key, CASE WHEN revenue >= {lo} AND revenue < {hi} "
                   "THEN 'bad' ELSE '5' END AS x FROM conversions) "
                   + SUBQUERY_COMPARISONS[form])
            return _raw_fails(con, sql) if con is not None else _service_fails(loaded, canary, sql)
        return bit
    _assert_not_bisected(bit_on, raw)


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) AS n FROM impressions WHERE cost > (SELECT AVG(cost) FROM impressions)",
    "SELECT channel, COUNT(*) AS n FROM impressions WHERE cost < (SELECT AVG(cost) FROM "
    "impressions WHERE channel = 'email') GROUP BY channel",
    # a text compared with a count: DuckDB casts each row's text to a number ('05' = 5)
    "WITH u AS (SELECT user_key, CASE WHEN COUNT(*) >= 4 THEN '05' ELSE '1' END AS x FROM "
    "impressions GROUP BY user_key) SELECT x, COUNT(*) AS n FROM u WHERE x = (SELECT "
    "COUNT(*) // 1000 + 1 FROM impressions) GROUP BY x",
    "SELECT channel, COUNT(*) FILTER (WHERE cost * 2 > (SELECT AVG(cost) FROM impressions)) AS "
    "n FROM impressions GROUP BY channel",
])
def test_a_guarded_comparison_with_a_scalar_subquery_answers_as_raw_duckdb(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    truth = sorted(map(list, raw.execute(sql).fetchall()))
    body = ask(loaded, canary, sql)
    assert "rows" in body and not body["withheld_cells"], body
    assert sorted(body["rows"]) == [[v if not isinstance(v, float) else pytest.approx(v)
                                     for v in row] for row in truth if row[-1] >= 50]


# -- error oracles: SKEWNESS / KURTOSIS raise on a non-finite moment -------------------------
def _moment_sql(agg: str, lo: float, hi: float, form: str) -> str:
    inside = f"revenue >= {lo} AND revenue < {hi}"
    if form == "constant":  # a magnitude one person's row takes: its cube overflows
        return (f"SELECT COUNT(*) AS n, {agg}(CASE WHEN {inside} THEN 1e120 ELSE 1 END) AS s "
                "FROM conversions")
    # a share 1.0 / n of a per-person count that is 0 only for people in the window: inf
    return (f"WITH u AS (SELECT user_key, COUNT(*) FILTER (WHERE NOT ({inside})) AS n FROM "
            f"conversions GROUP BY user_key) SELECT COUNT(*) AS c, {agg}(1.0 / n) AS s FROM u")


@pytest.mark.parametrize("agg", ["SKEWNESS", "KURTOSIS"])
@pytest.mark.parametrize("form", ["constant", "share"])
def test_a_higher_moment_is_not_an_error_oracle(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, agg: str,
        form: str) -> None:
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool:
            sql = _moment_sql(agg, lo, hi, form)
            return _raw_fails(con, sql) if con is not None else _service_fails(loaded, canary, sql)
        return bit
    _assert_not_bisected(bit_on, raw)


# -- a share of a count that may be zero: inf (released as null, unflagged) ------------------
@pytest.mark.parametrize("agg", ["SUM", "AVG", "STDDEV_SAMP"])
def test_a_share_of_an_empty_count_does_not_bisect_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, agg: str) -> None:
    """``1.0 / n`` is inf (``0.0 / n`` NaN) for a person whose count n is 0: the sum is then
    non-finite, which the answer shows as an unflagged null."""
    def bit_on(con: duckdb.DuckDBPyConnection | None) -> Bit:
        def bit(lo: float, hi: float) -> bool | None:
            sql = _moment_sql(agg, lo, hi, "share")
            if con is not None:
                value = first(con, sql)[1]
                return value is None or value != value or abs(value) == float("inf")
            body = ask(loaded, canary, sql)
            rows = body.get("rows") or []
            if len(rows) != 1 or [0, 1] in body["withheld_cells"]:
                return None
            return rows[0][1] is None
        return bit
    _assert_not_bisected(bit_on, raw)


# -- a per-person weight that is 1 for everyone but one person -----------------------------
_N = f"COUNT(*) + COUNT(*) FILTER (WHERE {TARGET}) AS n"
WEIGHTED = {
    "cte": f"WITH u AS (SELECT user_key, SUM(revenue) AS r, {_N} FROM conversions GROUP BY "
           "user_key) SELECT SUM(r * n) AS a, SUM(r) AS b FROM u",
    "join": f"SELECT SUM(c.revenue * u.n) AS a, SUM(c.revenue) AS b FROM conversions c JOIN "
            f"(SELECT user_key, {_N} FROM conversions GROUP BY user_key) u ON c.user_key = "
            "u.user_key",
    "count_case": "WITH u AS (SELECT user_key, SUM(revenue) AS r, COUNT(*) + COUNT(CASE WHEN "
                  f"{TARGET} THEN 1 END) AS n FROM conversions GROUP BY user_key) SELECT "
                  "SUM(r * n) AS a, SUM(r) AS b FROM u",
    "passed_on": f"WITH u AS (SELECT user_key, SUM(revenue) AS r, {_N} FROM conversions GROUP "
                 "BY user_key), v AS (SELECT user_key, r, n AS w FROM u) SELECT SUM(r * w) "
                 "AS a, SUM(r) AS b FROM v",
    "window": "SELECT SUM(revenue * n) AS a, SUM(revenue * m) AS b FROM (SELECT revenue, "
              "COUNT(*) OVER (PARTITION BY user_key) AS m, COUNT(*) OVER (PARTITION BY "
              f"user_key) + COUNT(*) FILTER (WHERE {TARGET}) OVER (PARTITION BY user_key) AS n "
              "FROM conversions)",
}


@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_a_weight_of_one_but_one_person_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    """A per-person count that is 2 (one more) for one person and 1 for everyone else weights a
    sum; the weighted sum minus the plain one is that person's revenue. The FILTER (or branch)
    is a part where the count is summed (``sides.py``): one person takes it."""
    sql = WEIGHTED[name]
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    a, b = first(raw, sql)
    assert abs(a - b - truth) < 0.005  # the attack is real
    row = one_row(ask(loaded, canary, sql))
    decoded = None if row is None or None in row else row[0] - row[1]
    assert decoded is None or abs(decoded - truth) >= 0.005, (decoded, truth)


# -- the row patterns of a FILTER, moved into a per-person CTE -----------------------------
_KEPT = "campaign <> 'CANARYCAMP3'"
PER_PERSON_FILTER = {
    "filter": f"WITH u AS (SELECT user_key, COUNT(*) AS a, COUNT(*) FILTER (WHERE {_KEPT}) AS b, "
              f"SUM(cost) AS c, SUM(cost) FILTER (WHERE {_KEPT}) AS d FROM impressions GROUP BY "
              "user_key) SELECT SUM(a) AS a, SUM(b) AS b, SUM(c) AS c, SUM(d) AS d FROM u",
    "case": f"WITH u AS (SELECT user_key, COUNT(*) AS a, SUM(CASE WHEN {_KEPT} THEN 1 ELSE 0 END) "
            f"AS b, SUM(cost) AS c, SUM(CASE WHEN {_KEPT} THEN cost ELSE 0 END) AS d FROM "
            "impressions GROUP BY user_key) SELECT SUM(a) AS a, SUM(b) AS b, SUM(c) AS c, "
            "SUM(d) AS d FROM u",
    "joined": f"SELECT SUM(a) AS a, SUM(b) AS b, SUM(c) AS c, SUM(d) AS d FROM (SELECT user_key "
              "FROM impressions GROUP BY user_key) p JOIN (SELECT user_key AS k, COUNT(*) AS a, "
              f"COUNT(*) FILTER (WHERE {_KEPT}) AS b, SUM(cost) AS c, SUM(cost) FILTER (WHERE "
              f"{_KEPT}) AS d FROM impressions GROUP BY user_key) u ON p.user_key = u.k",
}


@pytest.mark.parametrize("name", sorted(PER_PERSON_FILTER))
def test_per_person_filtered_totals_do_not_decode_a_three_person_campaign(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    """Per-person counts and sums with and without a three-person campaign's rows stand on
    the same people with non-zero values; their differences were that campaign's rows and
    cost. The people with a row the FILTER leaves out are a vector of the filtered sum's own
    for the combination check (``sides.py``)."""
    sql = PER_PERSON_FILTER[name]
    rows, cost = first(raw, "SELECT COUNT(*), SUM(cost) FROM impressions "
                            "WHERE campaign = 'CANARYCAMP3'")
    a, b, c, d = first(raw, sql)
    assert a - b == rows and abs(c - d - cost) < 1e-6  # the attack is real
    row = one_row(ask(loaded, canary, sql))
    if row is None:
        return
    assert row[0] is None or row[1] is None or row[0] - row[1] != rows, (row, rows)
    assert row[2] is None or row[3] is None or abs(row[2] - row[3] - cost) >= 1e-6, (row, cost)


# -- an IN list of thresholded groups: a semi-join that loses a small group's rows ---------
IN_LISTS = {
    "in": "SELECT COUNT(*) AS n FROM impressions WHERE channel IN (SELECT channel FROM "
          "impressions GROUP BY channel)",
    "not_in_or": "SELECT COUNT(*) AS n FROM impressions WHERE channel NOT IN (SELECT channel "
                 "FROM impressions GROUP BY channel) OR channel = 'search'",
    "in_grouped": "SELECT channel, COUNT(*) AS n FROM impressions WHERE campaign IN (SELECT "
                  "campaign FROM impressions GROUP BY campaign) GROUP BY channel",
    "not_in_all_dropped": "SELECT COUNT(*) AS n FROM impressions WHERE campaign NOT IN (SELECT "
                          "campaign FROM impressions WHERE campaign = 'CANARYCAMP3' GROUP BY "
                          "campaign)",
    "not_in_cte": "WITH r AS (SELECT channel FROM impressions GROUP BY channel) SELECT COUNT(*) "
                  "AS n FROM impressions WHERE channel NOT IN (SELECT channel FROM r) OR "
                  "channel = 'search'",
}


@pytest.mark.parametrize("name", sorted(IN_LISTS))
def test_an_in_list_of_thresholded_groups_is_not_presented_as_exact(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    """The IN list's subquery drops the 7-person channel (or the 3-person campaign): the rows
    it keeps or loses are then not the raw ones, and the difference from the plain count
    (another query) is that small group's rows. Every cell released as exact must be raw
    DuckDB's."""
    sql = IN_LISTS[name]
    truth = {tuple(r[:-1]): r[-1] for r in raw.execute(sql).fetchall()}
    body = ask(loaded, canary, sql)
    withheld = {(i, j) for i, j in body["withheld_cells"]}
    width = len(body["columns"])
    for i, row in enumerate(body["rows"]):
        if (i, width - 1) not in withheld:
            assert truth.get(tuple(row[:-1])) == row[-1], (row, truth)


# -- averages: a zero moves an average, and the combination check sees only its non-NULLs --
AVG_ZERO = {
    "case": f"SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(CASE WHEN {TARGET} THEN 0 "
            "ELSE revenue END) AS b FROM conversions",
    "if": f"SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(IF({TARGET}, 0, revenue)) AS b "
          "FROM conversions",
    "weight": f"SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(revenue * CASE WHEN {TARGET} "
              "THEN 0 ELSE 1 END) AS b FROM conversions",
}


@pytest.mark.parametrize("name", sorted(AVG_ZERO))
def test_an_average_with_one_persons_zero_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]
    n, a, b = first(raw, AVG_ZERO[name])
    assert abs((a - b) * n - truth) < 0.005  # the attack is real
    row = one_row(ask(loaded, canary, AVG_ZERO[name]))
    decoded = None if row is None or None in row else (row[1] - row[2]) * row[0]
    assert decoded is None or abs(decoded - truth) >= 0.005, (decoded, truth)


AVG_PARTITION = {
    "case": "SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(CASE WHEN revenue < 300 THEN 0 "
            f"ELSE revenue END) AS b, AVG(CASE WHEN revenue >= 300 AND NOT ({TARGET}) THEN 0 "
            "ELSE revenue END) AS c FROM conversions",
    "if_weight": "SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(IF(revenue < 300, 0, "
                 "revenue)) AS b, AVG(revenue * CASE WHEN revenue >= 300 AND NOT "
                 f"({TARGET}) THEN 0 ELSE 1 END) AS c FROM conversions",
    "mean_filtered": "SELECT COUNT(revenue) AS n, mean(revenue) AS a, mean(CASE WHEN revenue < "
                     "300 THEN 0 ELSE revenue END) AS b, AVG(CASE WHEN revenue >= 300 AND NOT "
                     f"({TARGET}) THEN 0 ELSE revenue END) FILTER (WHERE revenue IS NOT NULL) "
                     "AS c FROM conversions",
}
# An average's sum (times the count) beside a plain sum of the other part.
AVG_AND_SUM = (
    "SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(CASE WHEN revenue < 300 THEN 0 ELSE "
    f"revenue END) AS b, SUM(revenue) FILTER (WHERE revenue < 300 OR {TARGET}) AS c FROM "
    "conversions")


@pytest.mark.parametrize("name", sorted(AVG_PARTITION))
def test_averages_zeroing_a_partition_do_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, name: str) -> None:
    """Three averages whose zeros partition everyone but one person: each zero part stands on
    many, and their non-NULL rows are everyone's, yet total - low part - high part (each an
    average's sum, times the count) is that person's revenue. An average's sum stands on its
    non-zero rows: a vector of its own for the combination check (``cells.vector_names``)."""
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]

    def decode(row: tuple[float, ...] | list[float]) -> float:
        n, a, b, c = row
        return a * n - (a - b) * n - (a - c) * n  # total - low part - high part

    assert abs(decode(first(raw, AVG_PARTITION[name])) - truth) < 0.005  # the attack is real
    row = one_row(ask(loaded, canary, AVG_PARTITION[name]))
    decoded = None if row is None or None in row else decode(row)
    assert decoded is None or abs(decoded - truth) >= 0.005, (decoded, truth)


def test_an_average_beside_a_sum_does_not_decode_one_revenue(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    truth = first(raw, f"SELECT revenue FROM conversions WHERE {TARGET}")[0]

    def decode(row: tuple[float, ...] | list[float]) -> float:
        n, a, b, c = row
        return c - (a - b) * n  # (low part + one person) - low part

    assert abs(decode(first(raw, AVG_AND_SUM)) - truth) < 0.005  # the attack is real
    row = one_row(ask(loaded, canary, AVG_AND_SUM))
    decoded = None if row is None or None in row else decode(row)
    assert decoded is None or abs(decoded - truth) >= 0.005, (decoded, truth)


def test_a_plain_average_beside_its_count_is_released(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    """The second vector is only a branched value's: a plain metric's zeros are its own."""
    sql = ("SELECT COUNT(revenue) AS n, AVG(revenue) AS a, AVG(CASE WHEN revenue < 300 THEN 0 "
           "ELSE revenue END) AS b, SUM(revenue) AS c FROM conversions")
    row = one_row(ask(loaded, canary, sql))
    assert row is not None and None not in row, row
    assert all(abs(x - y) < 1e-6 for x, y in zip(row, first(raw, sql))), (row, first(raw, sql))


# -- user_key != a literal no pseudonym can equal: the surrogate must not meet the literal --
@pytest.mark.parametrize("form", ["decimal", "hex"])
def test_a_surrogate_shaped_literal_does_not_leave_one_person_out(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection, form: str) -> None:
    """The sandbox holds a user_key as an integer (engine/native.py); ``user_key != '<that
    integer>'`` once compared with it and left the target out of the count (436 of 437)."""
    from tests.canary import user_key

    key = user_key(100)
    surrogate = first(raw, f"SELECT CAST(CAST('0x' || left('{key}', 31) AS HUGEINT) AS VARCHAR)")[0]
    literal = surrogate if form == "decimal" else "0x" + key[:31]
    sql = f"SELECT COUNT(DISTINCT user_key) AS n FROM conversions WHERE user_key != '{literal}'"
    truth = first(raw, sql)[0]  # raw DuckDB compares the hex strings: everyone is kept
    assert truth == first(raw, "SELECT COUNT(DISTINCT user_key) FROM conversions")[0]
    row = one_row(ask(loaded, canary, sql))
    assert row is not None and row[0] == truth, (row, truth)


def test_a_text_literal_no_key_equals_keeps_everyone(
        loaded: Harness, canary: CanaryData, raw: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT COUNT(DISTINCT user_key) AS n FROM conversions WHERE user_key <> 'unknown'"
    row = one_row(ask(loaded, canary, sql))
    assert row is not None and row[0] == first(raw, sql)[0], row
