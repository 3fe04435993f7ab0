"""Sandboxes kept between sessions (``engine/duckdb.Sandboxes``): a database is reused only by
the next session over the same versions and limits, one session at a time, never after an
error, and never once a file it reads is gone; what a session leaves in its connection goes
with it."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from cleanroom.engine import ColumnSpec, Limits, TableSpec, sandbox
from cleanroom.engine.duckdb import Sandboxes

LIMITS = Limits(timeout_s=10.0)
COLUMNS = (ColumnSpec("user_key", "VARCHAR"), ColumnSpec("cost", "DOUBLE", (0.0, 10.0)))


def _table(tmp_path: Path, name: str = "v1.parquet", rows: int = 10) -> TableSpec:
    path = tmp_path / name
    duckdb.connect().execute(f"COPY (SELECT 'k' || i AS user_key, i * 1.0 AS cost FROM range({rows}) "
                             f"t(i)) TO '{path}' (FORMAT parquet)")
    return TableSpec("t", path, COLUMNS)


def _database_id(con: duckdb.DuckDBPyConnection) -> str:
    """The attached copy's unguessable name: one per database built."""
    (name,) = con.execute("SELECT database_name FROM duckdb_databases() "
                          "WHERE database_name LIKE '__cr_src_%'").fetchone() or (None,)
    return str(name)


def test_the_next_session_over_the_same_versions_reuses_the_database(tmp_path: Path) -> None:
    table = _table(tmp_path)
    with sandbox([table], LIMITS) as con:
        first = _database_id(con)
    with sandbox([table], LIMITS) as con:
        assert _database_id(con) == first
        assert con.execute("SELECT COUNT(*) FROM t").fetchall() == [(10,)]
    with sandbox([table], Limits(timeout_s=11.0)) as con:  # other limits: another database
        assert _database_id(con) != first


def test_another_version_gets_another_database(tmp_path: Path) -> None:
    with sandbox([_table(tmp_path)], LIMITS) as con:
        first = _database_id(con)
    with sandbox([_table(tmp_path, "v2.parquet", rows=20)], LIMITS) as con:
        assert _database_id(con) != first
        assert con.execute("SELECT COUNT(*) FROM t").fetchall() == [(20,)]


def test_a_session_that_failed_does_not_give_its_database_back(tmp_path: Path) -> None:
    table = _table(tmp_path)
    with pytest.raises(RuntimeError):
        with sandbox([table], LIMITS) as con:
            first = _database_id(con)
            raise RuntimeError
    with sandbox([table], LIMITS) as con:
        assert _database_id(con) != first


def test_what_a_session_leaves_in_its_connection_goes_with_it(tmp_path: Path) -> None:
    table = _table(tmp_path)
    with sandbox([table], LIMITS) as con:
        first = _database_id(con)
        con.execute("CREATE TEMP TABLE left_behind AS SELECT 1 AS x")
    with sandbox([table], LIMITS) as con:
        assert _database_id(con) == first
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM left_behind")


def test_two_sessions_at_once_hold_two_databases(tmp_path: Path) -> None:
    table = _table(tmp_path)
    inside, release = threading.Barrier(2), threading.Event()
    seen: list[str] = []

    def session() -> None:
        with sandbox([table], LIMITS) as con:
            seen.append(_database_id(con))
            inside.wait(timeout=10)
            release.wait(timeout=10)

    workers = [threading.Thread(target=session) for _ in range(2)]
    for w in workers:
        w.start()
    release.set()
    for w in workers:
        w.join(timeout=20)
    assert len(seen) == 2 and seen[0] != seen[1]


def test_a_database_over_a_removed_file_is_closed_not_reused(tmp_path: Path) -> None:
    pool = Sandboxes()
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    gone.write_bytes(b"x")
    kept.write_bytes(b"x")
    stale, live = duckdb.connect(), duckdb.connect()
    pool.give(("a", None, (("t", (str(gone), 1, 1)),)), stale)
    pool.give(("b", None, (("t", (str(kept), 1, 1)),)), live)
    gone.unlink()
    assert pool.take(("b", None, (("t", (str(kept), 1, 1)),))) is live
    with pytest.raises(duckdb.ConnectionException):
        stale.execute("SELECT 1")  # closed when the pool next looked
    assert pool.take(("a", None, (("t", (str(gone), 1, 1)),))) is None


def test_the_pool_keeps_at_most_its_limits(tmp_path: Path) -> None:
    pool = Sandboxes()
    given = [duckdb.connect() for _ in range(Sandboxes.LIMIT + Sandboxes.PER_KEY + 1)]
    keys = [(f"k{i // Sandboxes.PER_KEY}", None, ()) for i in range(len(given))]
    for key, con in zip(keys, given):
        pool.give(key, con)
    open_ = [con for con in given if _is_open(con)]
    assert len(open_) == Sandboxes.LIMIT
    assert open_ == given[-Sandboxes.LIMIT:]  # the least recently given back were closed
    pool.close()
    assert not any(_is_open(con) for con in given)


def _is_open(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        con.execute("SELECT 1")
        return True
    except duckdb.ConnectionException:
        return False
