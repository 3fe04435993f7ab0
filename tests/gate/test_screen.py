"""The screen (``gate/screen.py``): certified lower bounds of the people counts, run before the
exact query and kept only when every row reaches the threshold under them.

- the bound never exceeds the exact count (and is the count when buckets do not collide);
- which rewrites have a screen (and which must not: a count read as a number);
- every answer of the accept and published corpora is the same with and without screens,
  on data whose groups lie both far above and near the threshold, and both paths ran.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from cleanroom import pipeline
from cleanroom.gate import Catalog, K, check_query
from cleanroom.gate.screen import certificate, screen_of, words_for
from tests.conftest import Harness
from tests.gate.corpus import Entry, load
from tests.gate.test_published import ANALYST, COLLAB, Published, published  # noqa: F401

CATALOG = Catalog.of({"impressions": {"user_key": K.UID, "channel": K.DIM, "cost": K.MET},
                      "conversions": {"user_key": K.UID, "revenue": K.MET}})


# -- the bound ------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.one_of(st.none(), st.integers(0, 2**124 - 1), st.integers(0, 300)),
                     max_size=400),
       words=st.sampled_from([1, 2, 4]), cut=st.integers(0, 2**124))
def test_certificate_is_at_most_the_distinct_count(keys: list[int | None], words: int,
                                                   cut: int) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (u HUGEINT)")
    if keys:
        con.executemany("INSERT INTO t VALUES (?)", [[k] for k in keys])
    person = exp.column("u")
    condition = exp.LT(this=exp.column("u"), expression=exp.Literal.number(cut))
    for where in (None, condition):
        bound = certificate(person, where, words).sql("duckdb")
        exact = "COUNT(DISTINCT u)" + ("" if where is None else f" FILTER (WHERE {where.sql()})")
        got, truth = con.execute(f"SELECT {bound}, {exact} FROM t").fetchone() or (None, None)
        assert got is not None and 0 <= got <= truth


def test_certificate_counts_people_whose_buckets_differ() -> None:
    con = duckdb.connect()
    for words in (1, 2, 4):
        n = 64 * words
        bound = certificate(exp.column("u"), None, words).sql("duckdb")
        got = con.execute(f"SELECT {bound} FROM (SELECT CAST(i AS HUGEINT) * 1 AS u "
                          f"FROM range({n}) r(i))").fetchone()
        assert got == (n,)


def test_words_grow_with_the_threshold() -> None:
    assert [words_for(k) for k in (3, 51, 52, 102, 103, 204, 205)] == [1, 1, 2, 2, 4, 4, None]


# -- which rewrites have one ----------------------------------------------------------------
SCREENED = {
    "sum_by_group": "SELECT channel, SUM(cost) AS spend FROM impressions GROUP BY channel",
    "rows_by_group": "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel",
    "having": "SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel "
              "HAVING COUNT(*) > 400",
    "global_sum": "SELECT SUM(revenue) AS total FROM conversions",
}
UNSCREENED = {
    # The analyst's own distinct count is the people count: nothing to save.
    "own_distinct": "SELECT channel, COUNT(DISTINCT user_key) AS people FROM impressions "
                    "GROUP BY channel",
    # Two aggregates of one row: the release reads the counts as numbers (their difference).
    "difference": "SELECT channel, SUM(cost) AS spend, COUNT(*) AS n FROM impressions "
                  "GROUP BY channel",
    # A final set operation: rows of branches are compared by their counts.
    "union": "SELECT 'a' AS s, COUNT(*) AS n FROM impressions UNION ALL "
             "SELECT 'b', COUNT(*) FROM conversions",
}


@pytest.mark.parametrize("name", SCREENED)
def test_screen_replaces_every_distinct_count(name: str) -> None:
    checked = check_query(SCREENED[name], CATALOG, min_users=50)
    assert checked.screen is not None
    assert "COUNT(DISTINCT" in checked.sql
    assert "COUNT(DISTINCT" not in checked.screen and "BIT_OR(" in checked.screen
    assert checked.screen.count('AS "__cr_cert"') == 1


@pytest.mark.parametrize("name", UNSCREENED)
def test_no_screen_where_a_count_is_read_as_a_number(name: str) -> None:
    assert check_query(UNSCREENED[name], CATALOG, min_users=50).screen is None


def test_no_screen_past_four_words() -> None:
    assert check_query(SCREENED["sum_by_group"], CATALOG, min_users=205).screen is None
    assert check_query(SCREENED["sum_by_group"], CATALOG, min_users=204).screen is not None


# -- answers are the exact query's ------------------------------------------------------------
class Spy:
    """Counts the screens run and kept, around the real ``pipeline.screened``."""

    def __init__(self, real: Any) -> None:
        self.real, self.kept, self.fell_back = real, 0, 0

    def __call__(self, session: Any, step: Any, *limits: int) -> Any:
        result = self.real(session, step, *limits)
        if step.screen is not None:
            if result is None:
                self.fell_back += 1
            else:
                self.kept += 1
        return result


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    found = Spy(pipeline.screened)
    monkeypatch.setattr(pipeline, "screened", found)
    yield found


def _body(response: Any) -> tuple[Any, ...]:
    """The answer, rows in an order of their own: DuckDB does not fix the order of rows
    without ORDER BY."""
    body = response.json()
    if not isinstance(body, dict) or "rows" not in body:
        return response.status_code, body, []
    body.pop("query_id", None)
    withheld = {tuple(c) for c in body.pop("withheld_cells")}
    rows = sorted(((row, status, sorted(j for i, j in withheld if i == n))
                   for n, (row, status) in enumerate(zip(body.pop("rows"),
                                                         body.pop("row_status")))),
                  key=lambda r: repr(([_coarse(v) for v in r[0]], r[1:])))
    return response.status_code, body, rows


def _coarse(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a: tuple[Any, ...], b: tuple[Any, ...], tolerance: float) -> bool:
    """The same answer, numbers up to the last digits of a parallel float sum (and, for an
    entry that rounds such a sum, a rounding either way: ``tolerance`` 1)."""
    if a[:2] != b[:2] or len(a[2]) != len(b[2]):
        return False
    for (row_a, *rest_a), (row_b, *rest_b) in zip(a[2], b[2]):
        if rest_a != rest_b or len(row_a) != len(row_b):
            return False
        for x, y in zip(row_a, row_b):
            if _number(x) and _number(y):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=tolerance):
                    return False
            elif x != y:
                return False
    return True


def _same_with_and_without(ask: Any, entries: list[Entry], spy: Spy,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    screened = [_body(ask(e.sql)) for e in entries]
    with monkeypatch.context() as m:
        m.setattr(pipeline, "screened", lambda *a: None)
        exact = [_body(ask(e.sql)) for e in entries]
    differ = [e.name for e, a, b in zip(entries, screened, exact)
              if not _same(a, b, 1.0 if "rounded" in e.meta else 1e-9)]
    assert not differ


def test_accept_corpus_answers_are_the_exact_ones(loaded: Harness, spy: Spy,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [e for e in load("accept.sql") if "{{" not in e.sql]
    _same_with_and_without(loaded.query, entries, spy, monkeypatch)
    # Both paths ran: screens kept (groups far above k) and screens that fell back (a
    # group near or below k: the canary data's 7-person channel, campaigns of ~100 people).
    print("screens kept", spy.kept, "fell back", spy.fell_back)
    assert spy.kept >= 5 and spy.fell_back >= 5


def test_published_corpus_answers_are_the_exact_ones(
        published: Published, spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    entries = [e for e in load("published.sql") if not e.get("refuse")]
    _same_with_and_without(
        lambda sql: published.harness.query(sql, party=ANALYST, collab=COLLAB),
        entries, spy, monkeypatch)
    print("screens kept", spy.kept, "fell back", spy.fell_back)
    assert spy.kept >= 5 and spy.fell_back >= 1


def test_a_group_of_exactly_k_people_is_released(fresh: Harness, spy: Spy) -> None:
    """Groups of 50 and 49 people (k = 50) fill fewer than 50 buckets: the exact query runs,
    and the 50-person group comes back with its number; far larger groups are screened."""
    from tests.canary import user_key

    lines = ["user_key,ts,channel,campaign,cost,ip_hash"]
    sizes = {"fifty": 50, "fortynine": 49, "big": 3000}
    person = 0
    for channel, size in sizes.items():
        for _ in range(size):
            lines.append(f"{user_key(person)},2026-09-01 00:00:00,{channel},c,1.5,x")
            person += 1
    response = fresh.upload("impressions", "\n".join(lines).encode(), party="streamco")
    assert response.status_code == 201, response.text
    sql = "SELECT channel, SUM(cost) AS spend FROM impressions GROUP BY channel ORDER BY channel"
    body = fresh.query(sql).json()
    assert body["rows"] == [["big", 4500.0], ["fifty", 75.0]]
    assert spy.fell_back == 1 and spy.kept == 0
    body = fresh.query(sql.replace("GROUP BY", "WHERE channel = 'big' GROUP BY")).json()
    assert body["rows"] == [["big", 4500.0]] and spy.kept == 1


def _rewritten(sql: str) -> exp.Select:
    """The exact rewrite of ``sql`` as a tree."""
    tree = sqlglot.parse_one(check_query(sql, CATALOG, min_users=50).sql, read="duckdb")
    assert isinstance(tree, exp.Select)
    return tree


@pytest.mark.parametrize("read", [
    # the outer SELECT reads a count as a number, in a subquery, or in the WHERE under AND
    ("outer", '"__cr_q"."__cr_n" + 1 AS "__cr_z"'),
    ("outer", '(SELECT "__cr_q"."__cr_n" * 2) AS "__cr_z"'),
    ("where", '"__cr_q"."__cr_n" < 50 AND TRUE'),
    # the inner SELECT reads its own count by its alias (DuckDB resolves it)
    ("inner", '"__cr_n" > 3'),
])
def test_no_screen_for_any_other_read_of_a_count(read: tuple[str, str]) -> None:
    where, text = read
    tree = _rewritten(SCREENED["rows_by_group"])
    assert screen_of(_rewritten(SCREENED["rows_by_group"]), 50) is not None
    node = sqlglot.parse_one(text, read="duckdb")
    if where == "outer":
        tree.set("expressions", [*tree.expressions[:-1], node, tree.expressions[-1]])
    elif where == "where":
        tree.set("where", exp.Where(this=node))
    else:
        inner = tree.args["from_"].this.this
        inner.set("having", exp.Having(this=node))
    assert screen_of(tree, 50) is None


# -- the stored bucket ------------------------------------------------------------------------
def _keyed_table(tmp_path: Any) -> Any:
    from cleanroom.engine import ColumnSpec, TableSpec

    path = tmp_path / "impressions.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT sha256(CAST(i % 300 AS VARCHAR)) AS user_key, "
        f"['a', 'b', 'c'][1 + i % 3] AS channel, (i % 7) * 1.0 AS cost FROM range(3000) r(i)) "
        f"TO '{path}' (FORMAT parquet)")
    return TableSpec("impressions", path, (
        ColumnSpec("user_key", "VARCHAR", user_key=True), ColumnSpec("channel", "VARCHAR"),
        ColumnSpec("cost", "DOUBLE", (0.0, 10.0))))


@pytest.mark.parametrize("copy", [True, False], ids=["native_copy", "parquet_file"])
def test_a_screen_counts_each_persons_stored_bucket(tmp_path: Any, copy: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen of a dataset's count reads its screen view's bucket, which is the
    surrogate's low 8 bits on every row (the native copy stores it; over the Parquet file the
    view computes it), and binds where the exact query runs, with the same answer."""
    from cleanroom.engine import Limits, sandbox
    from cleanroom.engine import duckdb as engine
    from cleanroom.engine.native import CACHE

    if not copy:
        monkeypatch.setattr(CACHE, "native", lambda *a, **kw: None)
    table = _keyed_table(tmp_path)
    catalog = Catalog.of({"impressions": {"user_key": K.UID, "channel": K.DIM, "cost": K.MET}})
    checked = check_query(SCREENED["sum_by_group"], catalog, min_users=50)
    assert checked.screen is not None and '"__cr_s_impressions"' in checked.screen
    assert '"impressions"."__cr_b"' in checked.screen and "user_key" not in checked.screen
    with sandbox([table], Limits(timeout_s=10.0)) as con:
        assert engine.SHAPES.names([table], checked.screen) is not None
        assert con.execute("SELECT COUNT(*), COUNT(*) FILTER (WHERE __cr_b IS DISTINCT FROM "
                           "CAST(user_key & 255 AS UTINYINT)) FROM __cr_s_impressions"
                           ).fetchall() == [(3000, 0)]
        screened = con.execute(checked.screen).fetchall()
        exact = con.execute(checked.sql).fetchall()
        buckets = dict(con.execute(
            "SELECT channel, COUNT(DISTINCT user_key & 63) FILTER (WHERE cost <> 0) "
            "FROM impressions GROUP BY channel").fetchall())
    # the released columns and flags are the exact query's (the people column is the bound)
    assert sorted(r[:-2] for r in screened) == sorted(r[:-1] for r in exact)
    assert {r[0]: r[-1] for r in screened} == buckets
    assert all(50 <= b <= 64 for b in buckets.values())  # 100 people a channel: kept
