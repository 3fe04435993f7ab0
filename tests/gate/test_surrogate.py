"""A user_key reaches the sandbox as its 124-bit surrogate (``engine/native.py``): the same type in
every view of a session (native copy, Parquet fallback, empty table), the same people and
joins as the 64-hex strings, and a value that is not 64 lower-case hex fails closed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from cleanroom.engine import USER_KEY_VIEW_TYPE, ColumnSpec, Limits, TableSpec, run, sandbox
from cleanroom.engine import native as native_module
from cleanroom.engine.native import NativeCache, native_path
from cleanroom.errors import QueryFailed
from cleanroom.gate import check_query
from cleanroom.planners.sql import catalog_for
from cleanroom.policy import parse_policy

LIMITS = Limits(timeout_s=10.0)
COLUMNS = (ColumnSpec("user_key", "VARCHAR", user_key=True), ColumnSpec("n", "BIGINT"))


def _key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _parquet(path: Path, keys: list[str]) -> Path:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (user_key VARCHAR, n BIGINT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(k, i) for i, k in enumerate(keys)])
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    return path


def _types(con: duckdb.DuckDBPyConnection, table: str) -> str:
    (found,) = con.execute(f"SELECT DISTINCT typeof(user_key) FROM {table}").fetchall()
    return str(found[0])


def test_every_view_of_a_session_exposes_the_surrogate(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    a = _parquet(tmp_path / "a.parquet", [_key(i) for i in range(30)])
    b = _parquet(tmp_path / "b.parquet", [_key(i) for i in range(20, 50)] * 2)
    real = native_module.CACHE.native

    def only_a(parquet: Path, *args: object, **kwargs: object) -> Path | None:
        return real(parquet, *args, **kwargs) if parquet == a else None  # type: ignore[arg-type]

    monkeypatch.setattr(native_module.CACHE, "native", only_a)
    tables = [TableSpec("a", a, COLUMNS), TableSpec("b", b, COLUMNS),
              TableSpec("e", tmp_path / "missing.parquet", COLUMNS)]
    with sandbox(tables, LIMITS) as con:
        attached = con.execute("SELECT COUNT(*) FROM duckdb_databases() "
                               "WHERE path IS NOT NULL").fetchone()
        assert attached == (1,)  # a from its native copy, b from its Parquet file
        assert {_types(con, "a"), _types(con, "b")} == {USER_KEY_VIEW_TYPE}
        assert con.execute("SELECT typeof(user_key) FROM e UNION ALL "
                           "SELECT typeof(CAST(NULL AS HUGEINT))").fetchall() == [
            (USER_KEY_VIEW_TYPE,)]
        joined = con.execute("SELECT COUNT(*), COUNT(DISTINCT a.user_key) FROM a "
                             "JOIN b ON a.user_key = b.user_key").fetchone()
    assert joined == (20, 10)  # keys 20..29: b holds each twice


def test_surrogates_count_join_and_order_as_the_hex_strings(tmp_path: Path) -> None:
    keys = [_key(i % 700) for i in range(2000)]
    other = [_key(i) for i in range(500, 1500)]
    tables = [TableSpec("a", _parquet(tmp_path / "a.parquet", keys), COLUMNS),
              TableSpec("b", _parquet(tmp_path / "b.parquet", other), COLUMNS)]
    raw = duckdb.connect()
    raw.execute("CREATE TABLE a (user_key VARCHAR, n BIGINT)")
    raw.executemany("INSERT INTO a VALUES (?, ?)", [(k, i) for i, k in enumerate(keys)])
    raw.execute("CREATE TABLE b (user_key VARCHAR, n BIGINT)")
    raw.executemany("INSERT INTO b VALUES (?, ?)", [(k, i) for i, k in enumerate(other)])
    queries = [
        "SELECT COUNT(DISTINCT user_key), COUNT(*) FROM a",
        "SELECT COUNT(*), COUNT(DISTINCT a.user_key), SUM(b.n) FROM a JOIN b USING (user_key)",
        # a window ordered by the key: the surrogate's order is the string's
        "SELECT list(n ORDER BY n) FROM (SELECT n, ROW_NUMBER() OVER (ORDER BY user_key, n) "
        "AS r FROM a) WHERE r <= 50",
    ]
    with sandbox(tables, LIMITS) as con:
        for sql in queries:
            assert con.execute(sql).fetchall() == raw.execute(sql).fetchall(), sql


@pytest.mark.parametrize("bad", ["k1", _key(1).upper(), _key(2)[:63], _key(3) + "0",
                                 "g" + _key(4)[1:]])
def test_a_value_that_is_not_a_user_key_fails_closed(tmp_path: Path, bad: str) -> None:
    path = _parquet(tmp_path / "v.parquet", [_key(0), bad])
    cache = NativeCache()
    assert cache.native(path, ("user_key", "n"), key="user_key", memory_limit="1GB",
                        threads=1) is None  # no copy: the sandbox reads the Parquet file
    with sandbox([TableSpec("t", path, COLUMNS)], LIMITS) as con:
        with pytest.raises(QueryFailed) as failed:
            run(con, "SELECT COUNT(DISTINCT user_key) FROM t", LIMITS)
    assert bad not in str(failed.value) and bad not in repr(failed.value.violations)


def test_the_surrogate_copy_is_its_own_file(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "v.parquet", [_key(0)])
    assert native_path(path, ("user_key", "n"), "user_key") != native_path(path, ("user_key", "n"))
    built = NativeCache().native(path, ("user_key", "n"), key="user_key", memory_limit="1GB",
                                 threads=1)
    assert built == native_path(path, ("user_key", "n"), "user_key")
    stored = duckdb.connect(str(built), read_only=True).execute(
        "SELECT typeof(user_key), user_key = CAST('0x' || left(?, 31) AS HUGEINT) FROM data",
        [_key(0)]).fetchall()
    assert stored == [(USER_KEY_VIEW_TYPE, True)]
    assert _key(0).encode() not in built.read_bytes()  # the string itself is not stored


POLICY = """
collaboration: c
parties: [{name: p, roles: [analyst, provider]}]
datasets:
  a: {provider: p, columns: {user_key: {kind: user_key}, ts: {kind: dimension, type: TIMESTAMP}}}
  b: {provider: p, columns: {user_key: {kind: user_key}, ts: {kind: dimension, type: TIMESTAMP}}}
query_rules: {min_users_per_row: 5}
"""


def test_the_gate_types_a_user_key_as_its_surrogate() -> None:
    catalog = catalog_for(parse_policy(POLICY, source="test"))
    assert catalog.types["a"]["user_key"] == USER_KEY_VIEW_TYPE
    sql = check_query("SELECT COUNT(*) AS n FROM a JOIN b ON a.user_key = b.user_key "
                      "AND a.ts <= b.ts", catalog, min_users=5).sql
    assert "ON a.user_key = b.user_key AND a.ts <= b.ts" in sql  # no TRY: one type each side
    assert "TRY_CAST" not in sql and "VARCHAR" not in sql
