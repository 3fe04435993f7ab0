"""SQLite connections kept between blocks (``cleanroom/connections.py``): reused one block at a
time, never after an error or with a transaction left open, so the next block never inherits
another's lock or half-done work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cleanroom.connections import Connections


def test_a_block_reuses_the_connection_the_last_one_gave_back(tmp_path: Path) -> None:
    pool = Connections(tmp_path / "m.sqlite")
    with pool.connect() as first:
        pass
    with pool.connect() as second:
        assert second is first


def test_nested_blocks_hold_different_connections(tmp_path: Path) -> None:
    pool = Connections(tmp_path / "m.sqlite")
    with pool.connect() as outer:
        outer.execute("CREATE TABLE t (x)")
        outer.execute("BEGIN IMMEDIATE")
        with pool.connect() as inner:
            assert inner is not outer
            # the outer block's write lock is another connection's: the inner one waits, and
            # with no busy timeout left it fails rather than writing inside that transaction
            inner.execute("PRAGMA busy_timeout = 0")
            with pytest.raises(sqlite3.OperationalError):
                inner.execute("INSERT INTO t VALUES (1)")
        outer.execute("ROLLBACK")


def test_a_connection_left_in_a_transaction_is_closed(tmp_path: Path) -> None:
    pool = Connections(tmp_path / "m.sqlite")
    with pool.connect() as con:
        con.execute("BEGIN")
    with pytest.raises(sqlite3.ProgrammingError):
        con.execute("SELECT 1")
    with pool.connect() as other:
        assert other is not con and not other.in_transaction


def test_a_connection_whose_block_failed_is_closed(tmp_path: Path) -> None:
    pool = Connections(tmp_path / "m.sqlite")
    with pytest.raises(KeyError):
        with pool.connect() as con:
            raise KeyError
    with pytest.raises(sqlite3.ProgrammingError):
        con.execute("SELECT 1")


def test_setup_runs_on_each_new_connection(tmp_path: Path) -> None:
    pool = Connections(tmp_path / "m.sqlite", setup=("PRAGMA synchronous=FULL",))
    with pool.connect() as con:
        assert con.execute("PRAGMA synchronous").fetchone() == (2,)


def test_at_most_keep_connections_are_kept(tmp_path: Path) -> None:
    pool = Connections(tmp_path / "m.sqlite")
    blocks = [pool.connect() for _ in range(Connections.KEEP + 2)]
    held = [b.__enter__() for b in blocks]
    for b in blocks:
        b.__exit__(None, None, None)
    closed = 0
    for con in held:
        try:
            con.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            closed += 1
    assert closed == 2
